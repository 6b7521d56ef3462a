"""Small image augmentations in plain torch, for batches of (N, 3, H, W) images in [0, 1].

Each is random per image, draws from the `generator` it is given (so a seeded run is repeatable) and
keeps the batch on its device: a horizontal flip, a random crop resized back to the full size
(RandomResizedCrop's idea, scale 0.6-1, aspect kept), and colour jitter (brightness, contrast and
saturation each scaled by a factor in [0.7, 1.3]). torchvision is not a dependency of this project.
"""
from __future__ import annotations

import torch
from torch.nn import functional as F

JITTER = 0.3          # colour factors drawn from [1 - JITTER, 1 + JITTER]
CROP_SCALE = (0.6, 1.0)  # the crop's side as a share of the image's side


def _uniform(n: int, low: float, high: float, x: torch.Tensor, generator) -> torch.Tensor:
    """n draws from U(low, high) on x's device (drawn on the generator's own device)."""
    device = generator.device if generator is not None else x.device
    return (low + (high - low) * torch.rand(n, generator=generator, device=device)).to(x.device, x.dtype)


def flip(x: torch.Tensor, generator=None) -> torch.Tensor:
    """Mirror about half the images left to right."""
    chosen = _uniform(len(x), 0, 1, x, generator) < 0.5
    return torch.where(chosen[:, None, None, None], x.flip(-1), x)


def crop(x: torch.Tensor, generator=None) -> torch.Tensor:
    """A random square-ish window of each image (side 60-100 %), resized back to the full size:
    one affine grid for the whole batch (F.affine_grid), no per-image Python loop."""
    n = len(x)
    side = _uniform(n, *CROP_SCALE, x, generator)
    # the window's centre, so that it stays inside the image: in [-1 + side, 1 - side] (grid units)
    cx = (1 - side) * _uniform(n, -1, 1, x, generator)
    cy = (1 - side) * _uniform(n, -1, 1, x, generator)
    theta = torch.zeros(n, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 1, 1], theta[:, 0, 2], theta[:, 1, 2] = side, side, cx, cy
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def colour_jitter(x: torch.Tensor, generator=None) -> torch.Tensor:
    """Brightness, contrast and saturation, each scaled by a random factor per image; stays in [0, 1]."""
    n = len(x)
    low, high = 1 - JITTER, 1 + JITTER
    x = x * _uniform(n, low, high, x, generator)[:, None, None, None]
    grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    mean = grey.mean(dim=(1, 2, 3), keepdim=True)
    x = mean + (x - mean) * _uniform(n, low, high, x, generator)[:, None, None, None]
    grey = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).unsqueeze(1)
    x = grey + (x - grey) * _uniform(n, low, high, x, generator)[:, None, None, None]
    return x.clamp(0.0, 1.0)


def augment(x: torch.Tensor, flips: bool, crops: bool, jitter: bool, generator=None) -> torch.Tensor:
    """The chosen augmentations, in the usual order (crop, flip, colour)."""
    if crops:
        x = crop(x, generator)
    if flips:
        x = flip(x, generator)
    if jitter:
        x = colour_jitter(x, generator)
    return x
