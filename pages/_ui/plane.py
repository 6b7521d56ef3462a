"""A 2D set on its plane, as TensorFlow Playground draws it: the points (train and test marked
apart, blue class 0, orange class 1) and, once a model has one, its output over the plane.

Drawn in the browser on a canvas (pages/_ui/canvas/plane.js) mounted once: a new frame redraws it in
place. A chart library's figure is a new element each time its data changes (Streamlit keys a
chart by its content): measured in headless Chromium, each boundary frame rebuilt the whole plot,
WebGL context and all, and the browser's work slowed the run beside it. Arrays travel as base64
bytes (float32 points, the surface as 0..255), not as JSON lists: a few kilobytes per frame.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import streamlit as st

from pages._ui.training_charts import BLUE, NEUTRAL, ORANGE, PALETTE

MARGIN = 0.2          # the plane drawn is the training points and this much each side (as decision_grid)
HEIGHT = 440          # px: the plane (and its tick labels) at most this tall
CANVAS = Path(__file__).parent / "canvas"


@dataclass(frozen=True)
class PlanePoints:
    """A 2D set as plain arrays: (N, 2) coordinates, then labels (class ids) or, for a regression
    set, values; `classes` names the classes."""
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    classes: tuple[str, ...] = ("blue", "orange")

    @property
    def regression(self) -> bool:
        return self.y_train.dtype.kind == "f"

    def extent(self) -> tuple[float, float, float, float]:
        """x0, x1, y0, y1: the training points and MARGIN each side (as the boundary's grid is)."""
        low, high = self.x_train.min(0) - MARGIN, self.x_train.max(0) + MARGIN
        return float(low[0]), float(high[0]), float(low[1]), float(high[1])


def plane_points(data) -> PlanePoints:
    """The arrays of a loaded 2D Dataset."""
    return PlanePoints(data.x_train.numpy(), data.y_train.numpy(), data.x_val.numpy(), data.y_val.numpy(),
                       tuple(data.info.classes))


def class_colour(c: int) -> str:
    return (BLUE, ORANGE)[c] if c < 2 else PALETTE[c % len(PALETTE)]


def value_range(points: PlanePoints, surface=None) -> tuple[float, float]:
    """The colour scale's ends: 0 and 1 for probabilities; for a regression set, symmetric about 0
    over the values (TF Playground's -1..1)."""
    if not points.regression:
        return 0.0, 1.0
    values = [points.y_train, points.y_val] + ([np.asarray(surface[2], np.float32)] if surface is not None else [])
    top = max((float(np.abs(v).max()) for v in values if v.size), default=1.0) or 1.0
    return -top, top


def b64(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array).tobytes()).decode()


def point_arrays(x: np.ndarray, v: np.ndarray) -> dict:
    """Points as the canvas takes them: float32 coordinates and classes (or values), base64."""
    return {"xy": b64(np.asarray(x, np.float32).reshape(-1)), "v": b64(np.asarray(v, np.float32))}


def _edges(centres) -> tuple[float, float]:
    """The first and last cells' outer edges, for cells centred on `centres` (evenly spaced)."""
    centres = np.asarray(centres, dtype=np.float64)
    half = (centres[-1] - centres[0]) / max(len(centres) - 1, 1) / 2
    return float(centres[0] - half), float(centres[-1] + half)


def quantised(z: np.ndarray, low: float, high: float, discretise: bool) -> np.ndarray:
    """Values as 0..255 over low..high; discretised, each is one end or the other (the class)."""
    z = np.nan_to_num(np.asarray(z, dtype=np.float32), nan=(low + high) / 2)
    if discretise:
        return np.where(z >= (low + high) / 2, 255, 0).astype(np.uint8)
    return np.round(np.clip((z - low) / (high - low), 0, 1) * 255).astype(np.uint8)


def plane_data(points: PlanePoints, surface: tuple | None = None, *, show_test: bool = True,
               discretise: bool = False, step: int | None = None, height: int = HEIGHT) -> dict:
    """What the canvas draws: the points and, when given, the `surface` (xs, ys, z): z's rows are y
    (P(orange), or a regression's value); `discretise` colours each cell by the class it gives
    (TF Playground's "discretize output"); `step` names the frame (read back by tests and the benchmark)."""
    low, high = value_range(points, surface)
    if surface is not None:
        xs, ys, z = surface
        extent = (*_edges(xs), *_edges(ys))
    else:
        extent = points.extent()
    data = {
        "step": step, "extent": list(extent), "range": [low, high], "height": height,
        # TF Playground: orange for class 1 (a probability near 1), blue for a regression's positive values.
        "scale": [BLUE, NEUTRAL, ORANGE] if not points.regression else [ORANGE, NEUTRAL, BLUE],
        "label": "P(orange)" if not points.regression else "value",
        "classes": None if points.regression else list(points.classes),
        "colours": [class_colour(c) for c in range(len(points.classes))],
        "train": point_arrays(points.x_train, points.y_train),
        "test": point_arrays(points.x_val, points.y_val) if show_test else None,
        "surface": None,
    }
    if surface is not None:
        q = quantised(z, low, high, discretise)
        data["surface"] = {"nx": int(q.shape[1]), "ny": int(q.shape[0]), "q": b64(q)}
    return data


@cache
def canvas_source(name: str) -> str:
    return (CANVAS / name).read_text()


def draw_plane(data: dict, key: str) -> None:
    """Mount (first time) or update the plane canvas `key` with `data` (from plane_data)."""
    # Registered at each draw: the registry belongs to the running server (a test runs several),
    # and registering the same definition again is free and silent.
    component = st.components.v2.component("deep_playground.plane", js=canvas_source("plane.js"), css=canvas_source("canvas.css"),
                                           isolate_styles=False)
    component(data=data, key=key)
