"""Variational autoencoders: fully connected (the classic 784-512-2 MNIST VAE) and convolutional.

Both share one interface, which engine.latent relies on:
    encode(x) -> (mean, log-variance)          x: float (N, C, H, W) in [0, 1]
    decode(z) -> images in [0, 1]               z: (N, latent)
    forward(x) -> (reconstruction logits, mean, log-variance), z sampled by reparameterisation
They learn by the ELBO (engine.objectives.vae.VAEObjective).
"""
from __future__ import annotations

import torch
from torch import nn

from engine.core.registry import Capabilities, ModelSpec, Param, Shape, register
from engine.models.layers import flat_size


class VAEBase(nn.Module):
    def __init__(self, input_shape: tuple, latent: int, beta: float):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.latent = latent
        self.beta = beta  # a training knob, kept on the model so the objective can read it

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        stats = self.encoder(x)
        return stats[:, :self.latent], stats[:, self.latent:]

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, *self.input_shape)

    def decode(self, z: torch.Tensor, labels=None) -> torch.Tensor:
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor):
        mean, logvar = self.encode(x)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        return self.decode_logits(z), mean, logvar


class DenseVAE(VAEBase):
    def __init__(self, input_shape: tuple, latent: int = 2, hidden: int = 512, layers: int = 1, beta: float = 1.0):
        super().__init__(input_shape, latent, beta)
        size = flat_size(input_shape)
        enc: list[nn.Module] = [nn.Flatten()]
        width = size
        for _ in range(layers):
            enc += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        enc.append(nn.Linear(width, 2 * latent))
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = []
        width = latent
        for _ in range(layers):
            dec += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        dec.append(nn.Linear(width, size))
        self.decoder = nn.Sequential(*dec)


class ConvVAE(VAEBase):
    """Two stride-2 convs (H/4 x W/4) -> dense -> code; the decoder mirrors it with transposed convs."""

    def __init__(self, input_shape: tuple, latent: int = 2, channels: int = 32, hidden: int = 256, beta: float = 1.0):
        super().__init__(input_shape, latent, beta)
        c, h, w = input_shape
        inner = (2 * channels, h // 4, w // 4)
        self.encoder = nn.Sequential(
            nn.Conv2d(c, channels, 3, 2, 1), nn.ReLU(),
            nn.Conv2d(channels, 2 * channels, 3, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(flat_size(inner), hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent))
        self.decoder = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, flat_size(inner)), nn.ReLU(),
            nn.Unflatten(1, inner),
            nn.ConvTranspose2d(2 * channels, channels, 4, 2, 1), nn.ReLU(),
            nn.ConvTranspose2d(channels, c, 4, 2, 1))


def check_conv(p: dict, shape: Shape) -> list[str]:
    _, h, w = shape.input_shape
    if h % 4 or w % 4:
        return [f"the convolutional VAE halves the image twice, so its sides must be multiples of 4; "
                f"{h}x{w} is not: use the fully connected VAE"]
    return []


LATENT = Param("latent", "int", 2, "size of the latent code (2 draws the latent plane directly)", low=2, high=32)
BETA = Param("beta", "float", 1.0, "weight of the KL term (beta-VAE): >1 disentangles, <1 sharpens",
             low=0.0, high=10.0)

DENSE_SPEC = register(ModelSpec(
    name="vae",
    title="VAE (fully connected)",
    description="The classic MNIST VAE: 784 -> 512 -> (mean, log-variance) of size 2 -> 512 -> 784. "
                "Loss: binary cross-entropy summed over the pixels + beta x KL.",
    capabilities=Capabilities(inputs=("image",), generator=True, encoder=True),
    params=(
        LATENT,
        Param("hidden", "int", 512, "width of each hidden layer (encoder and decoder)", low=16, high=2048, log=True),
        Param("layers", "int", 1, "hidden layers in the encoder (mirrored in the decoder)", low=1, high=4),
        BETA,
    ),
    build=lambda p, shape: DenseVAE(shape.input_shape, p["latent"], p["hidden"], p["layers"], p["beta"]),
    objective="vae",
))

CONV_SPEC = register(ModelSpec(
    name="conv_vae",
    title="VAE (convolutional)",
    description="Two stride-2 convolutions and a dense layer to the code; transposed convolutions back. "
                "Sharper digits than the dense VAE for the same latent size.",
    capabilities=Capabilities(inputs=("image",), generator=True, encoder=True),
    params=(
        LATENT,
        Param("channels", "int", 32, "channels of the first conv (doubled in the second)", low=4, high=128, log=True),
        Param("hidden", "int", 256, "width of the dense layer around the code", low=16, high=2048, log=True),
        BETA,
    ),
    build=lambda p, shape: ConvVAE(shape.input_shape, p["latent"], p["channels"], p["hidden"], p["beta"]),
    check=check_conv,
    objective="vae",
))
