"""Charts for the training page: the curves (Vega-Lite), the confusion matrix (Plotly). (The 2D plane
and the network are drawn on canvases: pages/_ui/plane.py, pages/_ui/neuron_views.py.)

The curves are Vega-Lite specs that never change while a run trains; only their data does, and
Streamlit then swaps the data inside the chart already on screen. A Plotly chart whose data changes
is rebuilt whole in the browser at each refresh: measured with the Training page open, the live
curves alone kept 66-78 % of a core busy in Chromium, taken from the run training beside it
(bench/live_boundary.py, bench/live_training.py). Vega-Lite draws SVG here: the tests and the
benchmarks read the points drawn from it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.training.curves import downsample_minmax, x_axis

MAX_POINTS = 2000  # above this the display (never the store) keeps min/max per bucket (~2 per pixel)
# Per-epoch lines mark each epoch with a point up to this many epochs; past it a line alone (a
# spiral run does two epochs a second: hundreds of points redrawn at each refresh cost the browser
# more and more as the run went on, measured with bench/live_boundary.py), thinned to `thin`.
MARKED_EPOCHS = 60
X_TITLES = {"step": "step", "epoch": "epoch", "wall": "seconds since start"}
# TF Playground's colours: blue for class 0, orange for class 1, and its grey-white between them.
BLUE, ORANGE, NEUTRAL = "#0877bd", "#f59322", "#e8eaeb"
PALETTE = ("#0068c9", "#ff2b2b", "#29b09d", "#ff8700", "#7d353b", "#6d3fc0")


@dataclass(frozen=True)
class Chart:
    """A Vega-Lite spec and the rows it draws (long format: one row per point of a line)."""
    spec: dict
    data: pd.DataFrame

    @property
    def title(self) -> str:
        return self.spec["title"]


def show(chart: Chart, key: str, where=st) -> None:
    """Draw `chart` (in `where`: st, a column, a tab). Keyed: the chart on screen stays the same
    element, and new data is swapped in place."""
    where.vega_lite_chart(chart.data, chart.spec, width="stretch", key=key)


def _spec(title: str, x_mode: str, y_title: str | None, layers: list[dict], log_y: bool = False,
          height: int = 300, colour_title: str | None = None, legend_columns: int = 1) -> dict:
    """A line chart's spec. Vega-Lite wraps nothing either: a chart's title stays short enough for
    a third of the page (units go in `y_title`), and its legend is in `legend_columns` columns
    (in one row, "train recon" and "val recon" ran past the edge of a chart a third of the page wide)."""
    y_scale = {"type": "log"} if log_y else {"zero": False}
    return {
        "title": title, "height": height,
        # No ARIA descriptions: Vega writes one per point of a line with points, at every redraw.
        "config": {"aria": False},
        "encoding": {
            "x": {"field": "x", "type": "quantitative", "title": X_TITLES[x_mode], "scale": {"zero": False},
                  # whole epochs and steps on the axis (a 2-epoch run was ticked 1.0, 1.2, ... 2.0)
                  **({"axis": {"tickMinStep": 1, "format": ",d"}} if x_mode in ("step", "epoch") else {})},
            "y": {"field": "y", "type": "quantitative", "title": y_title, "scale": y_scale},
            "color": {"field": "series", "type": "nominal", "title": colour_title, "sort": None,
                      "scale": {"range": list(PALETTE)},
                      "legend": {"orient": "bottom", "columns": legend_columns, "symbolOpacity": 1,
                                 "symbolStrokeWidth": 2}},
        },
        "layer": layers,
    }


def _rows(x, y, series: str, **extra) -> pd.DataFrame:
    return pd.DataFrame({"x": np.asarray(x, dtype=float), "y": np.asarray(y, dtype=float), "series": series,
                         **extra})


def _tooltip(y_name: str) -> list[dict]:
    return [{"field": "series", "title": "line"}, {"field": "x", "title": "x", "format": ",.4~g"},
            {"field": "y", "title": y_name, "format": ".4~g"}]


def step_loss_figure(curves: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], x_mode: str,
                     log_y: bool, max_points: int = MAX_POINTS) -> Chart:
    """Per-step training loss, one (label, x, raw, smoothed) per run: the raw curve faint, the
    smoothed one on top (like TensorBoard); thinned for display to `max_points`, spikes kept."""
    frames = []
    for label, x, y, smoothed in curves:
        if not len(y):
            continue
        rx, ry = downsample_minmax(x, y, max_points)
        sx, sy = downsample_minmax(x, smoothed, max_points)
        frames += [_rows(rx, ry, f"{label} loss", kind="raw"), _rows(sx, sy, f"{label} loss", kind="smoothed")]
    data = pd.concat(frames, ignore_index=True) if frames else _rows([], [], "", kind=[])
    if log_y:  # a log axis cannot draw 0 or less (a regression's loss can reach 0)
        data = data[data.y > 0]
    layers = [
        {"transform": [{"filter": "datum.kind === 'raw'"}], "mark": {"type": "line", "opacity": 0.25, "strokeWidth": 1}},
        {"transform": [{"filter": "datum.kind === 'smoothed'"}], "mark": {"type": "line", "strokeWidth": 2},
         "encoding": {"tooltip": _tooltip("loss (smoothed)")}},
    ]
    return Chart(_spec("Training loss per step", x_mode, "loss", layers, log_y, legend_columns=4), data)


def epoch_figure(runs: list[tuple[str, pd.DataFrame]], names: tuple[str, ...], title: str, x_mode: str,
                 log_y: bool = False, y_title: str | None = None, thin: int = 500) -> Chart:
    """Per-epoch metrics (train and val), a point per epoch (up to MARKED_EPOCHS of them); train
    dotted, as in the store's names; each line thinned for display to `thin` points, spikes kept."""
    frames, longest = [], 0
    for label, metrics in runs:
        for name in names:
            rows = metrics[metrics.name == name]
            if rows.empty:
                continue
            longest = max(longest, len(rows))
            x = rows.epoch.to_numpy() if x_mode == "epoch" else x_axis(metrics, x_mode).loc[rows.index].to_numpy()
            prefix = f"{label} " if len(runs) > 1 else ""
            frames.append(_rows(*downsample_minmax(x, rows.value.to_numpy(dtype=float), thin),
                                f"{prefix}{name.replace('_', ' ')}", split="train" if name.startswith("train") else "val"))
    data = pd.concat(frames, ignore_index=True) if frames else _rows([], [], "", split=[])
    if log_y:
        data = data[data.y > 0]
    layers = [{"mark": {"type": "line", "point": longest <= MARKED_EPOCHS},
               "encoding": {"strokeDash": {"field": "split", "type": "nominal", "legend": None,
                                           "scale": {"domain": ["val", "train"], "range": [[1, 0], [3, 3]]}},
                            "tooltip": _tooltip("value")}}]
    return Chart(_spec(title, x_mode, y_title, layers, log_y), data)


def grad_norm_figure(metrics: pd.DataFrame, thin: int = 500) -> Chart:
    """Per-layer gradient norm per epoch, log scale: vanishing gradients show as a fan of lines
    (points up to MARKED_EPOCHS epochs, each line thinned to `thin` points as epoch_figure's)."""
    rows = metrics[metrics.name.str.startswith("grad_norm/") & (metrics.value > 0)]
    frames = [_rows(*downsample_minmax(group.epoch.to_numpy(dtype=float), group.value.to_numpy(dtype=float), thin),
                    name.removeprefix("grad_norm/")) for name, group in rows.groupby("name", sort=False)]
    data = pd.concat(frames, ignore_index=True) if frames else _rows([], [], "")
    marked = rows.epoch.nunique() <= MARKED_EPOCHS
    layers = [{"mark": {"type": "line", "point": marked}, "encoding": {"tooltip": _tooltip("L2 norm")}}]
    spec = _spec("Gradient norm per layer", "epoch", "L2 norm, epoch's last step", layers, log_y=True, height=340,
                 colour_title="layer", legend_columns=4)
    spec["encoding"]["color"]["scale"] = {"scheme": "tableau20"}  # a deep network has more layers than PALETTE
    return Chart(spec, data)


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
