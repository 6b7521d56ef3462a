"""Objectives of the sequence models, for the shared Trainer.

Seq2seq (transformer, GRU with attention): teacher forcing, cross-entropy over the target tokens
with padding ignored; evaluated by greedy decoding, a sequence counting as right only when every
token up to and including EOS is (exact match). Counting (LSTM/GRU/RNN on count_ones): MSE on the
count, accuracy of the rounded output.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.data.sequences import PAD, decoder_input
from engine.core.device import autocast
from engine.core.modules import eval_mode
from engine.objectives.base import Objective

# Recurrent and attention models on toy tasks spike early; clipping keeps them on track. The
# Trainer applies it when the run's clip_norm is 0 (its default).
CLIP_NORM = 1.0


def exact_match(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per sequence: True where every non-padding target token was predicted. (B,) bool."""
    steps = min(predicted.shape[1], target.shape[1])
    right = (predicted[:, :steps] == target[:, :steps]) | (target[:, :steps] == PAD)
    covered = (target[:, steps:] == PAD).all(1) if target.shape[1] > steps else torch.ones_like(right[:, 0])
    return right.all(1) & covered


def val_batches(data, device, batch_size: int):
    """The validation split in batches, on `device`: (xb, yb) pairs."""
    for start in range(0, len(data.x_val), batch_size):
        yield data.x_val[start:start + batch_size].to(device), data.y_val[start:start + batch_size].to(device)


class Seq2SeqObjective(Objective):
    name = "seq2seq"
    clip_norm = CLIP_NORM

    def loss(self, model, xb, yb):
        logits = model(xb, decoder_input(yb))
        loss = nn.functional.cross_entropy(logits.float().flatten(0, 1), yb.flatten(), ignore_index=PAD)
        real = yb != PAD
        token_acc = ((logits.detach().argmax(-1) == yb) & real).sum() / real.sum().clamp(min=1)
        return loss, {"token_acc": token_acc}

    def evaluate(self, model, data, device, batch_size: int = 1000) -> dict[str, float]:
        with eval_mode(model):
            loss_sum = torch.zeros((), device=device)
            tokens = torch.zeros((), device=device)
            right_tokens = torch.zeros((), device=device)
            exact = torch.zeros((), device=device)
            for xb, yb in val_batches(data, device, batch_size):
                with autocast(device):
                    logits = model(xb, decoder_input(yb))
                    predicted = model.greedy(xb, yb.shape[1])
                loss_sum += nn.functional.cross_entropy(logits.float().flatten(0, 1), yb.flatten(),
                                                        ignore_index=PAD, reduction="sum")
                real = yb != PAD
                tokens += real.sum()
                right_tokens += ((predicted == yb) & real).sum()
                exact += exact_match(predicted, yb).sum()
        n = max(len(data.x_val), 1)
        return {"val_loss": (loss_sum / tokens.clamp(min=1)).item(),
                "val_token_acc": (right_tokens / tokens.clamp(min=1)).item(),
                "val_exact_match": exact.item() / n}


class CountingObjective(Objective):
    """Regression of a count: MSE; accuracy = the rounded output equals the count."""
    name = "counting"
    clip_norm = 0.0  # no clipping unless a run asks: the plain-RNN demo is about what unclipped gradients do

    def loss(self, model, xb, yb):
        out = model(xb)
        loss = nn.functional.mse_loss(out.float(), yb)
        return loss, {"acc": (out.detach().round() == yb).float().mean()}

    def evaluate(self, model, data, device, batch_size: int = 2000) -> dict[str, float]:
        with eval_mode(model):
            loss_sum = torch.zeros((), device=device)
            right = torch.zeros((), device=device)
            for xb, yb in val_batches(data, device, batch_size):
                out = model(xb).float()
                loss_sum += nn.functional.mse_loss(out, yb, reduction="sum")
                right += (out.round() == yb).sum()
        n = max(len(data.x_val), 1)
        return {"val_loss": loss_sum.item() / n, "val_acc": right.item() / n}


SEQ2SEQ = Seq2SeqObjective()
COUNTING = CountingObjective()
