"""Target distributions for the GAN on 2D points (GAN Lab's view): a ring of 8 Gaussians (the
unrolled-GAN paper's classic), a 5 x 5 grid of Gaussians, a line and two moons.

Points are in about [-1, 1], like the TensorFlow Playground sets. Each point's label is the index
of the mode it was drawn from, so a generator's mode coverage can be measured against the true
modes (`modes(name, options)`). Their kind is "distribution": classifiers do not list them (a
classifier would learn to tell the modes apart, which is not what these sets are for); the 2D GAN
(engine/models/gan2d.py) trains on them and on the 2D "points" sets.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.core.params import Param
from engine.data.base import Dataset, DatasetInfo, register

KIND = "distribution"
RING_MODES = 8
RING_RADIUS = 1.0
GRID_SIDE = 5                                      # 5 x 5 Gaussians
GRID_CENTRES = np.linspace(-1.0, 1.0, GRID_SIDE)   # spacing 0.5
LINE_ENDS = np.array([[-0.8, -0.8], [0.8, 0.8]])
ARC_VERTICES = 65                                  # each moon as a polyline (for the distance to it)


@dataclass(frozen=True)
class Modes:
    """The true modes of a distribution: each a polyline (m, 2) (one vertex: a Gaussian's centre;
    more: a curve the points lie along), and the noise around them (standard deviation)."""
    shapes: tuple[np.ndarray, ...]
    sigma: float

    def __len__(self) -> int:
        return len(self.shapes)


def _ring_centres() -> np.ndarray:
    angles = 2 * np.pi * np.arange(RING_MODES) / RING_MODES
    return RING_RADIUS * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _grid_centres() -> np.ndarray:
    gx, gy = np.meshgrid(GRID_CENTRES, GRID_CENTRES)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def _moon(which: int, t: np.ndarray) -> np.ndarray:
    """scikit-learn's make_moons curves (upper: x = cos t, y = sin t; lower: x = 1 - cos t,
    y = 0.5 - sin t; t in [0, pi]), moved and scaled into [-1, 1] x [-0.5, 0.5]."""
    if which == 0:
        x, y = np.cos(t), np.sin(t)
    else:
        x, y = 1 - np.cos(t), 0.5 - np.sin(t)
    return np.stack([(x - 0.5) / 1.5, (y - 0.25) / 1.5], axis=1)


def _mode_shapes(name: str) -> tuple[np.ndarray, ...]:
    if name == "ring":
        return tuple(c[None] for c in _ring_centres())
    if name == "grid":
        return tuple(c[None] for c in _grid_centres())
    if name == "line":
        return (LINE_ENDS.copy(),)
    arc = np.linspace(0, np.pi, ARC_VERTICES)
    return _moon(0, arc), _moon(1, arc)


def modes(name: str, options: dict) -> Modes | None:
    """The true modes of distribution `name` with these options (None: not one of these sets)."""
    if name not in DISTRIBUTIONS:
        return None
    return Modes(_mode_shapes(name), float(options["noise"]))


def _on_shape(name: str, mode: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A noiseless point of each given mode: a Gaussian's centre, or a uniform place on its curve."""
    if name in ("ring", "grid"):
        return (_ring_centres() if name == "ring" else _grid_centres())[mode]
    t = rng.uniform(0, 1, len(mode))
    if name == "line":
        return LINE_ENDS[0] + t[:, None] * (LINE_ENDS[1] - LINE_ENDS[0])
    points = np.empty((len(mode), 2))
    for k in (0, 1):
        points[mode == k] = _moon(k, np.pi * t[mode == k])
    return points


def make_distribution(name: str, options: dict) -> tuple[np.ndarray, np.ndarray]:
    """n_samples points (N, 2) float32 and each one's mode (N,) int64, shuffled, for a seed: every
    mode gets the same number of points (give or take one)."""
    rng = np.random.default_rng(options["seed"])
    n, n_modes = options["n_samples"], len(DISTRIBUTIONS[name][1])
    mode = rng.permutation(np.arange(n) % n_modes)
    points = _on_shape(name, mode, rng) + rng.normal(0.0, options["noise"], (n, 2))
    return points.astype(np.float32), mode.astype(np.int64)


def _options(default_noise: float) -> tuple[Param, ...]:
    return (
        Param("n_samples", "int", 10000, "number of points (train + test)", low=100, high=50000),
        Param("noise", "float", default_noise, "standard deviation of the points around each mode "
              "(the plane spans about -1 to 1)", low=0.0, high=0.5),
        Param("train_fraction", "float", 0.8, "share of the points used for training (the rest "
              "measure the fit)", low=0.1, high=0.9),
        Param("seed", "int", 0, "random seed of the points", low=0, high=2**31 - 1, label="data seed"),
    )


# name: (title, mode names, description, default noise)
DISTRIBUTIONS = {
    "ring": ("Ring of 8 Gaussians", tuple(f"mode {i + 1}" for i in range(RING_MODES)),
             "8 Gaussians on a circle, the classic test of mode collapse (the unrolled-GAN paper, GAN Lab).",
             0.05),
    "grid": ("Grid of 25 Gaussians", tuple(f"mode {i + 1}" for i in range(GRID_SIDE ** 2)),
             "A 5 x 5 grid of Gaussians: many modes, close together.", 0.05),
    "line": ("Line", ("line",), "Points along a diagonal segment: one mode, a 1D manifold.", 0.03),
    "moons": ("Two moons", ("upper moon", "lower moon"), "Two interleaved half circles: two curved modes.",
              0.05),
}


def _info(name: str) -> DatasetInfo:
    title, classes, description, default_noise = DISTRIBUTIONS[name]
    return DatasetInfo(name, f"{title} (GAN target, 2D)", KIND, (2,), classes, description,
                       params=_options(default_noise))


def _split_at(options: dict) -> int:
    return int(round(options["n_samples"] * options["train_fraction"]))


def _load(name: str):
    def load(options: dict, data_dir) -> Dataset:
        x, y = make_distribution(name, options)
        cut = _split_at(options)
        t = torch.from_numpy
        return Dataset(_info(name), t(x[:cut]), t(y[:cut]), t(x[cut:]), t(y[cut:]), options=options)
    return load


for _name in DISTRIBUTIONS:
    register(_name, lambda n=_name: _info(n), _load(_name), _split_at)
