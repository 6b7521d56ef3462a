"""Multi-layer perceptron: the TensorFlow Playground network, without its 6 x 8 limits."""
from __future__ import annotations

from torch import nn

from engine.models.layers import ACTIVATIONS, INITS, dense_layers, flat_size, initialise
from engine.core.registry import Capabilities, ModelSpec, Param, Shape, register


class MLP(nn.Module):
    def __init__(self, in_features: int, num_classes: int, width: int, depth: int,
                 activation_name: str = "relu", dropout: float = 0.0, batchnorm: bool = False):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        size = in_features
        for _ in range(depth):
            layers += dense_layers(size, width, activation_name, dropout, batchnorm)
            size = width
        layers.append(nn.Linear(size, num_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def build(p: dict, shape: Shape) -> nn.Module:
    model = MLP(flat_size(shape.input_shape), shape.num_classes, p["width"], p["depth"],
                p["activation"], p["dropout"], p["batchnorm"])
    initialise(model, p["init"], p["activation"])
    return model


SPEC = register(ModelSpec(
    name="mlp",
    title="MLP (fully connected)",
    description="Stacked Linear layers with a chosen activation: the TensorFlow Playground network on "
                "2D points, or 784-512-512-10 on MNIST.",
    capabilities=Capabilities(inputs=("points", "image")),
    params=(
        Param("width", "int", 64, "neurons per hidden layer", low=1, high=2048, log=True),
        Param("depth", "int", 2, "number of hidden layers (0 = logistic regression)", low=0, high=16),
        Param("activation", "choice", "relu", "non-linearity after each hidden layer",
              choices=tuple(ACTIVATIONS)),
        Param("init", "choice", "default", "weight initialisation: PyTorch default, Xavier/Glorot or He/Kaiming",
              choices=INITS),
        Param("dropout", "float", 0.0, "dropout probability after each hidden layer", low=0.0, high=0.9),
        Param("batchnorm", "bool", False, "batch normalisation before each activation", label="batch norm"),
    ),
    build=build,
))
