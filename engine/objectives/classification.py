"""Classification: cross-entropy; stats loss and accuracy. The objective of every model whose
ModelSpec names no other (CNN, MLP, ResNet)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.core.device import autocast
from engine.core.modules import eval_mode
from engine.objectives.base import Objective
from engine.training.inspection import decision_grid
from engine.training.neurons import neuron_frame

FRAME_GRID = 100  # TensorFlow Playground's heatmap: 100 x 100 cells


def classify(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device,
             batch_size: int = 1024) -> tuple[float, float, torch.Tensor]:
    """Mean cross-entropy, accuracy and the predicted class of each example (on the CPU), in eval mode."""
    with eval_mode(model):
        loss_sum = torch.zeros((), device=device)
        predictions = []
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size].to(device, non_blocking=True)
            yb = y[start:start + batch_size].to(device, non_blocking=True)
            with autocast(device):
                logits = model(xb)
            loss_sum += nn.functional.cross_entropy(logits.float(), yb, reduction="sum")
            predictions.append(logits.argmax(1))
    n = max(len(x), 1)
    predicted = torch.cat(predictions).cpu() if predictions else torch.zeros(0, dtype=torch.long)
    return loss_sum.item() / n, (predicted == y.cpu()).sum().item() / n, predicted


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device,
             batch_size: int = 1024) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over (x, y), in eval mode."""
    loss, acc, _ = classify(model, x, y, device, batch_size)
    return loss, acc


class ClassificationObjective(Objective):
    name = "classification"

    def loss(self, model, xb, yb):
        logits = model(xb)
        loss = nn.functional.cross_entropy(logits.float(), yb)
        return loss, {"acc": (logits.detach().argmax(1) == yb).float().mean()}

    def evaluate(self, model: nn.Module, data, device: torch.device) -> dict:
        """Loss and accuracy on the validation split, with the predictions themselves (the confusion
        matrix and the misclassified images come from them) and, on 2D points, the decision grid."""
        val_loss, val_acc, predicted = classify(model, data.x_val, data.y_val, device)
        results = {"val_loss": val_loss, "val_acc": val_acc, "val_predictions": predicted.numpy().astype(np.int32)}
        if data.info.kind == "points":
            xs, ys, probs = decision_grid(model, data.x_train)
            results |= {"boundary_x": xs, "boundary_y": ys, "boundary_p": probs}
        return results

    def live_frame(self, model: nn.Module, data) -> dict | None:
        """On 2D points, the decision surface now (FRAME_GRID x FRAME_GRID, float16: ~20 kB), over
        the same plane as the per-epoch one, and for a network that can show them (an MLP on the
        points: engine.training.neurons) each neuron's map and the weights; nothing on other data."""
        if data.info.kind != "points":
            return None
        xs, ys, probs = decision_grid(model, data.x_train, resolution=FRAME_GRID)
        frame = {"boundary_x": xs, "boundary_y": ys, "boundary_p": probs.astype(np.float16)}
        return frame | (neuron_frame(model, data.x_train) or {})


CLASSIFICATION = ClassificationObjective()
