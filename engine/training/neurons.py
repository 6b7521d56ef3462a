"""What each neuron computes: TensorFlow Playground's network view, from the live model.

For a fully connected network on 2D points (engine.models.mlp.MLP, and the TF Playground network
built on it, whose first module computes the input features), one forward pass over a small grid of
the plane gives every input feature's map and every hidden unit's activation (after its
non-linearity) at each grid point: a small heatmap per neuron. The weights between layers come
with them, to draw as the lines of the network.

A layer wider than NEURONS_SHOWN ships only its first NEURONS_SHOWN units (and its weights only
between shown units); "layer_sizes" says how many it really has, so a view can write "showing 8 of 32".
The arrays follow the live-frame contract of the Training page (see `neuron_frame`).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.core.modules import eval_mode, model_device
from engine.models.layers import ACTIVATIONS
from engine.models.mlp import MLP
from engine.training.inspection import plane_grid

NEURON_GRID = 25    # each neuron's map is NEURON_GRID x NEURON_GRID (TF Playground draws them this small)
NEURONS_SHOWN = 8   # units per layer shipped (TF Playground's own limit per layer)
_ACTIVATION_TYPES = tuple(ACTIVATIONS.values())


def shows_neurons(model: nn.Module) -> bool:
    """Whether the model's neurons can be drawn on the plane: an MLP on 2D points."""
    if not isinstance(model, MLP):
        return False
    first = next(m for m in model.net if isinstance(m, nn.Linear))
    return hasattr(model, "features") or first.in_features == 2


def _feature_labels(model: MLP) -> tuple[str, ...]:
    features = getattr(model, "features", None)
    return features.labels if features is not None else ("x1", "x2")  # a plain MLP sees the point itself


def neuron_frame(model: nn.Module, x_points, output: str = "probability", grid: int = NEURON_GRID,
                 shown: int = NEURONS_SHOWN, margin: float = 0.2) -> dict[str, np.ndarray] | None:
    """The network view's arrays over a grid x grid plane (the same plane as the decision grid for
    the same points and margin), or None for a model that cannot show its neurons (not an MLP on
    2D points, or more than two outputs: the view draws ONE output unit).

    "neuron_x", "neuron_y" (grid,) float32: the maps' coordinates; rows of every map are y.
    "features" (k, grid, grid) float16 and "feature_names" (k,) unicode: each input feature.
    "layer1".."layerL" (shown_i, grid, grid) float16: hidden layer i's first shown_i units, after
        the activation; "layer_sizes" (L,) int64: each hidden layer's real width.
    "weights1".."weights{L+1}" (shown_out, shown_in) float16: the weights into layer i from layer
        i - 1 (layer 0: the features; L + 1: the output unit, for two classes the class-1 row minus
        the class-0 row, which is what moves P(class 1); for one output, its row).
    "output" (grid, grid) float16: P(class 1), or with output="value" the model's one output.
    """
    if not shows_neurons(model):
        return None
    linears = [m for m in model.net if isinstance(m, nn.Linear)]
    outputs = linears[-1].out_features
    if outputs > 2 or (outputs == 1) != (output == "value"):
        return None
    xs, ys, points = plane_grid(x_points, grid, margin)
    maps: list[torch.Tensor] = []
    with eval_mode(model):
        features = model.features(points.to(model_device(model))) if hasattr(model, "features") else \
            points.to(model_device(model))
        h = features
        for module in model.net:
            h = module(h)
            # The output of each hidden activation (after BatchNorm, before Dropout: dropout is off in eval)
            if isinstance(module, _ACTIVATION_TYPES) and module is not model.net[-1]:
                maps.append(h[:, :shown])
        out = h.float()
    surface = out[:, 0] if output == "value" else torch.softmax(out, dim=1)[:, 1]

    def as_maps(values: torch.Tensor) -> np.ndarray:  # (grid², n) -> (n, grid, grid) float16
        return values.float().T.reshape(-1, grid, grid).cpu().numpy().astype(np.float16)

    frame = {"neuron_x": xs.numpy(), "neuron_y": ys.numpy(),
             "features": as_maps(features), "feature_names": np.array(_feature_labels(model)),
             "layer_sizes": np.array([lin.out_features for lin in linears[:-1]], dtype=np.int64),
             "output": surface.reshape(grid, grid).cpu().numpy().astype(np.float16)}
    for i, layer in enumerate(maps, start=1):
        frame[f"layer{i}"] = as_maps(layer)
    shown_in = features.shape[1]
    for i, lin in enumerate(linears[:-1], start=1):
        frame[f"weights{i}"] = _half(lin.weight[:shown, :shown_in])
        shown_in = min(lin.out_features, shown)
    last = linears[-1].weight[:, :shown_in]
    frame[f"weights{len(linears)}"] = _half((last[1] - last[0] if outputs == 2 else last[0])[None, :])
    return frame


def _half(weights: torch.Tensor) -> np.ndarray:
    return weights.detach().float().cpu().numpy().astype(np.float16)
