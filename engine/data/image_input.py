"""Turn a user's picture (an upload, a canvas drawing) into a model input, with notes on what changed.

Any format Pillow reads; refused when it is not an image or larger than MAX_PIXELS (a decompression
bomb guard); alpha composited, 16-bit scaled to 8-bit, converted to the model's channels and size.
For MNIST-like models the digit is prepared the way MNIST's were: light ink on a dark background
(inverted when the picture is dark-on-light), cropped to its ink, scaled into a 20x20 box and centred
by its centre of mass in 28x28.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.core.uploads import size_text

MAX_PIXELS = 40_000_000  # refused above this (about 6300 x 6300); Pillow's own bomb limit is ~179M
MAX_IMAGE_BYTES = 50 * 2**20  # an upload's size limit (the page's uploader states it too)
WORKING_SIDE = 1024      # larger pictures are downscaled to this before any other step, with a note


@dataclass
class PreparedImage:
    tensor: torch.Tensor               # (1, C, H, W) float in [0, 1]
    notes: list[str] = field(default_factory=list)


def open_image(data: bytes, name: str = "the file") -> tuple[Image.Image, list[str]]:
    """Decode and sanity-check; raise ValueError with a message a person can act on."""
    notes: list[str] = []
    if not data:
        raise ValueError(f"{name} is empty")
    if len(data) > MAX_IMAGE_BYTES:
        raise ValueError(f"{name} is {size_text(len(data))}; the limit for an image is {size_text(MAX_IMAGE_BYTES)}")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            fmt = probe.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{name} is not an image Pillow can read (PNG, JPEG, GIF, BMP, TIFF, WebP...): {err}") from None
    except Image.DecompressionBombError:
        raise ValueError(f"{name} is too large to open safely") from None
    if width * height > MAX_PIXELS:
        raise ValueError(f"{name} is {width} x {height} = {width * height:,} pixels; the limit is "
                         f"{MAX_PIXELS:,}: downscale it first")
    try:
        image = Image.open(io.BytesIO(data))
        image.load()  # a truncated or corrupt file fails here, not later
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"{name} is damaged ({fmt}): {err}") from None
    if getattr(image, "n_frames", 1) > 1:
        notes.append(f"{name} has {image.n_frames} frames: the first is used")
    if max(image.size) > WORKING_SIDE:
        image.thumbnail((WORKING_SIDE, WORKING_SIDE))
        notes.append(f"downscaled from {width} x {height} to {image.size[0]} x {image.size[1]}")
    return image, notes


def _to_8bit(image: Image.Image, notes: list[str]) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(image, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)
        notes.append(f"{image.mode} image ({'16-bit' if '16' in image.mode else '32-bit'}) rescaled to 8-bit")
        return Image.fromarray(a.round().astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        # Composite on the colour that the transparent parts most likely stand for: a canvas drawing
        # is ink on transparent, so on black when the ink is light and on white when it is dark.
        alpha = np.asarray(rgba)[..., 3]
        ink = np.asarray(rgba.convert("L"))[alpha > 0]
        background = (0, 0, 0) if ink.size and ink.mean() > 127 else (255, 255, 255)
        notes.append("transparency flattened onto " + ("black" if background == (0, 0, 0) else "white"))
        flat = Image.new("RGB", rgba.size, background)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB") if image.mode not in ("L", "RGB") else image


def _mnist_style(gray: np.ndarray, notes: list[str], side: int = 28) -> np.ndarray:
    """Light digit on dark, cropped to the ink, fitted in a 20x20 box, centred by mass in side x side."""
    a = gray.astype(np.float32) / 255.0
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    if border.mean() > 0.5:
        a = 1.0 - a
        notes.append("inverted: MNIST digits are light ink on a dark background")
    # Paper is never black: subtract the background level, then stretch the ink to full range.
    background = float(np.median(np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])))
    a = np.clip(a - background, 0, None)
    peak = float(a.max())
    a = a / peak if peak > 0 else a
    ys, xs = np.nonzero(a > 0.1)
    if len(ys) == 0:
        notes.append("no ink found: the input is blank")
        return np.zeros((side, side), np.float32)
    crop = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    box = round(side * 20 / 28)
    scale = box / max(crop.shape)
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize(size, Image.LANCZOS), np.float32) / 255
    out = np.zeros((side, side), np.float32)
    total = small.sum()
    cy, cx = ((np.indices(small.shape) * small).reshape(2, -1).sum(1) / total) if total > 0 else (small.shape[0] / 2, small.shape[1] / 2)
    top, left = int(round(side / 2 - cy)), int(round(side / 2 - cx))
    top, left = min(max(top, 0), side - small.shape[0]), min(max(left, 0), side - small.shape[1])
    out[top:top + small.shape[0], left:left + small.shape[1]] = small
    return out


def prepare(image: Image.Image, input_shape: tuple, notes: list[str] | None = None,
            digit_style: bool = True) -> PreparedImage:
    """`input_shape` = (C, H, W) of the model. digit_style: MNIST preprocessing for 1-channel models."""
    notes = list(notes or [])
    channels, height, width = input_shape
    image = ImageOps.exif_transpose(image) or image
    image = _to_8bit(image, notes)
    if channels == 1:
        if image.mode != "L":
            notes.append(f"converted from {image.mode} to greyscale")
        gray = np.asarray(image.convert("L"))
        if digit_style and height == width:
            array = _mnist_style(gray, notes, height)
        else:
            array = np.asarray(Image.fromarray(gray).resize((width, height), Image.LANCZOS), np.float32) / 255
        tensor = torch.from_numpy(array)[None, None]
    else:
        rgb = image.convert("RGB")
        fitted = ImageOps.fit(rgb, (width, height), Image.LANCZOS)
        tensor = torch.from_numpy(np.asarray(fitted, np.float32) / 255).permute(2, 0, 1)[None]
        if channels != 3:
            tensor = tensor.mean(1, keepdim=True).repeat(1, channels, 1, 1)
    if image.size != (width, height):
        notes.append(f"resized from {image.size[0]} x {image.size[1]} to {width} x {height}")
    return PreparedImage(tensor.float().clamp(0, 1), notes)


def prepare_bytes(data: bytes, input_shape: tuple, name: str = "the file", digit_style: bool = True) -> PreparedImage:
    image, notes = open_image(data, name)
    return prepare(image, input_shape, notes, digit_style)


def prepare_array(rgba: np.ndarray, input_shape: tuple, digit_style: bool = True) -> PreparedImage:
    """A canvas drawing (H, W, 4) uint8."""
    image = Image.fromarray(np.asarray(rgba, dtype=np.uint8), "RGBA" if rgba.shape[-1] == 4 else "RGB")
    return prepare(image, input_shape, [], digit_style)
