"""A GAN on 2D points (GAN Lab's model): a small MLP generator from a latent z (size 2 by default,
so the image of a grid of z values, its manifold, can be drawn on the plane) to a point, and a
small MLP discriminator from a point to a logit (real vs fake).

The generator's output is linear (points live in plane units, about [-1, 1], and are never rescaled:
unlike the DCGAN's images). Like the DCGAN it keeps its own optimiser settings (lr_g, lr_d, beta1,
d_steps) as plain attributes, and its nets take (and ignore) class labels, so the GAN objective's
D and G losses (engine/objectives/gan.py) apply unchanged. How it learns and what it draws:
engine/objectives/gan2d.py.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.core.registry import Capabilities, ModelSpec, Param, Shape, register
from engine.models.layers import ACTIVATIONS, activation

BETA2 = 0.999  # Adam's beta2, fixed: beta1 is the one that matters for GANs


def mlp(in_features: int, out_features: int, width: int, depth: int, activation_name: str) -> nn.Sequential:
    """in -> depth x (Linear(width) -> activation) -> Linear(out)."""
    layers: list[nn.Module] = []
    size = in_features
    for _ in range(depth):
        layers += [nn.Linear(size, width), activation(activation_name)]
        size = width
    layers.append(nn.Linear(size, out_features))
    return nn.Sequential(*layers)


class Generator(nn.Module):
    def __init__(self, latent: int, width: int, depth: int, activation_name: str):
        super().__init__()
        self.net = mlp(latent, 2, width, depth, activation_name)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self, width: int, depth: int, activation_name: str):
        super().__init__()
        self.net = mlp(2, 1, width, depth, activation_name)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x).squeeze(1)


class Gan2d(nn.Module):
    conditional = False  # the objective's D and G losses ask

    def __init__(self, latent: int = 2, g_width: int = 64, g_depth: int = 2, d_width: int = 64, d_depth: int = 2,
                 activation_name: str = "relu", lr_g: float = 1e-3, lr_d: float = 1e-3, beta1: float = 0.5,
                 d_steps: int = 2, num_classes: int = 1):
        super().__init__()
        self.latent, self.num_classes = latent, num_classes
        self.lr_g, self.lr_d, self.betas, self.d_steps = lr_g, lr_d, (beta1, BETA2), d_steps
        self.generator = Generator(latent, g_width, g_depth, activation_name)
        self.discriminator = Discriminator(d_width, d_depth, activation_name)

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Points (N, 2) for codes z (N, latent)."""
        return self.generator(z)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None):
        """D's logits for the points x, and G's points for zero noise: one pass through both nets
        (what the model summary walks)."""
        z = torch.zeros(len(x), self.latent, device=x.device, dtype=x.dtype)
        return self.discriminator(x), self.generator(z)


def check(p: dict, shape: Shape) -> list[str]:
    if tuple(shape.input_shape) != (2,):
        return [f"the 2D GAN generates points on a plane: its data must be 2D points, not {shape.input_shape}"]
    return []


def build(p: dict, shape: Shape) -> Gan2d:
    return Gan2d(p["latent"], p["g_width"], p["g_depth"], p["d_width"], p["d_depth"], p["activation"],
                 p["lr_g"], p["lr_d"], p["beta1"], p["d_steps"], shape.num_classes)


SPEC = register(ModelSpec(
    name="gan2d",
    title="GAN on 2D points (GAN Lab)",
    description="An MLP generator from noise z to a point, and an MLP discriminator from a point to real vs "
                "fake; non-saturating loss. Trains on a target distribution (ring, grid, line, moons) or any "
                "2D point set (its labels are ignored), with its own Adam settings (lr_g, lr_d, beta1): the "
                "training lr and optimizer settings are not used.",
    capabilities=Capabilities(inputs=("distribution", "points")),
    params=(
        Param("latent", "int", 2, "size of the noise z (2: the image of a grid of z values, the generator's "
              "manifold, is drawn on the plane)", low=1, high=16),
        Param("g_width", "int", 64, "neurons per hidden layer of the generator", low=2, high=512, log=True,
              label="G width"),
        Param("g_depth", "int", 2, "hidden layers of the generator", low=1, high=6, label="G depth"),
        Param("d_width", "int", 64, "neurons per hidden layer of the discriminator", low=2, high=512, log=True,
              label="D width"),
        Param("d_depth", "int", 2, "hidden layers of the discriminator", low=1, high=6, label="D depth"),
        Param("activation", "choice", "relu", "non-linearity after each hidden layer (both nets)",
              choices=tuple(ACTIVATIONS)),
        Param("lr_g", "float", 1e-3, "generator learning rate (Adam)", low=1e-5, high=1e-1, log=True),
        Param("lr_d", "float", 1e-3, "discriminator learning rate (Adam)", low=1e-5, high=1e-1, log=True),
        Param("beta1", "float", 0.5, "Adam beta1 (0.5 steadies GAN training)", low=0.0, high=0.999),
        # 2, not the DCGAN's 1: measured on the ring (4 seeds, batch 64), 2 covers all 8 modes in
        # 150-275 steps; 1 took 350-1775 steps, and one seed had not in 3000.
        Param("d_steps", "int", 2, "discriminator steps per generator step", low=1, high=5),
    ),
    build=build,
    check=check,
    objective="gan2d",
))
