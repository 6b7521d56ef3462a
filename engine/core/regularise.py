"""L1 / L2 regularisation as TensorFlow Playground has it: a penalty on the weights added to the loss.

    L1: rate x sum |w|        L2: rate x sum w² / 2

over the weight matrices (and conv kernels) only, never the biases (nor a norm layer's scales): in
TF Playground only the links between neurons are penalised, and its L2 is w²/2, whose gradient is
rate x w, so a rate means the same pull toward zero there and here (the same as SGD's weight_decay).

The Trainer wraps the objective's phases (engine.core.step.Phase) with `Regulariser.add`: each phase's
loss gains the penalty of ITS OWN optimiser's weights, so a GAN's discriminator phase penalises the
discriminator and its generator phase the generator, each step moving only its own weights toward 0.
The stat "loss" stays the data loss (what TF Playground plots as training loss, comparable between
runs with and without a penalty); the penalty term is its own stat, "reg_loss" (the sum of the latest
term of each optimiser), so each epoch records train_reg_loss beside train_loss.
"""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence

import torch

from engine.core.step import Phase

REGULARIZATIONS = ("none", "L1", "L2")


def weight_matrices(params: Iterable[torch.Tensor]) -> list[torch.Tensor]:
    """The weights a penalty applies to: tensors of two or more dimensions (Linear weights, conv
    kernels, embeddings); biases and normalisation scales are vectors and are left alone."""
    return [p for p in params if p.ndim >= 2]


def penalty(weights: Sequence[torch.Tensor], kind: str) -> torch.Tensor:
    """sum |w| (L1) or sum w² / 2 (L2) over the weights, a 0-dim tensor (0 for no weights)."""
    if kind not in ("L1", "L2"):
        raise ValueError(f"regularization must be L1 or L2, not {kind!r}")
    if not weights:
        return torch.zeros(())
    terms = [w.abs().sum() if kind == "L1" else w.square().sum() for w in weights]
    total = torch.stack(terms).sum()
    return total if kind == "L1" else total / 2


class Regulariser:
    """Adds rate x penalty of each phase's own optimiser's weight matrices to the phase's loss."""

    def __init__(self, kind: str, rate: float, optimizers: Sequence[torch.optim.Optimizer]):
        if kind not in ("L1", "L2"):
            raise ValueError(f"regularization must be L1 or L2, not {kind!r}")
        self.kind, self.rate = kind, float(rate)
        self.weights = [weight_matrices(p for group in opt.param_groups for p in group["params"] if p.requires_grad)
                        for opt in optimizers]

    @classmethod
    def for_run(cls, training: dict, optimizers: Sequence[torch.optim.Optimizer]) -> "Regulariser | None":
        """The run's regulariser, or None when its training settings ask for none."""
        kind = training.get("regularization", "none")
        if kind == "none":
            return None
        return cls(kind, training["reg_rate"], optimizers)

    def add(self, phases: Iterable[Phase]) -> Iterator[Phase]:
        """The phases with the penalty added to each loss and "reg_loss" among the stats. Lazily:
        each penalty is computed when its phase is, after the phase before it has stepped."""
        latest: dict[int, torch.Tensor] = {}  # each optimiser's latest term
        for phase in phases:
            weights = self.weights[phase.optimizer]
            # An optimiser with no weight matrices adds a zero on the loss's own device.
            term = self.rate * penalty(weights, self.kind) if weights else phase.loss.detach().new_zeros(())
            latest[phase.optimizer] = term.detach()
            yield Phase(phase.optimizer, phase.loss + term,
                        {**phase.stats, "reg_loss": torch.stack(list(latest.values())).sum()})
