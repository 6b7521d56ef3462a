"""DCGAN for small images (28x28 MNIST; any size whose sides are multiples of 4), optionally
conditional on the class label (label embedding multiplied with z in G and with the image in D).

G: dense to (H/4 x W/4 x 256), no bias -> BN -> LeakyReLU -> ConvT 128 5x5 s1 -> BN -> LeakyReLU
   -> ConvT 64 5x5 s2 -> BN -> LeakyReLU -> ConvT C 5x5 s2 -> tanh     (7 -> 7 -> 14 -> 28)
D: Conv 64 5x5 s2 -> LeakyReLU -> Dropout -> Conv 128 5x5 s2 -> LeakyReLU -> Dropout -> Dense 1.

Images are in [-1, 1] inside the GAN (datasets give [0, 1]: the objective rescales them);
`decode(z)` hands back [0, 1] images, as the VAEs do, so engine.latent treats both alike.
The GAN's own optimiser settings (lr_g, lr_d, betas, D steps) are model params kept as plain
attributes on the module: the Trainer passes only the training dict to `optimizers()`. How it
learns (D and G phases, quality scores, collapse check): engine.objectives.gan.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.core.registry import Capabilities, ModelSpec, Param, Shape, register
from engine.models.layers import flat_size

SLOPE = 0.2  # LeakyReLU slope of the DCGAN paper (Keras' default would be 0.3)
BN_MOMENTUM = 0.2  # Keras' BN momentum 0.8, in PyTorch's convention


class Generator(nn.Module):
    def __init__(self, latent: int, out_shape: tuple, num_classes: int, conditional: bool, base: int = 256):
        super().__init__()
        c, h, w = out_shape
        inner = (base, h // 4, w // 4)
        self.embed = nn.Embedding(num_classes, latent) if conditional else None
        self.net = nn.Sequential(
            nn.Linear(latent, flat_size(inner), bias=False), nn.BatchNorm1d(flat_size(inner), momentum=BN_MOMENTUM),
            nn.LeakyReLU(SLOPE), nn.Unflatten(1, inner),
            nn.ConvTranspose2d(base, 128, 5, 1, 2, bias=False), nn.BatchNorm2d(128, momentum=BN_MOMENTUM),
            nn.LeakyReLU(SLOPE),
            nn.ConvTranspose2d(128, 64, 5, 2, 2, output_padding=1, bias=False), nn.BatchNorm2d(64, momentum=BN_MOMENTUM),
            nn.LeakyReLU(SLOPE),
            nn.ConvTranspose2d(64, c, 5, 2, 2, output_padding=1), nn.Tanh())

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = z * self.embed(_labels(labels, z))
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self, in_shape: tuple, num_classes: int, conditional: bool, dropout: float = 0.3):
        super().__init__()
        c, h, w = in_shape
        self.in_shape = tuple(in_shape)
        self.embed = nn.Embedding(num_classes, flat_size(in_shape)) if conditional else None
        self.net = nn.Sequential(
            nn.Conv2d(c, 64, 5, 2, 2), nn.LeakyReLU(SLOPE), nn.Dropout(dropout),
            nn.Conv2d(64, 128, 5, 2, 2), nn.LeakyReLU(SLOPE), nn.Dropout(dropout),
            nn.Flatten(), nn.Linear(128 * (h // 4) * (w // 4), 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            x = x * self.embed(_labels(labels, x)).view(-1, *self.in_shape)
        return self.net(x).squeeze(1)


def _labels(labels, like: torch.Tensor) -> torch.Tensor:
    if labels is None:  # a conditional model asked without labels: class 0 (summaries, smoke tests)
        return torch.zeros(len(like), dtype=torch.long, device=like.device)
    return labels


class DCGAN(nn.Module):
    def __init__(self, input_shape: tuple, num_classes: int, latent: int = 64, conditional: bool = False,
                 dropout: float = 0.3, lr_g: float = 2e-4, lr_d: float = 2e-4, beta1: float = 0.5,
                 beta2: float = 0.999, d_steps: int = 1):
        super().__init__()
        self.input_shape = tuple(input_shape)
        self.num_classes, self.latent, self.conditional = num_classes, latent, conditional
        self.lr_g, self.lr_d, self.betas, self.d_steps = lr_g, lr_d, (beta1, beta2), d_steps
        self.generator = Generator(latent, input_shape, num_classes, conditional)
        self.discriminator = Discriminator(input_shape, num_classes, conditional, dropout)

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [-1, 1]."""
        return self.generator(z, labels)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images in [0, 1], like a VAE's decoder."""
        return (self.generator(z, labels) + 1) / 2

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None):
        """D's logits for the images x, and G's images for zero noise: one pass through both nets
        (what the model summary walks)."""
        z = torch.zeros(len(x), self.latent, device=x.device, dtype=x.dtype)
        return self.discriminator(x * 2 - 1, labels), self.generator(z, labels)


def check(p: dict, shape: Shape) -> list[str]:
    _, h, w = shape.input_shape
    if h % 4 or w % 4:
        return [f"the DCGAN upsamples H/4 x W/4 twice, so image sides must be multiples of 4; {h}x{w} is not"]
    return []


def build(p: dict, shape: Shape) -> DCGAN:
    return DCGAN(shape.input_shape, shape.num_classes, p["latent"], p["conditional"], p["dropout"],
                 p["lr_g"], p["lr_d"], p["beta1"], p["beta2"], p["d_steps"])


SPEC = register(ModelSpec(
    name="dcgan",
    title="DCGAN (conditional optional)",
    description="Generator: dense to 7x7x256, transposed convs 128 -> 64 -> 1 with batchnorm and LeakyReLU, "
                "tanh out; discriminator: two strided convs with LeakyReLU and dropout. Non-saturating loss. "
                "Trained with its own Adam settings (lr_g, lr_d, beta1, beta2): the training lr and "
                "optimizer settings are not used.",
    capabilities=Capabilities(inputs=("image",), generator=True),
    params=(
        Param("latent", "int", 64, "size of the noise vector z", low=2, high=128),
        Param("lr_g", "float", 2e-4, "generator learning rate (Adam)", low=1e-6, high=1e-1, log=True),
        Param("lr_d", "float", 2e-4, "discriminator learning rate (Adam)", low=1e-6, high=1e-1, log=True),
        Param("beta1", "float", 0.5, "Adam beta1 (0.5 steadies GAN training)", low=0.0, high=0.999),
        Param("beta2", "choice", 0.999, "Adam beta2", choices=(0.9, 0.99, 0.999)),
        Param("d_steps", "int", 1, "discriminator steps per generator step", low=1, high=5),
        Param("dropout", "float", 0.3, "dropout in the discriminator", low=0.0, high=0.9),
        Param("conditional", "bool", False, "condition both nets on the class label, so a digit can be asked for"),
    ),
    build=build,
    check=check,
    objective="gan",
))
