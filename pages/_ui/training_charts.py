"""Plotly figures for the training page: curves, decision boundary, gradient norms, confusion."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine.training.curves import downsample_minmax, x_axis

MAX_POINTS = 2000  # above this the display (never the store) keeps min/max per bucket (~2 per pixel)
X_TITLES = {"step": "step", "epoch": "epoch", "wall": "seconds since start"}
# TF Playground's colours: blue for class 0, orange for class 1.
BLUE, ORANGE = "#0877bd", "#f59322"
NEUTRAL = "#e8eaeb"  # TF Playground's colour for 0 (between the two classes)
SURFACE_SCALE = [[0, BLUE], [0.5, NEUTRAL], [1, ORANGE]]
MARGIN = 0.2  # the plane drawn is the training points and this much each side
PALETTE = ("#0068c9", "#ff2b2b", "#29b09d", "#ff8700", "#7d353b", "#6d3fc0")


def _layout(fig: go.Figure, title: str, x_mode: str, log_y: bool = False, height: int = 300,
            y_title: str | None = None) -> go.Figure:
    """Plotly neither wraps nor shrinks a title: a chart's title stays short enough for a third of
    the page (units go in `y_title`), or it is cut ("Reconstruction (BCE, nats/im")."""
    fig.update_layout(title=title, height=height, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", y=-0.25), xaxis_title=X_TITLES[x_mode], yaxis_title=y_title)
    if log_y:
        fig.update_yaxes(type="log")
    return fig


def step_loss_figure(curves: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], x_mode: str,
                     log_y: bool, max_points: int = MAX_POINTS) -> go.Figure:
    """Per-step training loss, one (label, x, raw, smoothed) per run: the raw curve faint, the
    smoothed one on top (like TensorBoard); thinned for display to `max_points`, spikes kept."""
    fig = go.Figure()
    for i, (label, x, y, smoothed) in enumerate(curves):
        if not len(y):
            continue
        colour = PALETTE[i % len(PALETTE)]
        rx, ry = downsample_minmax(x, y, max_points)
        sx, sy = downsample_minmax(x, smoothed, max_points)
        fig.add_scatter(x=rx, y=ry, mode="lines", name=f"{label} loss", opacity=0.25, showlegend=False,
                        hoverinfo="skip", line=dict(color=colour, width=1))
        fig.add_scatter(x=sx, y=sy, mode="lines", name=f"{label} loss (smoothed)", line=dict(color=colour, width=2))
    return _layout(fig, "Training loss per step", x_mode, log_y)


def epoch_figure(runs: list[tuple[str, pd.DataFrame]], names: tuple[str, str], title: str, x_mode: str,
                 log_y: bool = False, y_title: str | None = None) -> go.Figure:
    """Per-epoch metrics (train and val), one marker per epoch."""
    fig = go.Figure()
    for label, metrics, name in [(label, metrics, name) for label, metrics in runs for name in names]:
        rows = metrics[metrics.name == name]
        if rows.empty:
            continue
        x = rows.epoch.to_numpy() if x_mode == "epoch" else x_axis(metrics, x_mode).loc[rows.index].to_numpy()
        prefix = f"{label} " if len(runs) > 1 else ""
        fig.add_scatter(x=x, y=rows.value, mode="lines+markers", name=f"{prefix}{name.replace('_', ' ')}",
                        line=dict(dash="dot" if name.startswith("train") else "solid"))
    return _layout(fig, title, x_mode, log_y, y_title=y_title)


def grad_norm_figure(metrics: pd.DataFrame) -> go.Figure:
    """Per-layer gradient norm per epoch, log scale: vanishing gradients show as a fan of lines."""
    fig = go.Figure()
    rows = metrics[metrics.name.str.startswith("grad_norm/")]
    for name, group in rows.groupby("name", sort=False):
        fig.add_scatter(x=group.epoch, y=group.value, mode="lines+markers", name=name.removeprefix("grad_norm/"))
    fig.update_yaxes(type="log")
    return _layout(fig, "Gradient norm per layer", "epoch", height=340, y_title="L2 norm, epoch's last step")


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

    def extent(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """The plane the boundary is drawn over: the training points and MARGIN each side (as
        engine.training.inspection.decision_grid), so the preview and the boundary share axes."""
        low, high = self.x_train.min(0) - MARGIN, self.x_train.max(0) + MARGIN
        return (float(low[0]), float(high[0])), (float(low[1]), float(high[1]))


def plane_figure(points: PlanePoints, surface: tuple | None = None, *, show_test: bool = True,
                 discretise: bool = False, title: str = "", height: int = 420, meta: dict | None = None) -> go.Figure:
    """TF Playground's picture: the points of a 2D set (train: circles; test: diamonds with a dark
    rim; blue class 0, orange class 1) over the model's output on the plane
    (`surface` = (xs, ys, z), rows of z are y: P(orange), or the value for a regression set).
    `discretise` colours each cell by the class it gives (TF Playground's "discretize output").

    One heatmap (drawn as a 100 x 100 image the browser scales) and WebGL points, so a live
    redraw costs the browser little; `meta` travels with the figure (the frame's step)."""
    fig = go.Figure()
    low, high = _value_range(points, surface)
    if surface is not None:
        xs, ys, z = surface
        z = np.asarray(z, dtype=np.float32)  # float16 has no typed array in the browser
        if discretise:
            z = np.where(z >= (low + high) / 2, high, low).astype(np.float32)
        label = "value" if points.regression else "P(orange)"
        fig.add_heatmap(x=np.asarray(xs, np.float32), y=np.asarray(ys, np.float32), z=z, zmin=low, zmax=high,
                        zsmooth="fast", opacity=0.6, colorscale=SURFACE_SCALE,
                        colorbar=dict(title=label, thickness=12, len=0.8),
                        hovertemplate=f"x %{{x:.2f}}<br>y %{{y:.2f}}<br>{label} %{{z:.2f}}<extra></extra>")
    splits = [("train", points.x_train, points.y_train)] + ([("test", points.x_val, points.y_val)] if show_test else [])
    for split, x, y in splits:
        rim = dict(color="white", width=0.5) if split == "train" else dict(color="#222222", width=1)
        symbol, size = ("circle", 7) if split == "train" else ("diamond", 6)
        if points.regression:
            fig.add_scattergl(x=x[:, 0], y=x[:, 1], mode="markers", name=split, marker=dict(
                color=y, cmin=low, cmax=high, colorscale=SURFACE_SCALE, size=size, symbol=symbol, line=rim))
            continue
        for c, name in enumerate(points.classes):
            keep = y == c
            fig.add_scattergl(x=x[keep, 0], y=x[keep, 1], mode="markers", name=f"{name} ({split})",
                              marker=dict(color=class_colour(c), size=size, symbol=symbol, line=rim),
                              hovertemplate=f"{name} ({split})<br>x %{{x:.2f}}<br>y %{{y:.2f}}<extra></extra>")
    if surface is not None:  # the cells' centres span the plane: the axes end at the outer cells' edges
        (x0, x1), (y0, y1) = _edges(surface[0]), _edges(surface[1])
    else:
        (x0, x1), (y0, y1) = points.extent()
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10), title=title or None,
                      xaxis=dict(range=[float(x0), float(x1)], constrain="domain", title="x1"),
                      yaxis=dict(range=[float(y0), float(y1)], scaleanchor="x", constrain="domain", title="x2"),
                      legend=dict(orientation="h", y=-0.15), uirevision="plane", meta=meta or {})
    return fig


def _edges(centres) -> tuple[float, float]:
    centres = np.asarray(centres, dtype=np.float64)
    half = (centres[-1] - centres[0]) / max(len(centres) - 1, 1) / 2
    return float(centres[0] - half), float(centres[-1] + half)


def class_colour(c: int) -> str:
    return (BLUE, ORANGE)[c] if c < 2 else PALETTE[c % len(PALETTE)]


def _value_range(points: PlanePoints, surface) -> tuple[float, float]:
    """The colour scale's ends: 0 and 1 for probabilities; for a regression set, the values' range
    (symmetric about 0, as TF Playground's -1..1)."""
    if not points.regression:
        return 0.0, 1.0
    values = [points.y_train, points.y_val] + ([np.asarray(surface[2], np.float32)] if surface is not None else [])
    top = max(float(np.abs(v).max()) for v in values if v.size) or 1.0
    return -top, top


def plane_points(data) -> PlanePoints:
    """The arrays of a loaded 2D Dataset."""
    return PlanePoints(data.x_train.numpy(), data.y_train.numpy(), data.x_val.numpy(), data.y_val.numpy(),
                       tuple(data.info.classes))


def confusion_figure(matrix: np.ndarray, classes) -> go.Figure:
    """Counts of (true, predicted) class pairs, every class named on both axes."""
    labels = [str(c) for c in classes]
    fig = go.Figure(go.Heatmap(z=matrix, x=labels, y=labels, colorscale="Blues", text=matrix,
                               texttemplate="%{text}", hovertemplate="true %{y}<br>predicted %{x}<br>%{z}"))
    # Class names like "0".."9" would make plotly guess a numeric axis and thin its ticks to every
    # other class: category axes with one tick per class name every row and column.
    ticks = dict(type="category", tickmode="array", tickvals=labels, ticktext=labels)
    fig.update_layout(title="Confusion matrix (validation set)", height=420, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(title="predicted", **ticks), yaxis=dict(title="true", autorange="reversed", **ticks))
    return fig
