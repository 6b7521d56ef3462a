"""Small building blocks shared by the built-in models.

Every non-linearity is an nn.Module (never F.relu): captum's guided backprop and deconvolution
rewire nn.ReLU modules only, and a functional ReLU would silently give the plain gradient.
"""
from __future__ import annotations

from torch import nn

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "linear": nn.Identity,  # no non-linearity (TensorFlow Playground's "Linear"): the network stays linear
}
INITS = ("default", "xavier", "he")


def activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


def dense_layers(in_features: int, out_features: int, activation_name: str = "relu", dropout: float = 0.0,
                 batchnorm: bool = False) -> list[nn.Module]:
    """Linear -> (BatchNorm) -> activation -> (Dropout): an MLP hidden layer, or a CNN's dense head."""
    layers: list[nn.Module] = [nn.Linear(in_features, out_features)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(out_features))
    layers.append(activation(activation_name))
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return layers


def classifier_head(features: int, num_classes: int, dense: int, dropout: float, hidden: int = 1) -> nn.Sequential:
    """Flatten -> `hidden` dense ReLU layers of `dense` units (none when dense is 0) -> the class logits:
    the classifier on top of a CNN's conv features."""
    head: list[nn.Module] = [nn.Flatten()]
    for _ in range(hidden if dense > 0 else 0):
        head += dense_layers(features, dense, "relu", dropout)
        features = dense
    head.append(nn.Linear(features, num_classes))
    return nn.Sequential(*head)


def initialise(model: nn.Module, scheme: str, activation_name: str = "relu") -> None:
    """Re-initialise every Linear/Conv weight with Xavier or He; 'default' keeps PyTorch's own."""
    if scheme == "default":
        return
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            if scheme == "xavier":
                gain = nn.init.calculate_gain(_gain_name(activation_name))
                nn.init.xavier_uniform_(module.weight, gain=gain)
            else:  # he
                nonlinearity = "leaky_relu" if activation_name == "leaky_relu" else "relu"
                nn.init.kaiming_normal_(module.weight, nonlinearity=nonlinearity)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def _gain_name(activation_name: str) -> str:
    return {"elu": "relu", "selu": "selu", "relu": "relu", "leaky_relu": "leaky_relu",
            "tanh": "tanh", "sigmoid": "sigmoid", "linear": "linear"}[activation_name]


def flat_size(shape: tuple) -> int:
    size = 1
    for dim in shape:
        size *= dim
    return size
