"""One optimiser step for every model family: zero_grad, backward, clip, step, in one place.

An objective (engine/objectives) says what to minimise as a sequence of phases, each a loss and
the optimiser that minimises it; it never steps an optimiser itself. A classifier has one phase
per batch; a GAN has `d_steps` discriminator phases and then one generator phase, each computed
after the one before has stepped (the phases come from a generator, so G's loss sees the updated D).
The Stepper takes them in order and, for each: runs the phase's forward under the precision's
autocast, backpropagates its loss (through a GradScaler in fp16), and every `accumulate` phases of
an optimiser unscales, clips to `clip_norm` and steps it, then calls `after_step(i)` (the
objective's Objective.after_step: a WGAN's critic weight clipping happens there, after every step
that really updates the critic, never inside the objective's losses). The Trainer (engine/core/trainer.py) and
the hand-stepped GAN (engine/latent/gan_session.py) both step through it.

No host syncs: the stats stay on the device (a GradScaler's own inf check is the one exception).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch

from engine.core.device import FP32, Precision


@dataclass
class Phase:
    """One loss to minimise, with the optimiser that minimises it (an index into the objective's
    optimizers()) and the stats to record (0-dim tensors; the Stepper detaches them)."""
    optimizer: int
    loss: torch.Tensor
    stats: dict[str, torch.Tensor] = field(default_factory=dict)


class Stepper:
    """Backward, clip and step for a sequence of phases; one per run (it keeps the GradScalers and
    the accumulation counts between steps)."""

    def __init__(self, optimizers: Sequence[torch.optim.Optimizer], precision: Precision = FP32,
                 clip_norm: float = 0.0, accumulate: int = 1, after_step: Callable[[int], None] | None = None):
        if accumulate < 1:
            raise ValueError(f"accumulate must be at least 1, not {accumulate}")
        self.optimizers = list(optimizers)
        self.precision = precision
        self.clip_norm = float(clip_norm)
        self.accumulate = int(accumulate)
        self.after_step = after_step  # called with the optimiser's index after each of its steps
        # One scaler per optimiser: a GAN's D and G losses differ by orders of magnitude, and each
        # scale must stay put while its optimiser accumulates.
        self.scalers = [precision.grad_scaler() for _ in self.optimizers]
        self.params = [[p for group in opt.param_groups for p in group["params"] if p.requires_grad]
                       for opt in self.optimizers]
        # With several optimisers a phase's backward fills only its own optimiser's parameters:
        # G's loss runs through D, and must not leave gradients on D's weights.
        self.inputs = self.params if len(self.optimizers) > 1 else [None] * len(self.optimizers)
        self.pending = [0] * len(self.optimizers)  # backward passes since each optimiser last stepped

    def step(self, phases: Iterable[Phase]) -> dict[str, torch.Tensor]:
        """Run the phases in order (each one's forward when the one before has stepped); returns
        their stats merged, detached (a later phase's stat of the same name wins)."""
        stats: dict[str, torch.Tensor] = {}
        phases = iter(phases)
        while True:
            with self.precision.autocast():
                phase = next(phases, None)
            if phase is None:
                return stats
            self.backward(phase)
            stats.update((name, value.detach()) for name, value in phase.stats.items())

    def backward(self, phase: Phase) -> None:
        i = phase.optimizer
        optimizer, scaler = self.optimizers[i], self.scalers[i]
        if self.pending[i] == 0:
            # Zeroed when a window starts, not after the step: the Trainer reads the last step's
            # gradients at the end of each epoch (the per-layer gradient norms).
            optimizer.zero_grad(set_to_none=True)
        loss = phase.loss / self.accumulate if self.accumulate > 1 else phase.loss
        (scaler.scale(loss) if scaler else loss).backward(inputs=self.inputs[i])
        self.pending[i] += 1
        if self.pending[i] < self.accumulate:
            return
        self.pending[i] = 0
        if scaler:
            scaler.unscale_(optimizer)  # the true gradients: to clip, and for the per-layer norms
        if self.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.params[i], self.clip_norm)
        if scaler:
            scaler.step(optimizer)  # skipped when the fp16 gradients overflowed
            scaler.update()
        else:
            optimizer.step()
        if self.after_step is not None:
            self.after_step(i)
