"""The chosen dataset, shown before any run (TF Playground shows its points before it trains).

2D sets: the points, train and test marked apart, redrawn as the Data sliders move. Image sets: a row
of samples per class, with its name. Sequence tasks: a few input -> target pairs as the model reads
them. Loading is cached per (dataset, options), so a slider move costs one generation at most.
"""
from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from engine.core.params import ParamError
from engine.data import get_info, load_dataset
from pages._ui.plane import PlanePoints, draw_plane, plane_data, plane_points
from pages._ui.safe_markdown import escape_markdown

SAMPLES_PER_CLASS = 8   # images per class in the grid
PREVIEW_SIDE = 64       # larger images are shrunk to this side in the grid
PAIRS = 6               # input -> target pairs of a sequence task
PAD_SHOWN = "·"         # a padding token, drawn so the fixed length shows


@st.cache_data(max_entries=16, show_spinner=False)
def points_of(name: str, options: dict, checked: bool = True) -> PlanePoints:
    """A 2D set's points for these options (a regression set's values as floats). `checked=False`:
    a stored run's complete options, used as they are (see load_dataset)."""
    return plane_points(load_dataset(name, options, checked=checked))


@st.cache_data(max_entries=8, show_spinner="Picking a few images of each class...")
def class_samples(name: str, options: dict, per_class: int = SAMPLES_PER_CLASS) -> tuple[bytes, int, int]:
    """The first `per_class` training images of each class, a row per class, as one PNG; with
    the tile's size and the rows' count."""
    data = load_dataset(name, options)
    labels = data.y_train.numpy()
    rows = []
    for c in range(data.num_classes):
        found = np.flatnonzero(labels == c)[:per_class]
        tiles = data.x_train[found]
        if tiles.shape[-1] > PREVIEW_SIDE:  # 224 px photos: a row of full-size tiles is a picture of megabytes
            tiles = torch.nn.functional.interpolate(tiles, size=(PREVIEW_SIDE, PREVIEW_SIDE), mode="area")
        rows.append(tiles.numpy())
    grid = sample_grid(rows, per_class)
    return png_bytes(grid), int(next(r for r in rows if len(r)).shape[-1]), len(rows)


def sample_grid(rows: list[np.ndarray], per_class: int, gap: int = 2) -> np.ndarray:
    """Images (n, C, H, W) in [0, 1], one array per class, laid out as a row per class on a white
    ground: an (rows * (H + gap), per_class * (W + gap), 3) uint8 array. A class with fewer images
    than `per_class` leaves its row's end blank."""
    _, h, w = next(r for r in rows if len(r)).shape[1:]
    grid = np.full((len(rows) * (h + gap), per_class * (w + gap), 3), 255, dtype=np.uint8)
    for i, images in enumerate(rows):
        for j, image in enumerate(images[:per_class]):
            rgb = image if image.shape[0] == 3 else np.repeat(image[:1], 3, axis=0)
            tile = np.clip(rgb.transpose(1, 2, 0) * 255, 0, 255).astype(np.uint8)
            grid[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = tile
    return grid


def png_bytes(rgb: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG")
    return out.getvalue()


def png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


@st.cache_data(max_entries=16, show_spinner=False)
def sequence_pairs(name: str, options: dict, n: int = PAIRS) -> tuple[list[dict], tuple[str, ...]]:
    """The first `n` training pairs of a sequence task, as its tokens read (the input padded to
    the task's length, the target up to its end-of-sequence token), and the task's vocabulary."""
    data = load_dataset(name, options)
    if data.info.kind == "counting":
        return [{"input (bits)": "".join(str(int(b)) for b in x), "target (count)": int(y)}
                for x, y in zip(data.x_train[:n].tolist(), data.y_train[:n].tolist())], ()
    from engine.data.sequences import EOS, PAD, SPECIALS
    tokens = data.info.classes

    def show(ids, stop_at_end: bool) -> str:
        out = []
        for i in ids:
            if stop_at_end and i == EOS:
                out.append(SPECIALS[EOS])
                break
            out.append(PAD_SHOWN if i == PAD else tokens[i])
        return "".join(out)

    return [{"input": show(x, False), "target": show(y, True)}
            for x, y in zip(data.x_train[:n].tolist(), data.y_train[:n].tolist())], tuple(tokens)


def data_preview(name: str | None, values: dict, compact: bool = False) -> None:
    """The dataset `name` with these Data settings, drawn the way its kind is best seen (None: no
    dataset chosen yet, nothing to draw)."""
    if name is None:
        return
    try:
        info = get_info(name)
        options = {p.name: values.get(p.name, p.default) for p in info.params}
        if info.kind == "points":
            points_preview(name, options, compact)
        elif info.kind == "image":
            images_preview(name, options, info.classes, compact)
        elif info.kind in ("sequence", "counting"):
            sequences_preview(name, options, info)
    except (ParamError, ValueError) as err:  # a setting the dataset refuses: the sliders say why too
        st.warning(f"Cannot show this data: {escape_markdown(err)}", icon=":material/warning:")


def points_preview(name: str, options: dict, compact: bool) -> None:
    points = points_of(name, options)
    if not compact:
        st.markdown("**The data**: training points (circles) and test points (diamonds)")
    draw_plane(plane_data(points, height=300 if compact else 440), key="data_preview")
    st.caption(f"{len(points.x_train):,} training points, {len(points.x_val):,} test points"
               + ("" if points.regression else ": blue is class 0, orange class 1. The Data settings on the left "
                                               "redraw them."))


def images_preview(name: str, options: dict, classes, compact: bool) -> None:
    png, size, rows = class_samples(name, options)
    per_row = SAMPLES_PER_CLASS
    step = size + 2
    figure = go.Figure(go.Image(source=png_uri(png), hoverinfo="skip"))
    labels = [str(c) for c in classes[:rows]]
    figure.update_layout(
        height=(28 if compact else 40) * rows + 20, margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(visible=False, range=[-0.5, per_row * step - 0.5]),
        yaxis=dict(tickmode="array", tickvals=[i * step + size / 2 for i in range(rows)], ticktext=labels,
                   showgrid=False, zeroline=False, range=[rows * step - 0.5, -0.5]))
    st.plotly_chart(figure, key="data_preview")
    st.caption(f"The first {per_row} training images of each class, a row per class.")


def sequences_preview(name: str, options: dict, info) -> None:
    pairs, tokens = sequence_pairs(name, options)
    st.dataframe(pairs, hide_index=True)
    if info.kind == "sequence":
        st.caption(f"Training pairs as the model reads them: a vocabulary of {len(tokens)} tokens "
                   f"({escape_markdown(', '.join(tokens[:3]))} first); the input padded with {PAD_SHOWN} to its "
                   f"length, the target ended by {escape_markdown(tokens[2])}.")
    else:
        st.caption("Training pairs: a sequence of bits and how many ones it holds.")
