"""Regression on 2D points (TensorFlow Playground's Plane and Multi gaussian): mean squared error of
the model's one output against the value; no accuracy.

Not named by any ModelSpec: a classifier's network (the MLP, the TF Playground network) learns a
regression set with one output unit and this objective instead of cross-entropy; `objective_for(spec,
task)` swaps it in when the dataset's task is "regression". Per epoch it stores the output surface over
the plane as the "boundary" arrays (boundary_p holds the value, not a probability), and its live frame
is that surface with each neuron's map, as the classifier's is.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.core.device import autocast
from engine.core.modules import eval_mode
from engine.objectives.base import Objective
from engine.objectives.classification import FRAME_GRID
from engine.training.inspection import decision_grid
from engine.training.neurons import neuron_frame


def squared_error(model: nn.Module, x: torch.Tensor, y: torch.Tensor, device: torch.device,
                  batch_size: int = 1024) -> float:
    """Mean squared error of the model's first output against y over (x, y), in eval mode."""
    with eval_mode(model):
        total = torch.zeros((), device=device)
        for start in range(0, len(x), batch_size):
            xb = x[start:start + batch_size].to(device, non_blocking=True)
            yb = y[start:start + batch_size].to(device, non_blocking=True)
            with autocast(device):
                out = model(xb)
            total += nn.functional.mse_loss(out[:, 0].float(), yb.float(), reduction="sum")
    return total.item() / max(len(x), 1)


class RegressionObjective(Objective):
    name = "regression"

    def loss(self, model, xb, yb):
        return nn.functional.mse_loss(model(xb)[:, 0].float(), yb), {}

    def evaluate(self, model: nn.Module, data, device: torch.device) -> dict:
        """The validation MSE and, on 2D points, the output surface over the plane."""
        results = {"val_loss": squared_error(model, data.x_val, data.y_val, device)}
        if data.info.kind == "points":
            xs, ys, values = decision_grid(model, data.x_train, output="value")
            results |= {"boundary_x": xs, "boundary_y": ys, "boundary_p": values}
        return results

    def live_frame(self, model: nn.Module, data) -> dict | None:
        """On 2D points, the output surface now (FRAME_GRID x FRAME_GRID, float16 values) and, for a
        network that can show them, each neuron's map (engine.training.neurons)."""
        if data.info.kind != "points":
            return None
        xs, ys, values = decision_grid(model, data.x_train, resolution=FRAME_GRID, output="value")
        frame = {"boundary_x": xs, "boundary_y": ys, "boundary_p": values.astype(np.float16)}
        return frame | (neuron_frame(model, data.x_train, output="value") or {})


REGRESSION = RegressionObjective()
