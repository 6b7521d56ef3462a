"""Figures of the Embeddings page: the 3D/2D point cloud, the linked 2D selection view, heatmaps."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from engine.embeddings import mapview

SCALE = "Viridis"  # perceptually uniform
HIGHLIGHT = "#e4572e"
NEIGHBOUR = "#f3a712"


def category_colours(n: int) -> list[str]:
    """n category colours, colour-blind safe (Okabe-Ito, Tableau 10; see engine.embeddings.mapview)."""
    return mapview.category_palette(n)


def _marker(colour_values, colour_mode: str, size: float, categories: list[str] | None, palette=None):
    if colour_mode == "category":
        palette = palette or category_colours(len(categories))
        return dict(size=size, color=[palette[int(c)] for c in colour_values], opacity=0.75)
    if colour_mode == "group":  # 0 = not in the group: grey, 1 = in the group
        return dict(size=size, color=np.where(np.asarray(colour_values) > 0, HIGHLIGHT, "#b8c0cc"), opacity=0.8)
    return dict(size=size, color=colour_values, colorscale=SCALE, opacity=0.75, showscale=True,
                colorbar=dict(title="rank (log)", thickness=12))


def _xyz(coords, rows, dims):
    pts = coords[rows]
    out = {"x": pts[:, 0], "y": pts[:, 1]}
    if dims == 3:
        out["z"] = pts[:, 2]
    return out


def cloud_figure(coords: np.ndarray, words: list[str], colour_values, colour_mode: str,
                 categories: list[str] | None = None, highlight: list[int] = (), neighbours: list[int] = (),
                 labelled: list[int] = (), hover: list[str] | None = None, height: int = 640,
                 palette: list[str] | None = None) -> go.Figure:
    """Scatter3d (WebGL) or Scattergl of every point, plus label and highlight traces on top."""
    dims = coords.shape[1]
    n = len(coords)
    size = 2.5 if n > 20_000 else 3.5 if n > 2000 else 5
    trace = go.Scatter3d if dims == 3 else go.Scattergl
    hovertext = hover if hover is not None else words
    fig = go.Figure()
    if colour_mode == "category":
        palette = palette or category_colours(len(categories))
        values = np.asarray(colour_values)
        for c, name in enumerate(categories):  # one trace per category: a legend that toggles them
            rows = np.flatnonzero(values == c)
            fig.add_trace(trace(**_xyz(coords, rows, dims), mode="markers", name=name,
                                marker=dict(size=size, color=palette[c], opacity=0.75),
                                hovertext=[hovertext[i] for i in rows], hoverinfo="text"))
    else:
        fig.add_trace(trace(**_xyz(coords, np.arange(n), dims), mode="markers", name="words",
                            marker=_marker(colour_values, colour_mode, size, categories),
                            hovertext=hovertext, hoverinfo="text", showlegend=False))
    if labelled:
        rows = np.asarray(labelled)
        fig.add_trace(trace(**_xyz(coords, rows, dims), mode="text", text=[words[i] for i in rows],
                            textfont=dict(size=10, color="#444"), name="labels", hoverinfo="skip",
                            showlegend=False))
    if neighbours:
        rows = np.asarray(neighbours)
        fig.add_trace(trace(**_xyz(coords, rows, dims), mode="markers+text", text=[words[i] for i in rows],
                            textposition="top center", marker=dict(size=size + 4, color=NEIGHBOUR),
                            textfont=dict(size=12, color="#7a4a00"), name="neighbours", hovertext=[words[i] for i in rows],
                            hoverinfo="text"))
    if highlight:
        rows = np.asarray(highlight)
        fig.add_trace(trace(**_xyz(coords, rows, dims), mode="markers+text", text=[words[i] for i in rows],
                            textposition="top center", marker=dict(size=size + 8, color=HIGHLIGHT),
                            textfont=dict(size=15, color=HIGHLIGHT), name="searched", hovertext=[words[i] for i in rows],
                            hoverinfo="text"))
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=10, b=0), legend=dict(itemsizing="constant"),
                      uirevision="cloud")
    if dims == 3:
        fig.update_layout(scene=dict(xaxis_title="", yaxis_title="", zaxis_title="", aspectmode="data"))
    return fig


def selection_figure(coords: np.ndarray, words: list[str], colour_values, colour_mode: str,
                     categories: list[str] | None = None, hover: list[str] | None = None,
                     palette: list[str] | None = None) -> go.Figure:
    """The linked 2D view (first two axes) where box and lasso select points."""
    n = len(coords)
    marker = _marker(colour_values, colour_mode, 3 if n > 5000 else 5, categories, palette)
    marker.pop("showscale", None)
    marker.pop("colorbar", None)
    fig = go.Figure(go.Scattergl(x=coords[:, 0], y=coords[:, 1], mode="markers", marker=marker,
                                 hovertext=hover if hover is not None else words, hoverinfo="text",
                                 customdata=np.arange(n)))
    fig.update_layout(height=380, margin=dict(l=0, r=0, t=10, b=0), dragmode="lasso",
                      xaxis=dict(showticklabels=False), yaxis=dict(showticklabels=False))
    return fig


def similarity_heatmap(words: list[str], matrix: np.ndarray) -> go.Figure:
    # Two decimals in the cells and on hover: the float32 cosines would print as 0.7799999713897705.
    fig = go.Figure(go.Heatmap(z=matrix, x=words, y=words, colorscale=SCALE, zmin=-1, zmax=1,
                               texttemplate="%{z:.2f}", hovertemplate="%{y} · %{x}: cosine %{z:.2f}<extra></extra>",
                               colorbar=dict(title="cosine")))
    fig.update_layout(height=120 + 34 * len(words), margin=dict(l=0, r=0, t=10, b=0),
                      yaxis=dict(autorange="reversed"))
    return fig


def loss_figure(losses: list[float]) -> go.Figure:
    fig = go.Figure(go.Scatter(x=list(range(1, len(losses) + 1)), y=losses, mode="lines+markers", name="loss"))
    fig.update_layout(height=260, margin=dict(l=0, r=0, t=30, b=0), title="Training loss per word, by epoch",
                      xaxis_title="epoch", yaxis_title="loss")
    return fig
