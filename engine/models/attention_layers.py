"""Attention layers of the sequence models.

`MultiHeadAttention` is written out (not nn.MultiheadAttention) because that module averages the
heads, or returns no weights at all on its fused fast path; a playground needs every head. Each
attention module keeps the weights of its last forward pass in `last_attn` (batch, heads, query,
key), detached, so a view can read them after any forward pass.
"""
from __future__ import annotations

import math

import torch
from torch import nn

NEG_INF = -1e9  # masked scores: exp(-1e9 - max) is exactly 0 in float32, so masked weights are 0


def sinusoidal_positions(length: int, d_model: int) -> torch.Tensor:
    """PE[pos, 2i] = sin(pos / 10000^(2i/d)), PE[pos, 2i+1] = cos(...): (length, d_model)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(position * rate)
    pe[:, 1::2] = torch.cos(position * rate[: d_model // 2])
    return pe


class MultiHeadAttention(nn.Module):
    """h heads of scaled dot-product attention, d_k = d_model / h; keeps `last_attn`."""

    def __init__(self, d_model: int, heads: int, dropout: float = 0.0):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"{heads} heads do not divide d_model {d_model}")
        self.heads, self.d_k = heads, d_model // heads
        self.q = nn.Linear(d_model, d_model)
        self.k = nn.Linear(d_model, d_model)
        self.v = nn.Linear(d_model, d_model)
        self.out = nn.Linear(d_model, d_model)
        self.dropout = nn.Dropout(dropout)
        self.last_attn: torch.Tensor | None = None

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        return x.view(b, t, self.heads, self.d_k).transpose(1, 2)  # (b, h, t, d_k)

    def forward(self, query, key, value, mask: torch.Tensor | None = None) -> torch.Tensor:
        """mask: bool (b, 1 or t_q, t_k), True = may attend."""
        q, k, v = self._split(self.q(query)), self._split(self.k(key)), self._split(self.v(value))
        scores = (q @ k.transpose(-2, -1) / math.sqrt(self.d_k)).float()  # fp32: NEG_INF fits (not in fp16)
        if mask is not None:
            scores = scores.masked_fill(~mask[:, None], NEG_INF)
        weights = torch.softmax(scores, dim=-1)
        self.last_attn = weights.detach()
        context = self.dropout(weights).to(v.dtype) @ v
        b, _, t, _ = context.shape
        return self.out(context.transpose(1, 2).reshape(b, t, self.heads * self.d_k))
