"""What each neuron computes: TensorFlow Playground's network view, drawn from a run's live frame.

Columns of small maps (the input features, each hidden layer's first units, the output), each map
a unit's value over the input plane (blue positive, orange negative), and between the columns the
weights as lines (blue positive, orange negative, wider for larger). The frame carries the arrays
(the contract: "features", "feature_names", "layer1".."layerL", "layer_sizes", "weights1"..
"weights{L+1}", "output", "neuron_x", "neuron_y"; see engine/objectives).

Fast at 8 layers x 32 units: the maps are composed into ONE image with numpy (sent as a PNG), and
the lines into a handful of groups (by sign and width), each one path on a canvas
(pages/_ui/canvas/network.js) that is mounted once and redrawn in place on a new frame.
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass

import numpy as np
import streamlit as st

from pages._ui.plane import canvas_source
from pages._ui.training_charts import BLUE, NEUTRAL, ORANGE

TILE_GAP = 6            # pixels (cells of the frame's grid) between two maps of a column
# The space between columns, in maps' widths (room for the lines): wide for a few columns, narrower
# for many, so that 10 columns (8 layers) still fit the page's right-hand column with maps ~20 px wide.
COLUMN_GAP_MOST, COLUMN_GAP_LEAST = 2.4, 1.2
LABELS = 46             # screen px left of the features for their names
PAD_RIGHT = 24          # screen px right of the output, for its title
WIDTHS = (0.5, 1.0, 1.7, 2.6)  # line widths of the weight buckets, smallest to largest weight
MAX_HEIGHT = 420        # px on screen at most; a long, shallow network gets less (it fits the width)


def _hex(colour: str) -> np.ndarray:
    return np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)


def _diverging_lut() -> np.ndarray:
    """255 colours from orange (-1) through TF Playground's grey-white (0, the middle one) to blue (+1)."""
    t = np.linspace(-1, 1, 255)[:, None]
    low, mid, high = _hex(ORANGE), _hex(NEUTRAL), _hex(BLUE)
    colours = np.where(t < 0, mid + (low - mid) * -t, mid + (high - mid) * t)
    return np.round(colours).astype(np.uint8)


LUT = _diverging_lut()


def colour_tiles(values: np.ndarray) -> np.ndarray:
    """Values in [-1, 1] (any shape) as RGB uint8 (shape + (3,)): orange, grey-white, blue."""
    index = np.round((np.clip(np.nan_to_num(values), -1, 1) + 1) * 127).astype(np.intp)
    return LUT[index]


def _scaled(values: np.ndarray) -> np.ndarray:
    """Values divided by their largest magnitude (all zero stays zero): a map's pattern shows
    whatever its range (a ReLU unit's 0..40 as well as a feature's -1..1)."""
    values = np.asarray(values, dtype=np.float32)
    top = float(np.abs(values).max()) if values.size else 0.0
    return values / top if top > 0 else values


@dataclass(frozen=True)
class Column:
    """One column of maps: its title, the maps (n, g, g) in [-1, 1] with row 0 at the top (the
    plane's largest y), each map's name, and (shown, total) units where a layer is cut."""
    title: str
    maps: np.ndarray
    names: tuple[str, ...]
    shown_of: tuple[int, int] | None = None


def has_neurons(frame: dict) -> bool:
    """A frame that can draw the network (the TF-Playground network on 2D points)."""
    return all(k in frame for k in ("features", "layer_sizes", "output", "weights1"))


def _top_up(maps: np.ndarray, frame: dict) -> np.ndarray:
    """Rows of a frame's maps run along the plane's y upwards; an image's run downwards."""
    y = frame.get("neuron_y")
    ascending = y is None or len(y) < 2 or y[0] < y[-1]
    return maps[..., ::-1, :] if ascending else maps


def network_columns(frame: dict, probability: bool = True) -> tuple[list[Column], list[np.ndarray]]:
    """The frame's columns (features, hidden layers, output) and the weights between them: the
    i-th array (shown_out, shown_in) joins column i to column i+1. Features are scaled each on its
    own, a hidden layer's units together (a weak unit looks weak beside a strong one). A
    classifier's output (`probability`: P(orange)) is drawn blue where it says blue, and each weight
    into it as its pull towards blue (the frame's pull towards orange, negated), so that blue into a
    blue map means "more blue" everywhere, as in TF Playground; a regression's output is its value."""
    sizes = [int(s) for s in np.asarray(frame["layer_sizes"]).reshape(-1)]
    features = np.asarray(frame["features"], dtype=np.float32)
    names = tuple(str(n) for n in frame.get("feature_names", [f"x{i + 1}" for i in range(len(features))]))
    columns = [Column("features", _top_up(np.stack([_scaled(f) for f in features]), frame), names)]
    for i, size in enumerate(sizes, start=1):
        maps = np.asarray(frame[f"layer{i}"], dtype=np.float32)
        shown = len(maps)
        columns.append(Column(f"layer {i}", _top_up(_scaled(maps), frame),
                              tuple(f"layer {i}, unit {u + 1}" for u in range(shown)),
                              (shown, size) if shown < size else None))
    output = np.asarray(frame["output"], dtype=np.float32)
    towards_blue = 1 - 2 * output if probability else _scaled(output)
    columns.append(Column("output", _top_up(towards_blue[None], frame), ("output",)))
    weights = [np.asarray(frame[f"weights{i}"], dtype=np.float32) for i in range(1, len(sizes) + 2)]
    if probability:
        weights[-1] = -weights[-1]
    return columns, weights


@dataclass(frozen=True)
class Mosaic:
    """The maps composed into one RGB image, and where each map sits in it (pixel centres: the
    top-left pixel of map j of column i is at lefts[i], tops[i][j])."""
    image: np.ndarray          # (H, W, 3) uint8, white between the maps
    lefts: list[int]
    tops: list[list[int]]
    size: int                  # a map's side in pixels


def column_gap(n_columns: int) -> float:
    """Maps' widths between two columns: COLUMN_GAP_MOST up to 4 columns, then narrower."""
    return float(np.clip(COLUMN_GAP_MOST - 0.2 * (n_columns - 4), COLUMN_GAP_LEAST, COLUMN_GAP_MOST))


def compose(columns: list[Column]) -> Mosaic:
    """Every column's maps in one image: columns side by side (column_gap maps apart), maps stacked
    TILE_GAP apart, each column centred on the tallest."""
    size = columns[0].maps.shape[-1]
    gap = int(round(column_gap(len(columns)) * size))
    tallest = max(len(c.maps) for c in columns)
    height = tallest * (size + TILE_GAP) - TILE_GAP
    width = len(columns) * size + (len(columns) - 1) * gap
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    lefts, tops = [], []
    for i, column in enumerate(columns):
        left = i * (size + gap)
        first = (tallest - len(column.maps)) * (size + TILE_GAP) // 2
        column_tops = [first + j * (size + TILE_GAP) for j in range(len(column.maps))]
        rgb = colour_tiles(column.maps)
        for j, top in enumerate(column_tops):
            image[top:top + size, left:left + size] = rgb[j]
        lefts.append(left)
        tops.append(column_tops)
    return Mosaic(image, lefts, tops, size)


def weight_segments(mosaic: Mosaic, weights: list[np.ndarray]) -> dict[tuple[bool, int], list[float]]:
    """The lines between columns, grouped by (positive, width bucket): for each group its segments'
    x0, y0, x1, y1 one after another (one canvas path draws them all). A weight joins the right
    edge of its input's map to the left edge of its output's, at the maps' middles; its width bucket
    is its size relative to the largest weight between the same two columns. (Coordinates: the
    mosaic's pixels, (0, 0) its top-left corner.)"""
    size = mosaic.size
    groups: dict[tuple[bool, int], list[float]] = {}
    for i, w in enumerate(weights):
        top = float(np.abs(w).max()) if w.size else 0.0
        if top == 0:
            continue
        x0, x1 = mosaic.lefts[i] + size, mosaic.lefts[i + 1]
        buckets = np.minimum((np.abs(w) / top * len(WIDTHS)).astype(int), len(WIDTHS) - 1)
        for out, into in np.ndindex(w.shape):
            if out >= len(mosaic.tops[i + 1]) or into >= len(mosaic.tops[i]):
                continue  # a frame with more weights than maps: only the maps shown are joined
            groups.setdefault((bool(w[out, into] >= 0), int(buckets[out, into])), []).extend(
                (x0, mosaic.tops[i][into] + size / 2, x1, mosaic.tops[i + 1][out] + size / 2))
    return groups


def cut_layers_note(columns: list[Column]) -> str:
    """"Layers 1-8: showing 8 of 32 units each." (or one layer at a time when they differ); "" when
    every unit is shown."""
    cut = [(c.title, c.shown_of) for c in columns if c.shown_of]
    if not cut:
        return ""
    if len({of for _, of in cut}) == 1:
        shown, total = cut[0][1]
        where = cut[0][0].capitalize() if len(cut) == 1 else f"Layers {cut[0][0][6:]}-{cut[-1][0][6:]}"
        return f"{where}: showing {shown} of {total} units{' each' if len(cut) > 1 else ''} (the first ones)."
    return "; ".join(f"{title}: showing {s} of {t} units" for title, (s, t) in cut) + " (the first ones)."


def _png_uri(rgb: np.ndarray) -> str:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG", compress_level=1)  # fast: it is redrawn live
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def _title(column: Column) -> list[str]:
    return [column.title] + ([f"{column.shown_of[0]} of {column.shown_of[1]}"] if column.shown_of else [])


def network_data(frame: dict, step: int | None = None, probability: bool = True) -> dict:
    """What the network canvas draws for a frame: one image of every map, a few groups of lines
    (`probability`: the output is a classifier's P(orange), not a regression's value)."""
    columns, weights = network_columns(frame, probability)
    mosaic = compose(columns)
    height, width = mosaic.image.shape[:2]
    half = mosaic.size / 2
    lines = [{"colour": BLUE if positive else ORANGE, "width": WIDTHS[bucket],
              "xy": base64.b64encode(np.asarray(xy, np.float32).tobytes()).decode()}
             for (positive, bucket), xy in sorted(weight_segments(mosaic, weights).items())]
    return {
        "step": step, "image": _png_uri(mosaic.image), "w": width, "h": height, "left": LABELS, "right": PAD_RIGHT,
        "maxHeight": MAX_HEIGHT, "lines": lines,
        "titles": [{"x": left + half, "lines": _title(c)} for left, c in zip(mosaic.lefts, columns)],
        "labels": [{"y": top + half, "text": name} for top, name in zip(mosaic.tops[0], columns[0].names)],
        "units": [{"x": left + half, "y": top + half, "size": mosaic.size, "name": name}
                  for left, tops, column in zip(mosaic.lefts, mosaic.tops, columns)
                  for top, name in zip(tops, column.names)],
    }


def draw_network(data: dict, key: str) -> None:
    """Mount (first time) or update the network canvas `key` with `data` (from network_data)."""
    # Registered at each draw, as the plane (pages/_ui/plane.py says why).
    component = st.components.v2.component("deep_playground.network", js=canvas_source("network.js"),
                                           css=canvas_source("canvas.css"), isolate_styles=False)
    component(data=data, key=key)
