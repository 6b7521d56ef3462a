"""Classification: cross-entropy; stats loss and accuracy. The objective of every model whose
ModelSpec names none (CNN, MLP, ResNet)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.core.trainer import classify
from engine.objectives.base import Objective


class ClassificationObjective(Objective):
    name = "classification"

    def loss(self, model, xb, yb):
        logits = model(xb)
        loss = nn.functional.cross_entropy(logits.float(), yb)
        return loss, {"acc": (logits.detach().argmax(1) == yb).float().mean()}

    def evaluate(self, model: nn.Module, data, device: torch.device) -> dict:
        """Loss and accuracy on the validation split, with the predictions themselves (the confusion
        matrix and the misclassified images come from them) and, on 2D points, the decision grid."""
        from engine.training.inspection import decision_grid
        val_loss, val_acc, predicted = classify(model, data.x_val, data.y_val, device)
        results = {"val_loss": val_loss, "val_acc": val_acc, "val_predictions": predicted.numpy().astype(np.int32)}
        if data.info.kind == "points":
            xs, ys, probs = decision_grid(model, data.x_train)
            results |= {"boundary_x": xs, "boundary_y": ys, "boundary_p": probs}
        return results


CLASSIFICATION = ClassificationObjective()
