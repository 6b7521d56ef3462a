"""GRU encoder-decoder with attention: Luong (dot / general) or Bahdanau (additive).

Luong: the decoder GRU steps first, then scores its new state h_t against every encoder state
(dot: h_t . h_s; general: h_t W h_s), and predicts from tanh(W_c [h_t; c_t]). Bahdanau: scores the
previous decoder state, v^T tanh(W_q s_{t-1} + W_k h_s), and feeds the context into the GRU with
the embedded token. The decoder keeps its attention weights of the last pass in `last_attn`
(batch, out_len, in_len): the alignment matrix.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.models.attention_layers import NEG_INF
from engine.data.sequences import BOS, PAD
from engine.core.registry import Capabilities, ModelSpec, Param, Shape, register

SCORES = ("general", "dot", "additive")


class Seq2SeqAttention(nn.Module):
    def __init__(self, vocab_size: int, hidden: int = 128, embed: int = 32, score: str = "general",
                 dropout: float = 0.0):
        super().__init__()
        self.score_kind = score
        self.embed = nn.Embedding(vocab_size, embed, padding_idx=PAD)
        self.encoder = nn.GRU(embed, hidden, batch_first=True)
        self.drop = nn.Dropout(dropout)
        if score == "additive":
            self.w_query = nn.Linear(hidden, hidden, bias=False)
            self.w_key = nn.Linear(hidden, hidden)
            self.v = nn.Linear(hidden, 1, bias=False)
            self.cell = nn.GRUCell(embed + hidden, hidden)
            self.out = nn.Linear(2 * hidden + embed, vocab_size)
        else:
            self.w_general = nn.Linear(hidden, hidden, bias=False) if score == "general" else None
            self.cell = nn.GRUCell(embed, hidden)
            self.combine = nn.Linear(2 * hidden, hidden)
            self.out = nn.Linear(hidden, vocab_size)
        self.last_attn: torch.Tensor | None = None

    def encode(self, src: torch.Tensor):
        src = src.long()
        states, last = self.encoder(self.drop(self.embed(src)))
        return states, last[0], src != PAD

    def _attend(self, query, states, keys, mask):
        if self.score_kind == "additive":
            scores = self.v(torch.tanh(self.w_query(query)[:, None] + keys)).squeeze(-1)
        else:
            scores = (keys @ query[:, :, None]).squeeze(-1)
        scores = scores.float().masked_fill(~mask, NEG_INF)  # fp32: NEG_INF fits (not in fp16)
        weights = torch.softmax(scores, dim=-1).to(states.dtype)
        return (weights[:, None] @ states).squeeze(1), weights

    def _keys(self, states):
        if self.score_kind == "additive":
            return self.w_key(states)
        return self.w_general(states) if self.w_general is not None else states

    def step(self, token, hidden, states, keys, mask):
        """One decoder step: (logits, new hidden, attention weights over the source)."""
        emb = self.drop(self.embed(token))
        if self.score_kind == "additive":
            context, weights = self._attend(hidden, states, keys, mask)
            hidden = self.cell(torch.cat([emb, context], -1), hidden)
            logits = self.out(torch.cat([hidden, context, emb], -1))
        else:
            hidden = self.cell(emb, hidden)
            context, weights = self._attend(hidden, states, keys, mask)
            logits = self.out(self.drop(torch.tanh(self.combine(torch.cat([hidden, context], -1)))))
        return logits, hidden, weights

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor | None = None) -> torch.Tensor:
        """Logits (b, t_out, vocab): teacher-forced with `tgt_in`, else greedy for len(src) + 1 steps."""
        if tgt_in is None:
            return self._run(src, None, src.shape[1] + 1)[1]
        return self._run(src, tgt_in.long(), tgt_in.shape[1])[1]

    def _run(self, src, tgt_in, steps):
        states, hidden, mask = self.encode(src)
        keys = self._keys(states)
        token = torch.full((src.shape[0],), BOS, dtype=torch.long, device=src.device)
        all_logits, all_weights, ids = [], [], []
        for t in range(steps):
            logits, hidden, weights = self.step(token, hidden, states, keys, mask)
            all_logits.append(logits)
            all_weights.append(weights)
            predicted = logits.argmax(-1)
            ids.append(predicted)
            token = tgt_in[:, t + 1] if tgt_in is not None and t + 1 < steps else predicted
        self.last_attn = torch.stack(all_weights, 1).detach()
        return torch.stack(ids, 1), torch.stack(all_logits, 1)

    @torch.no_grad()
    def greedy(self, src: torch.Tensor, steps: int) -> torch.Tensor:
        return self._run(src, None, steps)[0]

    @torch.no_grad()
    def generate_with_attention(self, src: torch.Tensor, steps: int):
        ids, _ = self._run(src, None, steps)
        return ids, {"cross": self.last_attn[0].float().cpu().numpy()[None, None]}


def build(p: dict, shape: Shape) -> nn.Module:
    return Seq2SeqAttention(shape.num_classes, p["hidden"], p["embed"], p["score"], p["dropout"])


SPEC = register(ModelSpec(
    name="seq2seq",
    title="GRU seq2seq with attention",
    description="GRU encoder and decoder; the decoder attends over the encoder states with a Luong (dot, "
                "general) or Bahdanau (additive) score. The attention that came before the transformer.",
    capabilities=Capabilities(inputs=("sequence",), attention_maps=True),
    params=(
        Param("hidden", "int", 128, "GRU state size", low=8, high=1024, log=True),
        Param("embed", "int", 32, "token embedding size", low=4, high=512, log=True),
        Param("score", "choice", "general", "attention score: Luong dot / general (h W h_s) or Bahdanau additive",
              choices=SCORES),
        Param("dropout", "float", 0.0, "dropout on embeddings and the attentional state", low=0.0, high=0.5),
    ),
    build=build,
    objective="seq2seq",
))
