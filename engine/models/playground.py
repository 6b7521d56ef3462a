"""The TensorFlow Playground network: input features chosen by switches, then an MLP.

TF Playground feeds its network features of the point (x1, x2, x1², x2², x1·x2, sin(x1), sin(x2)),
not the point itself. Here the features are the model's first module (`InputFeatures`), so the model
takes raw (x, y) points like every other model on the plane: the decision grid, checkpoints and every
page keep working, and a checkpoint rebuilt from its params computes the same features.

The features are computed in TF Playground's own units: the 2D sets store its points divided by
PLAYGROUND_SCALE (5, so they lie in about [-1, 1]), and the features multiply them back. On [-1, 1]
sin(x1) would be almost x1; on the Playground's [-6, 6] it has the two periods across the plane that
make it worth switching on (and x1² its range up to 36), exactly as in TF Playground.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.core.registry import Capabilities, ModelSpec, Param, Shape, register
from engine.models.layers import INITS, initialise
from engine.models.mlp import MLP

PLAYGROUND_SCALE = 5.0  # engine/data/playground.py's RADIUS: data units -> TF Playground units

# name (the switch) -> (label, the feature of the point (u, v) in Playground units), in TF Playground's order
FEATURES = {
    "x1": ("x1", lambda u, v: u),
    "x2": ("x2", lambda u, v: v),
    "x1_squared": ("x1²", lambda u, v: u * u),
    "x2_squared": ("x2²", lambda u, v: v * v),
    "x1_x2": ("x1·x2", lambda u, v: u * v),
    "sin_x1": ("sin(x1)", lambda u, v: torch.sin(u)),
    "sin_x2": ("sin(x2)", lambda u, v: torch.sin(v)),
}
DEFAULT_FEATURES = ("x1", "x2")  # TF Playground's default
# TF Playground's hidden activations (its "Linear" is no non-linearity at all); tanh is its default.
PLAYGROUND_ACTIVATIONS = ("tanh", "relu", "sigmoid", "linear")


class InputFeatures(nn.Module):
    """(N, 2) points -> (N, k) features, the switched-on ones in FEATURES' order. No parameters."""

    def __init__(self, names: tuple[str, ...], scale: float = PLAYGROUND_SCALE):
        super().__init__()
        unknown = [n for n in names if n not in FEATURES]
        if unknown or not names:
            raise ValueError(f"input features must be some of {', '.join(FEATURES)}; got {list(names)}")
        self.names = tuple(n for n in FEATURES if n in names)
        self.labels = tuple(FEATURES[n][0] for n in self.names)
        self.scale = scale

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        u, v = (points * self.scale).unbind(1)
        return torch.stack([FEATURES[name][1](u, v) for name in self.names], dim=1)

    def extra_repr(self) -> str:
        return ", ".join(self.labels)


class PlaygroundNet(MLP):
    """InputFeatures, then the MLP's hidden layers on them (its `net`, with the same layer names)."""

    def __init__(self, features: tuple[str, ...], num_outputs: int, width: int, depth: int,
                 activation_name: str = "tanh"):
        inputs = InputFeatures(features)
        super().__init__(len(inputs.names), num_outputs, width, depth, activation_name)
        self.features = inputs

    def forward(self, x):
        return self.net(self.features(x))


def chosen_features(p: dict) -> tuple[str, ...]:
    return tuple(name for name in FEATURES if p[name])


def build(p: dict, shape: Shape) -> nn.Module:
    model = PlaygroundNet(chosen_features(p), shape.num_classes, p["width"], p["depth"], p["activation"])
    initialise(model, p["init"], p["activation"])
    return model


def check(p: dict, shape: Shape) -> list[str]:
    problems = []
    if not chosen_features(p):
        problems.append("switch on at least one input feature (x1, x2, x1², x2², x1·x2, sin(x1), sin(x2)): "
                        "with none the network sees nothing of the point")
    if tuple(shape.input_shape) != (2,):
        problems.append(f"the TF Playground network takes 2D points (x, y); this data has shape {shape.input_shape}")
    return problems


SPEC = register(ModelSpec(
    name="playground",
    title="TF Playground network",
    description="TensorFlow Playground's network on 2D points: switch input features on (x1, x2, x1², x2², "
                "x1·x2, sin(x1), sin(x2)), then stacked fully connected layers; each neuron's picture is "
                "drawn live while it trains.",
    capabilities=Capabilities(inputs=("points",)),
    params=tuple(Param(name, "bool", name in DEFAULT_FEATURES, f"input feature {label} of the point "
                       f"(in TF Playground's units, about -6..6)", label=label)
                 for name, (label, _) in FEATURES.items()) + (
        Param("width", "int", 8, "neurons per hidden layer (TF Playground allows up to 8)", low=1, high=256,
              log=True),
        Param("depth", "int", 2, "number of hidden layers (0 = a linear model of the features)", low=0, high=8),
        Param("activation", "choice", "tanh", "non-linearity after each hidden layer, as TF Playground offers",
              choices=PLAYGROUND_ACTIVATIONS),
        Param("init", "choice", "default", "weight initialisation: PyTorch default, Xavier/Glorot or He/Kaiming",
              choices=INITS),
    ),
    build=build,
    check=check,
))
