"""Objectives: how a family of models learns, so one Trainer drives classifiers, VAEs, GANs and
sequence models alike.

The Trainer owns the loop (batches, stop/pause, buffered step losses, divergence, checkpoints,
metrics); an Objective owns what one step does and what an epoch is judged by:

    optimizers(model, training)          -> the optimizers (a GAN has two)
    train_step(model, xb, yb, optimizers) -> {"loss": 0-dim tensor, other stats...}, all detached,
                                             after backward() and step(); stats stay on the device
    evaluate(model, data, device)        -> {"val_loss": ..., ...} plain floats, on the val split; numpy
                                            arrays among them are stored as the epoch's artifacts
                                            (what a page would otherwise recompute per checkpoint)
    check(epoch_stats)                   -> None, or why the run has failed (e.g. a collapsed GAN)

Per step the Trainer records "loss"; per epoch the mean of every stat as train_<name> and every
key that evaluate() returns, as is. A model picks its objective in its ModelSpec.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.core.device import autocast
from engine.core.optim import make_optimizer


class Objective:
    """The default: classification with cross-entropy; stats loss and accuracy."""
    name = "classification"

    def optimizers(self, model: nn.Module, training: dict) -> list[torch.optim.Optimizer]:
        return [make_optimizer(training["optimizer"], model.parameters(), training["lr"],
                               training["momentum"], training["weight_decay"])]

    def train_step(self, model: nn.Module, xb: torch.Tensor, yb: torch.Tensor,
                   optimizers: list[torch.optim.Optimizer]) -> dict[str, torch.Tensor]:
        (optimizer,) = optimizers
        with autocast(xb.device):
            logits = model(xb)
        loss = nn.functional.cross_entropy(logits.float(), yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach(), "acc": (logits.detach().argmax(1) == yb).float().mean()}

    def evaluate(self, model: nn.Module, data, device: torch.device) -> dict:
        """Loss and accuracy on the validation split, with the predictions themselves (the confusion
        matrix and the misclassified images come from them) and, on 2D points, the decision grid."""
        from engine.training.inspection import decision_grid
        from engine.core.trainer import classify
        val_loss, val_acc, predicted = classify(model, data.x_val, data.y_val, device)
        results = {"val_loss": val_loss, "val_acc": val_acc, "val_predictions": predicted.numpy().astype(np.int32)}
        if data.info.kind == "points":
            xs, ys, probs = decision_grid(model, data.x_train)
            results |= {"boundary_x": xs, "boundary_y": ys, "boundary_p": probs}
        return results

    def check(self, epoch_stats: dict[str, float]) -> str | None:
        return None


CLASSIFICATION = Objective()
