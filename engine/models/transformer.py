"""Encoder-decoder Transformer for the sequence tasks, small enough to train on a CPU.

As in "Attention is all you need", with the pre-norm residual (x + dropout(sublayer(norm(x))))
that trains without warm-up at playground sizes: sinusoidal positions, embeddings scaled by
sqrt(d_model), Xavier init, ReLU feed-forward. Every attention module keeps its last weights.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from engine.models.attention_layers import MultiHeadAttention, sinusoidal_positions
from engine.data.sequences import BOS, PAD, decoder_input
from engine.core.registry import Capabilities, ModelSpec, Param, Shape, register

MAX_POSITIONS = 256


class FeedForward(nn.Sequential):
    def __init__(self, d_model: int, d_ff: int, dropout: float):
        super().__init__(nn.Linear(d_model, d_ff), nn.ReLU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))


class EncoderLayer(nn.Module):
    def __init__(self, d_model, heads, d_ff, dropout):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(d_model, heads, dropout)
        self.ffn = FeedForward(d_model, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x, mask):
        h = self.norm1(x)
        x = x + self.drop(self.self_attn(h, h, h, mask))
        return x + self.drop(self.ffn(self.norm2(x)))


class DecoderLayer(nn.Module):
    def __init__(self, d_model, heads, d_ff, dropout):
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d_model), nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.self_attn = MultiHeadAttention(d_model, heads, dropout)
        self.cross_attn = MultiHeadAttention(d_model, heads, dropout)
        self.ffn = FeedForward(d_model, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, y, memory, self_mask, memory_mask):
        h = self.norm1(y)
        y = y + self.drop(self.self_attn(h, h, h, self_mask))
        y = y + self.drop(self.cross_attn(self.norm2(y), memory, memory, memory_mask))
        return y + self.drop(self.ffn(self.norm3(y)))


class Transformer(nn.Module):
    def __init__(self, vocab_size: int, d_model: int = 64, heads: int = 4, d_ff: int = 128,
                 layers: int = 2, dropout: float = 0.1):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab_size, d_model, padding_idx=PAD)
        self.register_buffer("positions", sinusoidal_positions(MAX_POSITIONS, d_model), persistent=False)
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.ModuleList(EncoderLayer(d_model, heads, d_ff, dropout) for _ in range(layers))
        self.decoder = nn.ModuleList(DecoderLayer(d_model, heads, d_ff, dropout) for _ in range(layers))
        self.enc_norm, self.dec_norm = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)

    def _embed(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.shape[1] > MAX_POSITIONS:
            raise ValueError(f"sequences longer than {MAX_POSITIONS} tokens are not supported")
        return self.drop(self.embed(ids) * math.sqrt(self.d_model) + self.positions[:ids.shape[1]])

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        src = src.long()
        src_mask = (src != PAD)[:, None, :]  # (b, 1, t_src): keys that are real tokens
        x = self._embed(src)
        for layer in self.encoder:
            x = layer(x, src_mask)
        return self.enc_norm(x), src_mask

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:
        t = tgt_in.shape[1]
        causal = torch.tril(torch.ones(t, t, dtype=torch.bool, device=tgt_in.device))[None]
        self_mask = causal & (tgt_in != PAD)[:, None, :]
        self_mask[:, :, 0] = True  # BOS is never padding; keeps every row with a key to attend to
        y = self._embed(tgt_in)
        for layer in self.decoder:
            y = layer(y, memory, self_mask, src_mask)
        return self.head(self.dec_norm(y))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (b, t_out, vocab): teacher-forced with `tgt_in`, else greedy for len(src) + 1 steps."""
        memory, src_mask = self.encode(src)
        if tgt_in is None:
            return self._greedy(memory, src_mask, src.shape[1] + 1)[1]
        return self.decode(tgt_in.long(), memory, src_mask)

    def _greedy(self, memory, src_mask, steps: int):
        ids = torch.full((memory.shape[0], 1), BOS, dtype=torch.long, device=memory.device)
        logits = None
        for _ in range(steps):
            logits = self.decode(ids, memory, src_mask)
            ids = torch.cat([ids, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
        return ids[:, 1:], logits

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, steps: int) -> torch.Tensor:
        memory, src_mask = self.encode(src)
        return self._greedy(memory, src_mask, steps)[0]

    @torch.no_grad()
    def generate_with_attention(self, src: torch.Tensor, steps: int):
        """Greedy output ids (b, steps) and the attention of the pass that produced the last token:
        {kind: (layers, heads, q, k)} for the first example of the batch."""
        memory, src_mask = self.encode(src)
        ids, _ = self._greedy(memory, src_mask, steps)
        maps = {"encoder_self": _stack(layer.self_attn for layer in self.encoder)}
        # The causal mask makes the last full pass's weights row-by-row equal to each step's.
        self.decode(decoder_input(ids), memory, src_mask)
        maps["decoder_self"] = _stack(layer.self_attn for layer in self.decoder)
        maps["cross"] = _stack(layer.cross_attn for layer in self.decoder)
        return ids, maps


def _stack(modules) -> np.ndarray:
    return np.stack([m.last_attn[0].float().cpu().numpy() for m in modules])


def check(p: dict, shape: Shape) -> list[str]:
    problems = []
    if p["d_model"] % p["heads"]:
        divisors = [h for h in range(1, min(p["d_model"], 16) + 1) if p["d_model"] % h == 0]
        problems.append(f"{p['heads']} heads do not divide d_model {p['d_model']}: each head gets d_model / heads "
                        f"dimensions. Use {', '.join(map(str, divisors))} heads, or a d_model that is a multiple "
                        f"of {p['heads']}")
    if p["d_model"] % 2:
        problems.append(f"d_model must be even for the sinusoidal positions (sin and cos pairs); got {p['d_model']}")
    return problems


def build(p: dict, shape: Shape) -> nn.Module:
    return Transformer(shape.num_classes, p["d_model"], p["heads"], p["d_ff"], p["layers"], p["dropout"])


SPEC = register(ModelSpec(
    name="transformer",
    title="Transformer (encoder-decoder)",
    description="Self-attention encoder and decoder with cross-attention, sinusoidal positions, pre-norm; "
                "trained with teacher forcing, decoded greedily. Every head's attention can be watched.",
    capabilities=Capabilities(inputs=("sequence",), attention_maps=True),
    params=(
        Param("layers", "int", 2, "encoder layers (and as many decoder layers)", low=1, high=6),
        Param("d_model", "int", 64, "width of every token's vector", low=8, high=512, log=True),
        Param("heads", "int", 4, "attention heads per layer (must divide d_model)", low=1, high=16),
        Param("d_ff", "int", 128, "hidden width of the position-wise feed-forward layer", low=8, high=2048, log=True),
        Param("dropout", "float", 0.0, "dropout on attention weights, sublayer outputs and embeddings",
              low=0.0, high=0.5),
    ),
    build=build,
    check=check,
    objective="seq2seq",
))
