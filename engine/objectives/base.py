"""Objectives: how a family of models learns, so one Trainer drives classifiers, VAEs, GANs and
sequence models alike.

The Trainer owns the loop (batches, stop/pause, buffered step losses, divergence, checkpoints,
metrics) and, through engine.core.step.Stepper, every zero_grad/backward/clip/step. An Objective
says what one step minimises and what an epoch is judged by; it never steps an optimiser:

    optimizers(model, training)   -> the optimizers (a GAN has two)
    phases(model, xb, yb)         -> the losses of one step, in order, each a
                                     engine.core.step.Phase(optimizer index, loss, stats); by
                                     default the one phase of loss() for optimizer 0. A phase is
                                     computed once the one before has stepped (a GAN's G loss sees
                                     the updated D), so phases() is a generator
    loss(model, xb, yb)           -> (loss, {other stats}): what a one-phase family implements;
                                     "loss" is recorded with the other stats
    evaluate(model, data, device) -> {"val_loss": ..., ...} plain floats, on the val split; numpy
                                     arrays among them are stored as the epoch's artifacts
                                     (what a page would otherwise recompute per checkpoint)
    live_frame(model, data)       -> None, or the arrays of a picture of the model now (the 2D
                                     boundary, each neuron's map): drawn by the Trainer every
                                     fraction of a second while it trains (engine.core.trainer,
                                     FRAME_SECONDS), in eval mode without gradients, and kept as
                                     the run's live frame (RunStore.save_frame) for a page to poll
    check(epoch_stats)            -> None, or why the run has failed (e.g. a collapsed GAN)
    after_step(model, optimizer)  -> called by the Stepper right after optimiser `optimizer` has
                                     stepped (the Trainer and the hand-stepped GAN pass it on):
                                     a WGAN clips its critic's weights there
    relative_divergence           -> whether a finite step loss EXPLOSION_FACTOR x its first value
                                     means the run diverged (False for a WGAN: its losses are
                                     signed and start near 0; nan and inf still count)
    clip_norm                     -> the gradient clipping the family needs when the run asks
                                     for none (0: none)
    ddp_parts                     -> under DDP (engine/core/distributed.py), the sub-modules that
                                     each get a DDP wrapper of their own, one per optimiser and
                                     phase (a GAN's discriminator and generator); () wraps the
                                     whole model. phases() gets the model's Replicated view: a call
                                     goes through DDP (gradients all-reduced), an attribute read
                                     (beta, latent, d_steps) reaches the model itself

The forward passes run under the Trainer's autocast (engine.core.device.Precision). Per step the
Trainer records the stat "loss"; per epoch the mean of every stat as train_<name> and every key
that evaluate() returns, as is. A model picks its objective in its ModelSpec.
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import nn

from engine.core.optim import make_optimizer
from engine.core.step import Phase


class Objective:
    name = "objective"
    clip_norm = 0.0
    ddp_parts: tuple[str, ...] = ()
    relative_divergence = True

    def optimizers(self, model: nn.Module, training: dict) -> list[torch.optim.Optimizer]:
        """One optimiser over every parameter, from the run's training settings."""
        return [make_optimizer(training["optimizer"], model.parameters(), training["lr"],
                               training["momentum"], training["weight_decay"])]

    def phases(self, model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> Iterator[Phase]:
        loss, stats = self.loss(model, xb, yb)
        yield Phase(0, loss, {"loss": loss, **stats})

    def loss(self, model: nn.Module, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, dict]:
        raise NotImplementedError(f"{type(self).__name__} defines neither loss() nor phases()")

    def evaluate(self, model: nn.Module, data, device: torch.device) -> dict:
        return {}

    def live_frame(self, model: nn.Module, data) -> dict | None:
        """The live picture of the model on this data (numpy arrays), or None: nothing to draw."""
        return None

    def check(self, epoch_stats: dict[str, float]) -> str | None:
        return None

    def after_step(self, model: nn.Module, optimizer: int) -> None:
        """After optimiser `optimizer` (its index in optimizers()) has stepped: nothing by default."""
