"""What the Latent space page computes when it walks a trained model: the test set's codes on a
plane, one image's code and reconstruction, the walk between two images or two noise seeds, and a
page of reconstructions with their pixel error.

Built on engine.latent.space (encode, decode, interpolate, project_2d); takes models and tensors
and returns numpy arrays / tensors on the CPU.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.latent.space import decode, encode, fixed_noise, interpolate, project_2d, reconstruct


def code_map(model: nn.Module, x: torch.Tensor, method: str = "pca") -> tuple[np.ndarray, np.ndarray, str]:
    """The codes (posterior means, (N, latent)) of images x, their 2-D coordinates (N, 2) and the
    projection's axis note: the latent scatter of a VAE."""
    mean, _ = encode(model, x)
    coords, note = project_2d(mean.numpy(), method)
    return np.asarray(coords), mean.numpy(), note


def code_and_reconstruction(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The mean and standard deviation of the codes of images x, and their reconstructions (the
    decoded means), encoding once."""
    mean, logvar = encode(model, x)
    return mean, logvar.mul(0.5).exp(), decode(model, mean)


def image_walk(model: nn.Module, ends: torch.Tensor, steps: int, method: str = "linear", labels=None) -> np.ndarray:
    """The first of two images (2, C, H, W), then `steps` images decoded along the path from its
    code to the second's, then the second image: (steps + 2, C, H, W)."""
    mean, _ = encode(model, ends)
    walk = decode(model, interpolate(mean[0], mean[1], steps, method), labels)
    return np.concatenate([ends[:1].numpy(), walk.numpy(), ends[1:].numpy()])


def noise_walk(model: nn.Module, seeds: tuple[int, int], steps: int, method: str = "spherical",
               labels=None) -> torch.Tensor:
    """`steps` images decoded along the path between the noise vectors of two seeds (each what
    fixed_noise(latent, 1, seed) draws): (steps, C, H, W)."""
    z0, z1 = (fixed_noise(model.latent, 1, seed)[0] for seed in seeds)
    return decode(model, interpolate(z0, z1, steps, method), labels)


def pixel_errors(x: torch.Tensor, recon: torch.Tensor) -> torch.Tensor:
    """Mean squared pixel error of each reconstruction, (N,)."""
    return (recon - x).pow(2).flatten(1).mean(1)


def interleave(a, b) -> np.ndarray:
    """a[0], b[0], a[1], b[1], ...: two batches of images (N, C, H, W) side by side, (2N, C, H, W)."""
    a, b = np.asarray(a), np.asarray(b)
    return np.stack([a, b], axis=1).reshape(-1, *a.shape[1:])


def reconstruction_pairs(model: nn.Module, x: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
    """Each image of x followed by its reconstruction, (2N, C, H, W), and each one's pixel error."""
    recon = reconstruct(model, x)
    return interleave(x, recon), pixel_errors(x, recon)
