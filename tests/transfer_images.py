"""Images made in the tests of transfer learning: two visibly different classes, red discs and blue
stripes, at random positions, sizes and shades over a noisy light background (seeded)."""
from __future__ import annotations

import io
import zipfile

import numpy as np


def make_image(kind: str, rng: np.random.Generator, size: int = 96) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    image = rng.integers(170, 255, (size, size, 3)).astype(np.uint8)
    if kind == "discs":
        cx, cy, r = rng.integers(size // 4, 3 * size // 4, 2).tolist() + [int(rng.integers(size // 8, size // 4))]
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
        image[inside] = (int(rng.integers(180, 255)), int(rng.integers(0, 60)), int(rng.integers(0, 60)))
    else:
        period = int(rng.integers(8, 16))
        inside = (xx + int(rng.integers(0, period))) % period < period // 2
        image[inside] = (int(rng.integers(0, 60)), int(rng.integers(0, 80)), int(rng.integers(160, 255)))
    return image


def png(image: np.ndarray) -> bytes:
    from PIL import Image
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def image_zip(per_class: int = 20, seed: int = 0, extra: dict[str, bytes] | None = None,
              classes: tuple[str, ...] = ("discs", "stripes"), wrap: str = "") -> bytes:
    """A zip of `per_class` PNGs per class in folders named after them (under `wrap/` when given),
    plus `extra` members as they are (name -> bytes)."""
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for kind in classes:
            for i in range(per_class):
                archive.writestr(f"{wrap}{kind}/{i}.png", png(make_image(kind if kind in ("discs", "stripes")
                                                                         else "discs", rng)))
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()
