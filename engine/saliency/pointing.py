"""The pointing game (Zhang et al. 2016, "Top-down neural attention by excitation backprop"): when
the object's pixels are known, does a saliency map's maximum fall on the object? Beside it, the
share of the map's positive energy that lies inside the object's mask. Both are scored against two
baselines that know nothing of the model: a random map (its maximum lands anywhere, so it hits as
often as the mask covers the image) and a centre map (a bump in the middle: objects are seldom at
the edge, so a method is only interesting if it beats this too).

The scoring functions are pure (maps and masks in, numbers out); `pointing_game` computes the
maps of each method on a batch of images and scores them.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.saliency.methods import DISPLAY, TITLES

RANDOM, CENTRE = "random", "centre"
BASELINE_TITLES = {RANDOM: "Random map (baseline)", CENTRE: "Centre bump (baseline)"}


def scored_values(maps, display: str = "positive") -> np.ndarray:
    """The values a map points with: Grad-CAM's and the signed maps' own values (the most evidence
    for the class is the maximum), the magnitude for gradient maps (what the papers plot)."""
    m = np.asarray(maps, dtype=np.float64)
    return np.abs(m) if display == "abs" else m


def _dilated(masks: np.ndarray, tolerance: int) -> np.ndarray:
    """Masks grown by `tolerance` pixels (a square neighbourhood), as the game's tolerance allows."""
    if tolerance <= 0:
        return masks
    t = torch.from_numpy(masks.astype(np.float32))[:, None]
    return torch.nn.functional.max_pool2d(t, 2 * tolerance + 1, stride=1, padding=tolerance)[:, 0].numpy() > 0


def hits(maps, masks, display: str = "positive", tolerance: int = 0) -> np.ndarray:
    """Per map (N,), in [0, 1]: whether its maximum lies on the mask (grown by `tolerance` px).
    Where several pixels share the maximum, the share of them on the mask: ties broken at random,
    in expectation, so a constant map scores the mask's area and never a lucky 1."""
    values = scored_values(maps, display)
    masks = _dilated(np.asarray(masks, dtype=bool), tolerance)
    n = len(values)
    flat, inside = values.reshape(n, -1), masks.reshape(n, -1)
    top = flat == flat.max(axis=1, keepdims=True)
    return (top & inside).sum(axis=1) / top.sum(axis=1)


def energy_shares(maps, masks, display: str = "positive") -> np.ndarray:
    """Per map (N,): the share of its positive part's sum that lies inside the mask; NaN for a map
    with no positive part (nothing to share out)."""
    values = np.clip(scored_values(maps, display), 0, None)
    n = len(values)
    flat, inside = values.reshape(n, -1), np.asarray(masks, dtype=bool).reshape(n, -1)
    total = flat.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, (flat * inside).sum(axis=1) / total, np.nan)


def random_maps(shape: tuple, seed: int = 0) -> np.ndarray:
    """Uniform noise maps (N, H, W): the baseline that knows nothing."""
    return np.random.default_rng(seed).random(shape)


def centre_maps(shape: tuple) -> np.ndarray:
    """A Gaussian bump in the middle of every map (N, H, W), sigma a quarter of the side: the
    baseline that knows only that objects tend to be central."""
    n, h, w = shape
    y, x = np.arange(h) - (h - 1) / 2, np.arange(w) - (w - 1) / 2
    bump = np.exp(-(y[:, None] ** 2 / (2 * (h / 4) ** 2) + x[None, :] ** 2 / (2 * (w / 4) ** 2)))
    return np.broadcast_to(bump, (n, h, w)).copy()


@dataclass(frozen=True)
class PointingScore:
    method: str          # a saliency method's name, or RANDOM / CENTRE
    hit_rate: float      # mean of `hits` over the images
    energy_share: float  # mean of `energy_shares` over the maps that have positive energy
    images: int
    empty_maps: int      # maps with no positive part (left out of energy_share)

    @property
    def title(self) -> str:
        return TITLES.get(self.method) or BASELINE_TITLES[self.method]


def score(method: str, maps, masks, display: str = "positive", tolerance: int = 0) -> PointingScore:
    """One method's maps (N, H, W) against the object masks (N, H, W)."""
    shares = energy_shares(maps, masks, display)
    empty = int(np.isnan(shares).sum())
    return PointingScore(method, float(hits(maps, masks, display, tolerance).mean()),
                         float(np.nanmean(shares)) if empty < len(shares) else float("nan"), len(shares), empty)


def baselines(masks, seed: int = 0, tolerance: int = 0) -> list[PointingScore]:
    """The random-map and centre-bump scores on these masks."""
    masks = np.asarray(masks, dtype=bool)
    return [score(RANDOM, random_maps(masks.shape, seed), masks, tolerance=tolerance),
            score(CENTRE, centre_maps(masks.shape), masks, tolerance=tolerance)]


def pointing_game(model, images: torch.Tensor, labels: torch.Tensor, masks, methods, batch_size: int = 50,
                  tolerance: int = 0, seed: int = 0, progress=None, **options) -> list[PointingScore]:
    """Each method's maps for the true class of each image (the object's), scored against the masks,
    then the two baselines. `options` go to engine.saliency.maps.attribute (layer, steps, window...);
    `progress(done, total)` is called after each batch of each method."""
    from engine.saliency.maps import attribute  # captum: only when maps are made

    masks = np.asarray(masks, dtype=bool)
    labels = torch.as_tensor(labels)
    batches = range(0, len(images), batch_size)
    results, done, total = [], 0, len(methods) * len(batches)
    for method in methods:
        maps = []
        for start in batches:
            maps.append(attribute(model, images[start:start + batch_size], labels[start:start + batch_size],
                                  method, **options).numpy())
            done += 1
            if progress is not None:
                progress(done, total)
        results.append(score(method, np.concatenate(maps), masks, DISPLAY[method], tolerance))
    return results + baselines(masks, seed, tolerance)
