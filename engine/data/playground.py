"""The TensorFlow Playground 2D sets, ported from its dataset.ts: four classification sets and its
two regression sets (Plane, Multi gaussian).

Points are generated in Playground units (a radius-5 square; radius 6 for the regression sets) and
divided by 5, so features are roughly in [-1, 1]. Labels follow the Playground: +1 is blue (class 0),
-1 is orange (class 1). A regression set's label is a value in about [-1, 1] (float32).
"""
from __future__ import annotations

import numpy as np
import torch

from engine.data.base import Dataset, DatasetInfo, register
from engine.core.params import Param

CLASSES = ("blue", "orange")
RADIUS = 5.0


def _options(default_noise: float) -> tuple[Param, ...]:
    return (
        Param("n_samples", "int", 500, "number of points (train + test)", low=100, high=5000),
        Param("noise", "float", default_noise, "noise, as a fraction of the Playground's scale (0-50 %)",
              low=0.0, high=0.5),
        Param("train_fraction", "float", 0.5, "share of the points used for training", low=0.1, high=0.9),
        Param("seed", "int", 0, "random seed of the points", low=0, high=2**31 - 1, label="data seed"),
    )


def circle(n: int, noise: float, rng: np.random.Generator):
    """Blue disc of radius 2.5 inside an orange ring 3.5-5; noise can push labels across."""
    points = []
    for r_low, r_high in ((0.0, RADIUS * 0.5), (RADIUS * 0.7, RADIUS)):
        for _ in range(n // 2):
            r, angle = rng.uniform(r_low, r_high), rng.uniform(0, 2 * np.pi)
            x, y = r * np.sin(angle), r * np.cos(angle)
            nx, ny = rng.uniform(-RADIUS, RADIUS, 2) * noise
            points.append((x, y, 1 if np.hypot(x + nx, y + ny) < RADIUS * 0.5 else -1))
    return points


def xor(n: int, noise: float, rng: np.random.Generator):
    points = []
    for _ in range(n):
        x, y = rng.uniform(-5, 5, 2)
        x += 0.3 if x > 0 else -0.3  # padding keeps points off the axes
        y += 0.3 if y > 0 else -0.3
        nx, ny = rng.uniform(-5, 5, 2) * noise
        points.append((x, y, 1 if (x + nx) * (y + ny) >= 0 else -1))
    return points


def gaussians(n: int, noise: float, rng: np.random.Generator):
    variance = 0.5 + noise / 0.5 * 3.5  # the Playground maps noise 0..0.5 to variance 0.5..4
    points = []
    for centre, label in ((2.0, 1), (-2.0, -1)):
        for _ in range(n // 2):
            x, y = rng.normal(centre, np.sqrt(variance), 2)
            points.append((x, y, label))
    return points


def spiral(n: int, noise: float, rng: np.random.Generator):
    half = n // 2
    points = []
    for delta, label in ((0.0, 1), (np.pi, -1)):
        for i in range(half):
            r = i / half * RADIUS
            t = 1.75 * i / half * 2 * np.pi + delta
            x = r * np.sin(t) + rng.uniform(-1, 1) * noise
            y = r * np.cos(t) + rng.uniform(-1, 1) * noise
            points.append((x, y, label))
    return points


def regress_plane(n: int, noise: float, rng: np.random.Generator):
    """Uniform points in the radius-6 square; the value is (x + y) / 10 at the noisy point."""
    radius = 6.0
    x, y, nx, ny = rng.uniform(-radius, radius, (4, n))
    value = (x + nx * noise + y + ny * noise) / 10  # d3's linear scale from [-10, 10] to [-1, 1], unclamped
    return np.stack([x, y, value], 1)


# (centre x, centre y, sign): three bumps up, three down, in two rows
REGRESSION_GAUSSIANS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))


def gaussian_value(px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """The Multi gaussian set's value at points (Playground units): of the six cones
    sign * (1 - distance / 2), clamped to [0, 1] before the sign, the one largest in size (the first
    of equals, as the Playground's strict ">" keeps it); 0 far from every cone."""
    bumps = np.stack([sign * np.clip(1 - np.hypot(px - cx, py - cy) / 2, 0, 1)
                      for cx, cy, sign in REGRESSION_GAUSSIANS], -1)
    pick = np.abs(bumps).argmax(-1)
    return np.take_along_axis(bumps, pick[..., None], -1)[..., 0]


def regress_gaussian(n: int, noise: float, rng: np.random.Generator):
    """Uniform points in the radius-6 square; the value is gaussian_value at the noisy point."""
    radius = 6.0
    x, y, nx, ny = rng.uniform(-radius, radius, (4, n))
    return np.stack([x, y, gaussian_value(x + nx * noise, y + ny * noise)], 1)


GENERATORS = {
    "circle": (circle, "Circle", "A blue disc inside an orange ring: needs a non-linear boundary.", 0.0),
    "xor": (xor, "Exclusive or", "Four quadrants, blue where x and y share a sign: the classic XOR.", 0.0),
    "gaussians": (gaussians, "Two gaussians", "Two gaussian blobs; noise widens them until they overlap.", 0.0),
    "spiral": (spiral, "Spiral", "Two interleaved spiral arms: the hardest Playground set.", 0.1),
}


REGRESSION = {
    "plane": (regress_plane, "Plane", "A tilted plane: the value rises from one corner to the other "
              "((x + y) / 10): a linear model fits it.", 0.0),
    "multi_gaussian": (regress_gaussian, "Multi gaussian", "Six cones in two rows, up and down in turn: "
                       "the value is the nearest cone's height.", 0.0),
}
VALUE = ("value",)  # a regression set's one output


def _info(name: str) -> DatasetInfo:
    if name in REGRESSION:
        _, title, description, default_noise = REGRESSION[name]
        return DatasetInfo(name, f"{title} (TensorFlow Playground, 2D regression)", "points", (2,), VALUE,
                           description, params=_options(default_noise), task="regression")
    _, title, description, default_noise = GENERATORS[name]
    return DatasetInfo(name, f"{title} (TensorFlow Playground, 2D)", "points", (2,), CLASSES, description,
                       params=_options(default_noise))


def make_points(name: str, options: dict) -> tuple[np.ndarray, np.ndarray]:
    """All points (N, 2) float32 in about [-1, 1] and their classes (int64; a regression set's
    values, float32), shuffled, for a seed."""
    rng = np.random.default_rng(options["seed"])
    generate = (REGRESSION.get(name) or GENERATORS[name])[0]
    raw = np.array(generate(options["n_samples"], options["noise"], rng), dtype=np.float64)
    order = rng.permutation(len(raw))
    raw = raw[order]
    x = (raw[:, :2] / RADIUS).astype(np.float32)
    if name in REGRESSION:
        return x, raw[:, 2].astype(np.float32)
    y = np.where(raw[:, 2] > 0, 0, 1).astype(np.int64)
    return x, y


def _split_at(options: dict, total: int) -> int:
    return int(round(total * options["train_fraction"]))


def _generated_size(name: str, options: dict) -> int:
    n = options["n_samples"]
    return n if name == "xor" or name in REGRESSION else 2 * (n // 2)


def _load(name: str):
    def load(options: dict, data_dir) -> Dataset:
        x, y = make_points(name, options)
        cut = _split_at(options, len(x))
        t = torch.from_numpy
        return Dataset(_info(name), t(x[:cut]), t(y[:cut]), t(x[cut:]), t(y[cut:]), options=options)
    return load


for _name in (*GENERATORS, *REGRESSION):
    register(_name, lambda n=_name: _info(n), _load(_name),
             lambda options, n=_name: _split_at(options, _generated_size(n, options)))
