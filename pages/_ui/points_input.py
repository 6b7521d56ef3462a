"""Your own 2D points on the Training page: a CSV uploaded, or points drawn by clicking on the plane.

Either way they are checked and saved as a dataset (engine/data/saved_points.py), which the page's
dataset picker then selects: Start trains on it like on any other 2D set, and it stays in the
picker (and in the URL of a shared link, on this machine) from then on.

Drawing: Streamlit's plotly chart reports clicks only on points it draws, so the plane is covered by
a grid of invisible markers (one every GRID_STEP) and a click adds a point where the clicked marker
sits. Each click draws the chart anew under a new key: its selection starts empty, so clicking the
same spot twice adds two points instead of selecting an already selected marker.
"""
from __future__ import annotations

from functools import partial

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from engine.core.registry import TRAINING_PARAMS
from engine.data import get_info, train_size
from engine.data.custom_points import (DRAWN_CLASSES, FORMAT, MAX_BYTES, MIN_POINTS, PointsError, drawn_points,
                                       read_points_csv)
from engine.data.saved_points import PREFIX, save_points
from pages._ui.safe_markdown import escape_markdown
from pages._ui.training_charts import BLUE, ORANGE

OWN_POINTS = "Your own points (CSV or drawn)"  # the picker's choice; a bound picker puts it in the URL
PICKER = "dataset"                             # the key of the Training page's dataset picker
BATCH = "batch_size"                           # the key of its batch size slider
GRID_STEP = 0.05
COLOURS = (BLUE, ORANGE)

# Session state: the points drawn so far as (x, y, class); the plane chart's version (its key);
# a problem with the last upload or drawing; the dataset just saved (said once under the picker).
DRAWN, VERSION, PROBLEM, SAVED = "own_points_drawn", "own_points_plane", "own_points_problem", "own_points_saved"


def with_own_points(choices: list[str], data_kinds) -> list[str]:
    """The picker's choices, with "your own points" for a model that trains on 2D points."""
    return [*choices, OWN_POINTS] if "points" in data_kinds else choices


def own_points_panel() -> str:
    """The upload and the drawing plane; returns why no run can start yet."""
    st.caption(FORMAT)
    st.file_uploader("Upload a CSV of points", type=["csv"], key="own_points_csv", on_change=_uploaded,
                     max_upload_size=MAX_BYTES // 2**20,
                     help="x, y and label columns, with a header line; the points are saved as a dataset "
                          "that stays in the picker")
    if (problem := st.session_state.get(PROBLEM)) is not None:
        st.error(escape_markdown(problem), icon=":material/error:")
    st.markdown("**Or draw them**: pick a colour, then click on the plane to add a point there.")
    drawing_plane()
    return "upload a CSV of points, or draw some and press Use these points"


def saved_note(dataset: str) -> None:
    """Under the picker, once: which dataset the points just saved became."""
    saved = st.session_state.get(SAVED)
    if saved is not None and saved[0] == dataset and dataset.startswith(PREFIX):
        del st.session_state[SAVED]
        st.success(f"Saved and selected: {escape_markdown(get_info(dataset).title)}, dataset `{dataset}`.{saved[1]} "
                   "Press Start to train on it.", icon=":material/check_circle:")


def drawing_plane() -> None:
    points = st.session_state.setdefault(DRAWN, [])
    colour = st.radio("Colour of the next point", DRAWN_CLASSES, horizontal=True, key="own_points_colour")
    key = f"own_points_plane_{st.session_state.get(VERSION, 0)}"
    st.plotly_chart(plane_figure(points), key=key, on_select=partial(_clicked, key, DRAWN_CLASSES.index(colour)),
                    selection_mode="points", config={"displayModeBar": False, "scrollZoom": False})
    counts = np.bincount([c for _, _, c in points], minlength=2)
    st.caption(f"{len(points)} point{'s' * (len(points) != 1)}: {counts[0]} blue, {counts[1]} orange "
               f"(at least {MIN_POINTS}, of both colours).")
    undo, clear = st.columns(2)
    undo.button("Undo", icon=":material/undo:", on_click=_undo, disabled=not points, width="stretch")
    clear.button("Clear", icon=":material/delete:", on_click=_clear, disabled=not points, width="stretch")
    st.button("Use these points", icon=":material/check:", on_click=_use_drawn, disabled=not points,
              width="stretch", help="save them as a dataset and select it")


def plane_figure(points: list) -> go.Figure:
    """The [-1, 1] square: the clickable grid (invisible) under the points drawn so far."""
    grid = np.arange(-1, 1 + GRID_STEP / 2, GRID_STEP).round(3)
    gx, gy = np.meshgrid(grid, grid)
    fig = go.Figure()
    fig.add_scatter(x=gx.ravel(), y=gy.ravel(), mode="markers", name="plane", showlegend=False,
                    marker=dict(size=10, color="rgba(0,0,0,0)"), hovertemplate="click: a point at (%{x}, %{y})"
                    "<extra></extra>", selected=dict(marker=dict(color="rgba(0,0,0,0)")),
                    unselected=dict(marker=dict(opacity=0)))
    for cls, name in enumerate(DRAWN_CLASSES):
        mine = [(x, y) for x, y, c in points if c == cls]
        fig.add_scatter(x=[p[0] for p in mine], y=[p[1] for p in mine], mode="markers", name=name,
                        marker=dict(color=COLOURS[cls], size=9, line=dict(color="#333333", width=0.5)),
                        unselected=dict(marker=dict(opacity=1)), hoverinfo="skip")
    axis = dict(range=[-1.08, 1.08], fixedrange=True, zeroline=False, dtick=0.5, gridcolor="#eeeeee")
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=10, b=10), xaxis=axis,
                      yaxis=dict(axis, scaleanchor="x", scaleratio=1), dragmode=False, plot_bgcolor="white",
                      legend=dict(orientation="h", y=-0.08), clickmode="event+select", hovermode="closest")
    return fig


# ---- callbacks: they run before the script, so they may set the picker's value --------------------
def _uploaded() -> None:
    file = st.session_state.get("own_points_csv")
    st.session_state.pop(PROBLEM, None)
    if file is None:
        return
    try:
        points = read_points_csv(file, file.name)
    except PointsError as err:
        st.session_state[PROBLEM] = f"{file.name}: {err}"
        return
    _select(save_points(points))


def _clicked(key: str, cls: int) -> None:
    event = st.session_state.get(key)
    picked = event["selection"]["points"] if event else []
    for p in picked:
        x, y = float(p["x"]), float(p["y"])
        if abs(x) <= 1 and abs(y) <= 1:
            st.session_state.setdefault(DRAWN, []).append((round(x, 3), round(y, 3), cls))
    _new_plane()


def _undo() -> None:
    if st.session_state.get(DRAWN):
        st.session_state[DRAWN].pop()
    _new_plane()


def _clear() -> None:
    st.session_state[DRAWN] = []
    st.session_state.pop(PROBLEM, None)
    _new_plane()


def _use_drawn() -> None:
    try:
        points = drawn_points(st.session_state.get(DRAWN, []))
    except PointsError as err:
        st.session_state[PROBLEM] = f"Drawn points: {err}"
        return
    st.session_state.pop(PROBLEM, None)
    _select(save_points(points))


def _new_plane() -> None:
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1


def _select(dataset: str) -> None:
    """Select the saved points in the picker, or say why they cannot be trained on here."""
    info = get_info(dataset)
    if not info.available:
        st.session_state[PROBLEM] = f"Saved as {dataset}, but it cannot be trained on here: {info.hint}"
        return
    st.session_state[PICKER] = dataset
    st.session_state[SAVED] = (dataset, _fit_batch(dataset))


def _fit_batch(dataset: str) -> str:
    """A batch no larger than the training points (a small drawn set has fewer than the default 64):
    else Start would only say that it is too large. Returns what it changed, in words."""
    points = train_size(dataset)
    batch = st.session_state.get(BATCH, next(p.default for p in TRAINING_PARAMS if p.name == BATCH))
    if batch <= points:
        return ""
    fitted = 2 ** (points.bit_length() - 1)  # the batch slider offers powers of two
    st.session_state[BATCH] = fitted
    return f" Batch size set to {fitted} to fit its {points} training points."
