"""Latent spaces of the generative models (VAEs, GANs): grids, codes, walks, samples, quality.

Every generative model here (its spec declares the `generator` capability) has
`decode(z, labels=None) -> images in [0, 1]` and `latent` (the code size); VAEs (`encoder`) also
have `encode(x) -> (mean, log-variance)`. Functions take models and tensors and return tensors /
numpy arrays; a latent dimension out of range raises LatentError with a message a person can act on
(a run that cannot be opened: engine.core.loading's RunLoadError).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

# The fixed noise lives with the GAN objective (it scores the same samples every epoch);
# the latent tools use the same ones.
from engine.core.modules import model_device
from engine.objectives.gan_quality import fixed_noise


class LatentError(ValueError):
    """A request the latent tools cannot serve (bad dimension, class, range); the message says why."""


# ---- runs ----------------------------------------------------------------------------------------
# A run opens here through engine.core.loading.load_run(store, run_id, need=NEED, shared=True).
NEED = "generator"  # the capability the latent space needs: decode(z, labels) and `latent`


def is_vae(model: nn.Module) -> bool:
    return hasattr(model, "encode")


def check_dims(model: nn.Module, dims) -> tuple[int, ...]:
    dims = tuple(int(d) for d in dims)
    bad = [d for d in dims if not 0 <= d < model.latent]
    if bad:
        raise LatentError(f"latent dimension {bad[0]} does not exist: this model's code has {model.latent} "
                          f"dimensions, numbered 0 to {model.latent - 1}")
    if len(set(dims)) != len(dims):
        raise LatentError(f"choose two different latent dimensions, not {dims[0]} twice")
    return dims


def _labels(model, labels, n: int):
    if not getattr(model, "conditional", False):
        if labels is not None:  # asked for a class it cannot be asked for: say so rather than ignore it
            raise LatentError("this model is not conditional: it generates without a class label "
                              "(train a conditional DCGAN to choose the class)")
        return None
    if labels is None:
        labels = 0
    if isinstance(labels, int):
        if not 0 <= labels < model.num_classes:
            raise LatentError(f"class {labels} does not exist: this model knows classes 0 to {model.num_classes - 1}")
        return torch.full((n,), labels, dtype=torch.long, device=model_device(model))
    return torch.as_tensor(labels, dtype=torch.long, device=model_device(model))


# ---- decoding, grids -----------------------------------------------------------------------------
@torch.no_grad()
def decode(model: nn.Module, z, labels=None, batch_size: int = 1024) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] on the CPU for codes z (N, latent)."""
    z = torch.as_tensor(z, dtype=torch.float32)
    if z.ndim == 1:
        z = z[None]
    if z.shape[1] != model.latent:
        raise LatentError(f"codes have {z.shape[1]} dimensions; this model's code has {model.latent}")
    device = model_device(model)
    labels = _labels(model, labels, len(z))
    out = [model.decode(z[i:i + batch_size].to(device), None if labels is None else labels[i:i + batch_size]).float().cpu()
           for i in range(0, len(z), batch_size)]
    return torch.cat(out).clamp_(0, 1)


def grid_codes(latent: int, n: int = 15, r: float = 4.0, dims=(0, 1), base=None) -> torch.Tensor:
    """(n*n, latent) codes, row by row: x = dims[0] over linspace(-r, r) left to right, y = dims[1]
    from +r at the top to -r at the bottom (up is positive); other dimensions from `base` (or 0)."""
    if n < 1:
        raise LatentError(f"the grid needs at least 1 image per side, not {n}")
    if not r > 0:
        raise LatentError(f"the grid range must be positive, not {r}")
    base = torch.zeros(latent) if base is None else torch.as_tensor(base, dtype=torch.float32).flatten()
    xs = torch.linspace(-r, r, n)
    ys = torch.linspace(r, -r, n)
    z = base.repeat(n * n, 1)
    z[:, dims[0]] = xs.repeat(n)
    z[:, dims[1]] = ys.repeat_interleave(n)
    return z


def latent_grid(model: nn.Module, n: int = 15, r: float = 4.0, dims=(0, 1), base=None, labels=None) -> torch.Tensor:
    """The n x n decoded grid, (n*n, C, H, W) in [0, 1], in grid_codes order."""
    dims = check_dims(model, dims)
    return decode(model, grid_codes(model.latent, n, r, dims, base), labels)


def tile(images, ncols: int, pad: int = 0, pad_value: float = 1.0) -> np.ndarray:
    """Images (N, C, H, W) -> one array (rows*H, ncols*W) (or (..., C) for colour), row-major."""
    images = torch.as_tensor(images).float()
    n, c, h, w = images.shape
    rows = max(1, math.ceil(n / ncols))
    canvas = torch.full((c, rows * (h + pad) - pad, ncols * (w + pad) - pad), pad_value)
    for i in range(n):
        r, k = divmod(i, ncols)
        canvas[:, r * (h + pad):r * (h + pad) + h, k * (w + pad):k * (w + pad) + w] = images[i]
    out = canvas.numpy()
    return out[0] if c == 1 else out.transpose(1, 2, 0)


# ---- codes, reconstructions, walks ---------------------------------------------------------------
def _require_vae(model, what: str):
    if not is_vae(model):
        raise LatentError(f"{what} needs an encoder: a GAN has none (use a VAE run, or walk between noise vectors)")


@torch.no_grad()
def encode(model: nn.Module, x: torch.Tensor, batch_size: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, log-variance) of the codes of images x (N, C, H, W) in [0, 1], on the CPU."""
    _require_vae(model, "encoding images")
    device = model_device(model)
    means, logvars = [], []
    for i in range(0, len(x), batch_size):
        mean, logvar = model.encode(x[i:i + batch_size].to(device))
        means.append(mean.float().cpu())
        logvars.append(logvar.float().cpu())
    return torch.cat(means), torch.cat(logvars)


def reconstruct(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Decode each image's mean code: the VAE's deterministic reconstruction."""
    mean, _ = encode(model, x)
    return decode(model, mean)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (White 2016): follows the shell where Gaussian noise lives."""
    norm0, norm1 = z0.norm(), z1.norm()
    cos = torch.dot(z0 / norm0.clamp_min(1e-12), z1 / norm1.clamp_min(1e-12)).clamp(-1, 1)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-6:  # (anti)parallel within rounding: linear is exact enough
        return (1 - t)[:, None] * z0 + t[:, None] * z1
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so)[:, None] * z0 + (torch.sin(t * omega) / so)[:, None] * z1


def interpolate(z0, z1, steps: int = 10, method: str = "linear") -> torch.Tensor:
    """`steps` codes from z0 to z1 inclusive, linear or spherical ("slerp")."""
    if steps < 2:
        raise LatentError(f"an interpolation needs at least 2 steps (its two ends), not {steps}")
    z0 = torch.as_tensor(z0, dtype=torch.float32).flatten()
    z1 = torch.as_tensor(z1, dtype=torch.float32).flatten()
    t = torch.linspace(0, 1, steps)
    if method == "linear":
        return (1 - t)[:, None] * z0 + t[:, None] * z1
    if method in ("slerp", "spherical"):
        return slerp(z0, z1, t)
    raise LatentError(f"unknown interpolation {method!r}; choose linear or spherical")


def sample(model: nn.Module, n: int = 64, seed: int = 0, labels=None) -> torch.Tensor:
    """Images decoded from prior samples z ~ N(0, I) (fixed by the seed)."""
    if n < 1:
        raise LatentError(f"ask for at least one sample, not {n}")
    if labels is None and getattr(model, "conditional", False):
        labels = torch.arange(n) % model.num_classes  # every class in turn
    return decode(model, fixed_noise(model.latent, n, seed), labels)


# ---- projection of codes to 2D -------------------------------------------------------------------
def project_2d(codes, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, str]:
    """Codes (N, d) -> 2D coordinates and an axis note. d = 2: the codes themselves. Otherwise PCA
    (instant) or UMAP (umap-learn; its first fit in a process compiles for ~40 s)."""
    codes = np.asarray(codes, dtype=np.float32)
    if codes.shape[1] == 2:
        return codes, "latent dimensions 0 and 1"
    if method == "pca":
        from sklearn.decomposition import PCA
        pca = PCA(n_components=2, random_state=seed)
        coords = pca.fit_transform(codes)
        var = pca.explained_variance_ratio_
        return coords, f"PCA: {var[0]:.0%} + {var[1]:.0%} of the variance"
    if method == "umap":
        import umap
        return umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=seed).fit_transform(codes), "UMAP"
    raise LatentError(f"unknown projection {method!r}; choose pca or umap")


# ---- GAN, one step at a time ---------------------------------------------------------------------
