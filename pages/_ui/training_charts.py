"""Plotly figures for the training page: curves, gradient norms, confusion. (The 2D plane and the
network are drawn on canvases: pages/_ui/plane.py, pages/_ui/neuron_views.py.)"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from engine.training.curves import downsample_minmax, x_axis

MAX_POINTS = 2000  # above this the display (never the store) keeps min/max per bucket (~2 per pixel)
X_TITLES = {"step": "step", "epoch": "epoch", "wall": "seconds since start"}
# TF Playground's colours: blue for class 0, orange for class 1, and its grey-white between them.
BLUE, ORANGE, NEUTRAL = "#0877bd", "#f59322", "#e8eaeb"
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
