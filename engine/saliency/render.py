"""Saliency maps as pictures (uint8 RGB arrays): colour maps, overlays, the Grad-CAM paper row, grids.

Plain numpy + matplotlib's colour maps, so the page (st.image) and the CLI (PNG) draw the same thing.
"""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps

COLORMAPS = ("jet", "inferno", "viridis", "turbo", "magma")
SIGNED_COLORMAP = "RdBu_r"  # blue against, red for the class; white is zero


def to_rgb(image: np.ndarray) -> np.ndarray:
    """(C, H, W) or (H, W) floats in [0, 1] -> (H, W, 3) uint8."""
    a = np.asarray(image, dtype=np.float32)
    if a.ndim == 3:
        a = a[0] if a.shape[0] == 1 else np.moveaxis(a[:3], 0, -1)
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    return (np.clip(a, 0, 1) * 255).round().astype(np.uint8)


def colourise(values: np.ndarray, colormap: str = "jet", signed: bool = False) -> np.ndarray:
    """A normalised map ([0, 1], or [-1, 1] when signed) -> (H, W, 3) uint8."""
    v = np.asarray(values, dtype=np.float32)
    if signed:
        v, colormap = (v + 1) / 2, SIGNED_COLORMAP
    return (colormaps[colormap](np.clip(v, 0, 1))[..., :3] * 255).round().astype(np.uint8)


def overlay(image_rgb: np.ndarray, heat_rgb: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    blend = (1 - opacity) * image_rgb.astype(np.float32) + opacity * heat_rgb.astype(np.float32)
    return blend.round().clip(0, 255).astype(np.uint8)


def greyscale(values: np.ndarray, signed: bool = False) -> np.ndarray:
    """The map in grey: magnitude from black to white, or signed around mid-grey."""
    v = np.asarray(values, dtype=np.float32)
    return to_rgb((v + 1) / 2 if signed else v)


def upscale(rgb: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour enlargement, so 28x28 pixels stay crisp squares on screen."""
    return rgb.repeat(scale, axis=0).repeat(scale, axis=1) if scale > 1 else rgb


def paper_row(image: np.ndarray, values: np.ndarray, signed: bool = False, colormap: str = "jet",
              opacity: float = 0.5, scale: int = 4, gap: int = 4) -> np.ndarray:
    """input | heatmap | heatmap over the input | greyscale, side by side (the Grad-CAM paper's row)."""
    panels = paper_panels(image, values, signed, colormap, opacity)
    return hstack([upscale(p, scale) for p in panels], gap)


def paper_panels(image, values, signed=False, colormap="jet", opacity=0.5) -> list[np.ndarray]:
    base = to_rgb(image)
    heat = colourise(values, colormap, signed)
    return [base, heat, overlay(base, heat, opacity), greyscale(values, signed)]


def hstack(panels: list[np.ndarray], gap: int = 4) -> np.ndarray:
    height = max(p.shape[0] for p in panels)
    spacer = np.full((height, gap, 3), 255, np.uint8)
    parts = []
    for i, p in enumerate(panels):
        parts += ([spacer] if i else []) + [p]
    return np.concatenate(parts, axis=1)


def grid(maps: np.ndarray, columns: int = 8, scale: int = 2, gap: int = 2, colormap: str = "viridis") -> np.ndarray:
    """(N, h, w) maps, each scaled to its own range, tiled in a grid (feature maps, kernels)."""
    maps = np.asarray(maps, dtype=np.float32)
    n, h, w = maps.shape
    lo = maps.reshape(n, -1).min(1)[:, None, None]
    hi = maps.reshape(n, -1).max(1)[:, None, None]
    scaled = np.where(hi > lo, (maps - lo) / np.where(hi > lo, hi - lo, 1), 0)
    rows = -(-n // columns)
    cell_h, cell_w = h * scale + gap, w * scale + gap
    out = np.full((rows * cell_h - gap, min(n, columns) * cell_w - gap, 3), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, columns)
        out[r * cell_h:r * cell_h + h * scale, c * cell_w:c * cell_w + w * scale] = upscale(colourise(scaled[i], colormap), scale)
    return out


def clipped(values: np.ndarray, display: str = "abs", outlier_percent: float = 1.0) -> np.ndarray:
    """One map (H, W) as display values like normalise(), but scaled by the (100 - outlier_percent)th
    percentile of |map| and clipped: a photo's gradient maps have a few very bright pixels that would
    otherwise leave the rest black (captum's visualize_image_attr does the same, with 2 %)."""
    v = np.asarray(values, dtype=np.float32)
    v = np.clip(v, 0, None) if display == "positive" else (np.abs(v) if display == "abs" else v)
    scale = float(np.percentile(np.abs(v), 100 - outlier_percent))
    scale = scale if scale > 0 else float(np.abs(v).max()) or 1.0
    return np.clip(v / scale, -1.0, 1.0)
