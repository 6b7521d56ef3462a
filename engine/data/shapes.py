"""`shapes`: a colour image dataset made here, with each image's ground-truth object mask.

Every image holds one large shape of one of ten classes (random colour, size, position, rotation)
on a textured background, with smaller distractor shapes of other classes behind it. Because the
generator knows where the object is, saliency methods can be scored against the truth (the
pointing game, engine/saliency/pointing.py): something no real photo set offers on one's own model.

Generation is vectorised over whole chunks of images (numpy arrays of shape (n, size, size)), so a
few thousand 32 px images take well under a second; the same seed always gives the same images.
Loaded sets are cached per process (like MNIST): never modify their tensors in place.
"""
from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.core.params import Param
from engine.data.base import Dataset, DatasetInfo, register

CLASSES = ("circle", "square", "triangle", "star", "cross", "heart", "ring", "ellipse", "pentagon", "hexagon")
DEFAULT_SIZE = 32
OBJECT_RADIUS = (0.2, 0.34)     # the object's outer radius, as a share of the side
DISTRACTOR_SCALE = (0.3, 0.5)   # a distractor's radius, as a share of the object's
MAX_DISTRACTORS = 4             # at clutter 1
CONTRAST = (0.35, 0.65)         # each colour channel of the object differs from the background's base by this
PIXELS_PER_CHUNK = 2 ** 21      # images are drawn in chunks of about this many pixels (bounded memory at 224 px)

PARAMS = (
    Param("size", "int", DEFAULT_SIZE, "side of the square images in pixels (32 and 64 train fast; "
          "224 is an ImageNet network's input)", low=16, high=256, label="image size"),
    Param("n_train", "int", 4000, "training images", low=100, high=50000),
    Param("n_val", "int", 1000, "validation images (the pointing game scores these)", low=100, high=10000),
    Param("noise", "float", 0.05, "standard deviation of the pixel noise added last", low=0.0, high=0.5),
    Param("clutter", "float", 0.5, "background texture and number of distractor shapes "
          f"(0: a plain gradient, none; 1: strong texture, {MAX_DISTRACTORS} distractors)", low=0.0, high=1.0),
    Param("seed", "int", 0, "random seed of the images", low=0, high=2**31 - 1, label="data seed"),
)


# ---- the ten shapes, as inside-tests in the shape's own frame (outer radius 1) -------------------
def _polygon(sides: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Regular polygon with unit circumradius, one vertex pointing up."""
    rho = np.hypot(u, v)
    sector = 2 * np.pi / sides
    angle = np.mod(np.arctan2(u, -v), sector) - sector / 2  # angle from the nearest edge's normal
    return rho * np.cos(angle) <= np.cos(np.pi / sides)


def _star(u: np.ndarray, v: np.ndarray, points: int = 5, inner: float = 0.45) -> np.ndarray:
    """Five points: the edge radius goes linearly from 1 at a point to `inner` between two."""
    sector = 2 * np.pi / points
    t = np.mod(np.arctan2(u, -v), sector) / sector
    return np.hypot(u, v) <= inner + (1 - inner) * np.abs(2 * t - 1)


def _heart(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The implicit heart (x^2 + y^2 - 1)^3 - x^2 y^3 <= 0, scaled into the unit circle."""
    x, y = u * 1.25, -v * 1.25 + 0.15
    return (x * x + y * y - 1) ** 3 - x * x * y ** 3 <= 0


SHAPES = {
    "circle": lambda u, v: u * u + v * v <= 1,
    "square": lambda u, v: np.maximum(np.abs(u), np.abs(v)) <= 0.75,
    "triangle": lambda u, v: _polygon(3, u, v),
    "star": _star,
    "cross": lambda u, v: ((np.abs(u) <= 0.3) & (np.abs(v) <= 0.9)) | ((np.abs(u) <= 0.9) & (np.abs(v) <= 0.3)),
    "heart": _heart,
    "ring": lambda u, v: (u * u + v * v <= 1) & (u * u + v * v >= 0.55 ** 2),
    "ellipse": lambda u, v: u * u + (v / 0.55) ** 2 <= 1,
    "pentagon": lambda u, v: _polygon(5, u, v),
    "hexagon": lambda u, v: _polygon(6, u, v),
}
assert tuple(SHAPES) == CLASSES


def shape_masks(labels: np.ndarray, size: int, cx, cy, radius, angle) -> np.ndarray:
    """Masks (n, size, size) of shapes of classes `labels` centred at (cx, cy) pixels, outer radius
    `radius` pixels, rotated by `angle` radians; each argument one value per image."""
    grid = np.arange(size, dtype=np.float32) + 0.5  # pixel centres
    col = lambda a: np.asarray(a, dtype=np.float32)[:, None, None]  # noqa: E731
    dx, dy = grid[None, None, :] - col(cx), grid[None, :, None] - col(cy)
    cos, sin = col(np.cos(angle)), col(np.sin(angle))
    u, v = (dx * cos + dy * sin) / col(radius), (-dx * sin + dy * cos) / col(radius)
    masks = np.zeros((len(labels), size, size), dtype=bool)
    for index, name in enumerate(CLASSES):
        pick = labels == index
        if pick.any():
            masks[pick] = SHAPES[name](u[pick], v[pick])
    return masks


# ---- drawing ------------------------------------------------------------------------------------
@dataclass
class Drawn:
    """One chunk of images with what was drawn: images (n, 3, s, s) float32 in [0, 1], labels (n,)
    int64, masks (n, s, s) bool (the object's pixels) and the object's colours (n, 3)."""
    images: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    colours: np.ndarray


def _background(rng: np.random.Generator, n: int, size: int, clutter: float) -> tuple[np.ndarray, np.ndarray]:
    """Textured backgrounds (n, 3, s, s) and their base colours (n, 3): a gentle colour gradient,
    plus (scaled by clutter) stripes of random angle and frequency and smooth colour blotches."""
    base = rng.random((n, 3)).astype(np.float32)
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    ys, xs = grid[:, None], grid[None, :]
    direction = rng.uniform(0, 2 * np.pi, n).astype(np.float32)[:, None, None]
    ramp = xs * np.cos(direction) + ys * np.sin(direction)                       # (n, s, s) in about [-0.7, 0.7]
    image = base[:, :, None, None] + 0.15 * rng.uniform(-1, 1, (n, 3, 1, 1)).astype(np.float32) * ramp[:, None]
    if clutter > 0:
        stripe_angle = rng.uniform(0, np.pi, n).astype(np.float32)[:, None, None]
        frequency = rng.uniform(2, 6, n).astype(np.float32)[:, None, None]
        phase = rng.uniform(0, 2 * np.pi, n).astype(np.float32)[:, None, None]
        stripes = np.sin(2 * np.pi * frequency * (xs * np.cos(stripe_angle) + ys * np.sin(stripe_angle)) + phase)
        tint = rng.uniform(-1, 1, (n, 3, 1, 1)).astype(np.float32)
        blotches = F.interpolate(torch.from_numpy(rng.uniform(-1, 1, (n, 3, 4, 4)).astype(np.float32)),
                                 size=(size, size), mode="bicubic", align_corners=False).numpy()
        image = image + clutter * (0.12 * tint * stripes[:, None] + 0.12 * blotches)
    return image, base


def draw(rng: np.random.Generator, n: int, size: int, noise: float, clutter: float,
         labels: np.ndarray | None = None) -> Drawn:
    """`n` images of `size` px: background, distractors behind, the object on top, then noise."""
    labels = rng.integers(0, len(CLASSES), n) if labels is None else np.asarray(labels)
    image, base = _background(rng, n, size, clutter)

    radius = rng.uniform(*OBJECT_RADIUS, n) * size
    for _ in range(int(round(clutter * MAX_DISTRACTORS))):
        # Never the object's class: an image's label stays unambiguous (its largest shape).
        kinds = (labels + rng.integers(1, len(CLASSES), n)) % len(CLASSES)
        small = radius * rng.uniform(*DISTRACTOR_SCALE, n)
        cx, cy = rng.uniform(0, size, (2, n))
        masks = shape_masks(kinds, size, cx, cy, small, rng.uniform(0, 2 * np.pi, n))
        colour = rng.random((n, 3)).astype(np.float32)
        image = np.where(masks[:, None], colour[:, :, None, None], image)

    cx, cy = rng.uniform(radius, size - radius), rng.uniform(radius, size - radius)
    masks = shape_masks(labels, size, cx, cy, radius, rng.uniform(0, 2 * np.pi, n))
    colours = np.mod(base + rng.uniform(*CONTRAST, (n, 3)), 1.0).astype(np.float32)
    image = np.clip(np.where(masks[:, None], colours[:, :, None, None], image), 0, 1)
    if noise > 0:
        image = np.clip(image + noise * rng.standard_normal(image.shape, dtype=np.float32), 0, 1)
    return Drawn(image.astype(np.float32), labels.astype(np.int64), masks, colours)


def generate(n: int, size: int, noise: float, clutter: float, seed) -> Drawn:
    """`n` images drawn in chunks of bounded memory; the same arguments give the same images."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(CLASSES))  # balanced classes
    chunk = max(1, PIXELS_PER_CHUNK // (size * size))
    parts = [draw(rng, min(chunk, n - start), size, noise, clutter, labels[start:start + chunk])
             for start in range(0, n, chunk)]
    return Drawn(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("images", "labels", "masks", "colours")))


# ---- the registered dataset ---------------------------------------------------------------------
def shapes_info(size: int = DEFAULT_SIZE) -> DatasetInfo:
    """The description; `size` sets its input shape (the registry's cheap one is 32 px, a loaded
    set's is its own size, and models are built from the loaded one)."""
    return DatasetInfo("shapes", "Colour shapes with object masks (10 classes, 32x32 by default)", "image",
                       (3, size, size), CLASSES,
                       "Ten kinds of shape (circle, square, triangle, star, cross, heart, ring, ellipse, pentagon, "
                       "hexagon) in random colours, sizes, places and rotations on textured backgrounds with smaller "
                       "distractor shapes. Generated here from a seed; each image's object mask is known, so the "
                       "Saliency page can score its maps with the pointing game.", params=PARAMS)


_LOCK = threading.Lock()


def _key(options: dict) -> tuple:
    return tuple(options[p.name] for p in PARAMS)


@functools.lru_cache(maxsize=2)
def _generated(key: tuple) -> tuple[Drawn, Drawn]:
    size, n_train, n_val, noise, clutter, seed = key
    # Separate streams: the validation images do not change when the training set grows.
    return (generate(n_train, size, noise, clutter, [seed, 0]), generate(n_val, size, noise, clutter, [seed, 1]))


def generated(options: dict) -> tuple[Drawn, Drawn]:
    """The (training, validation) images for complete options, cached for the process."""
    with _LOCK:
        return _generated(_key(options))


def masks(options: dict, split: str = "val") -> torch.Tensor:
    """The object masks (N, size, size) bool of a loaded set's split ("train" or "val")."""
    train, val = generated(options)
    return torch.from_numpy((train if split == "train" else val).masks)


def masks_of(data: Dataset, split: str = "val") -> torch.Tensor | None:
    """A loaded dataset's object masks when it has them (a shapes set), else None: what the
    pointing game asks of any run's data."""
    return masks(data.options, split) if data.name == "shapes" else None


def load_shapes(options: dict, data_dir=None) -> Dataset:
    train, val = generated(options)
    t = torch.from_numpy
    return Dataset(shapes_info(options["size"]), t(train.images), t(train.labels), t(val.images), t(val.labels),
                   options=options)


register("shapes", shapes_info, load_shapes, lambda options: options["n_train"])
