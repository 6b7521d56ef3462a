"""Plotly figures for the Attention page: one head's heatmap, a grid of every head, bars, lines.

Axes are numeric with the tokens as tick text: a categorical axis would merge repeated tokens
("the" twice) into one row.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

SCALE = "Blues"


def _label(tokens: list[str]) -> list[str]:
    return [t.replace(" ", "␣") for t in tokens]


def heatmap(matrix: np.ndarray, keys: list[str], queries: list[str], title: str = "",
            x_title: str = "attends to (key)", y_title: str = "position (query)", zmax: float | None = 1.0,
            colorscale: str = SCALE, height: int | None = None, token_ticks: bool = True) -> go.Figure:
    """One map; token_ticks=False leaves plotly's own numeric ticks (positions, dimensions)."""
    matrix = np.asarray(matrix, dtype=float)
    hover = [[f"{queries[i]} → {keys[j]}: {matrix[i, j]:.3f}" for j in range(matrix.shape[1])]
             for i in range(matrix.shape[0])]
    fig = go.Figure(go.Heatmap(z=matrix, x=list(range(matrix.shape[1])), y=list(range(matrix.shape[0])),
                               colorscale=colorscale, zmin=0 if zmax is not None else None, zmax=zmax,
                               text=hover, hoverinfo="text", colorbar=dict(thickness=12)))
    many = max(matrix.shape) > 40
    if not token_ticks:
        fig.update_xaxes(title=x_title)
        fig.update_yaxes(title=y_title, autorange="reversed")
        fig.update_layout(title=title, height=height or 520, margin=dict(l=10, r=10, t=40 if title else 10, b=10))
        return fig
    fig.update_xaxes(title=x_title, tickmode="array", tickvals=list(range(len(keys))), ticktext=_label(keys),
                     tickangle=-60 if many or max(map(len, keys), default=0) > 2 else 0,
                     tickfont=dict(size=8 if many else 12))
    fig.update_yaxes(title=y_title, tickmode="array", tickvals=list(range(len(queries))), ticktext=_label(queries),
                     autorange="reversed", tickfont=dict(size=8 if many else 12))
    size = height or int(min(700, max(320, 22 * matrix.shape[0] + 140)))
    fig.update_layout(title=title, height=size, margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    return fig


def head_grid(stack: np.ndarray, keys: list[str], queries: list[str], title: str = "",
              layer_names: list[str] | None = None) -> go.Figure:
    """Every layer (row) x head (column) of a (layers, heads, q, k) stack: the model view."""
    layers, heads = stack.shape[:2]
    fig = make_subplots(rows=layers, cols=heads, horizontal_spacing=0.01, vertical_spacing=0.02,
                        column_titles=[f"head {h}" for h in range(heads)],
                        row_titles=layer_names or [f"layer {layer}" for layer in range(layers)])
    for layer in range(layers):
        for head in range(heads):
            fig.add_trace(go.Heatmap(z=stack[layer, head], coloraxis="coloraxis",
                                     hovertemplate=f"layer {layer} head {head}<br>%{{y}} → %{{x}}: %{{z:.3f}}<extra></extra>"),
                          row=layer + 1, col=head + 1)
    labelled = layers * heads <= 8 and max(len(keys), len(queries)) <= 24  # a few small maps: tokens fit
    if labelled:
        fig.update_xaxes(tickmode="array", tickvals=list(range(len(keys))), ticktext=_label(keys), tickfont=dict(size=10))
        fig.update_yaxes(tickmode="array", tickvals=list(range(len(queries))), ticktext=_label(queries),
                         tickfont=dict(size=10), autorange="reversed")
        for layer in range(layers):  # query tokens once per row, left of the first head
            for head in range(1, heads):
                fig.update_yaxes(showticklabels=False, row=layer + 1, col=head + 1)
    else:
        fig.update_xaxes(showticklabels=False)
        fig.update_yaxes(showticklabels=False, autorange="reversed")
    cell = 180 if labelled else 110 if heads <= 4 else 80
    fig.update_layout(title=title, coloraxis=dict(colorscale=SCALE, cmin=0, cmax=1, showscale=False),
                      height=max(220, cell * layers + 60), margin=dict(l=10, r=30, t=60 if title else 30, b=10))
    return fig


def token_bars(tokens: list[str], scores: np.ndarray, title: str, y_title: str = "attribution") -> go.Figure:
    """A signed value per token (attribution: blue pulls the similarity up, red pulls it down)."""
    scores = np.asarray(scores, dtype=float)
    colors = ["#2b6cb0" if s >= 0 else "#c53030" for s in scores]
    fig = go.Figure(go.Bar(x=list(range(len(tokens))), y=scores, marker_color=colors,
                           hovertext=[f"{t}: {s:+.4f}" for t, s in zip(tokens, scores)], hoverinfo="text"))
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(tokens))), ticktext=_label(tokens), tickangle=-45)
    fig.update_layout(title=title, height=300, margin=dict(l=10, r=10, t=40, b=10), yaxis_title=y_title)
    return fig


def values_over_time(values: np.ndarray, bits, title: str, zmid: float | None = 0.0) -> go.Figure:
    """(time, units) values as a units x time heatmap, the input bit above each column."""
    values = np.asarray(values, dtype=float).T
    fig = go.Figure(go.Heatmap(z=values, x=list(range(values.shape[1])), colorscale="RdBu", zmid=zmid,
                               reversescale=True, colorbar=dict(thickness=12)))
    fig.update_xaxes(title="time step (input bit)", tickmode="array", tickvals=list(range(len(bits))),
                     ticktext=[str(int(b)) for b in bits])
    fig.update_yaxes(title="unit")
    fig.update_layout(title=title, height=max(220, 12 * values.shape[0] + 120), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def gradient_norms(curves: list[tuple[str, np.ndarray]]) -> go.Figure:
    """Gradient norm reaching each time step (log scale); nan/inf shown as gaps."""
    fig = go.Figure()
    for name, norms in curves:
        norms = np.asarray(norms, dtype=float)
        shown = np.where(np.isfinite(norms) & (norms > 0), norms, np.nan)
        fig.add_trace(go.Scatter(x=list(range(len(norms))), y=shown, mode="lines", name=name))
    fig.update_yaxes(type="log", title="‖∂h_T/∂h_t‖", exponentformat="power")
    fig.update_xaxes(title="time step t")
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h"))
    return fig


def linear_rnn_curves(loss_epochs: np.ndarray, loss: np.ndarray, param_epochs: np.ndarray, u: np.ndarray,
                      w: np.ndarray, diverged_at: int | None = None) -> go.Figure:
    """The linear-RNN demo's run: its loss per epoch (log scale: it spans many orders of magnitude
    before it overflows) and the two weights, next to their ideal value 1. A loss that became
    nan/inf is marked at its epoch (a log axis cannot draw it)."""
    loss = np.asarray(loss, dtype=float)
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=("Loss (MSE, log scale)", "Weights u and w (ideal: both 1)"))
    shown = np.where(np.isfinite(loss) & (loss > 0), loss, np.nan)
    fig.add_trace(go.Scatter(x=np.asarray(loss_epochs, dtype=float), y=shown, mode="lines+markers", name="loss",
                             marker=dict(size=4), line=dict(color="#2b6cb0")), row=1, col=1)
    if diverged_at is not None:
        top = np.nanmax(shown) if np.isfinite(shown).any() else 1.0
        fig.add_trace(go.Scatter(x=[diverged_at], y=[top], mode="markers+text", name="nan/inf",
                                 marker=dict(symbol="x", size=12, color="#c53030"), text=["inf"],
                                 textposition="middle left", showlegend=False), row=1, col=1)
        fig.add_vline(x=diverged_at, line=dict(color="#c53030", dash="dot"), row=1, col=1)
    for name, values, color in (("u", u, "#dd6b20"), ("w", w, "#2f855a")):
        fig.add_trace(go.Scatter(x=np.asarray(param_epochs, dtype=float), y=np.asarray(values, dtype=float),
                                 mode="lines", name=name, line=dict(color=color)), row=1, col=2)
    fig.add_hline(y=1.0, line=dict(color="#718096", dash="dash"), row=1, col=2)
    fig.update_yaxes(type="log", exponentformat="power", row=1, col=1)
    fig.update_xaxes(title="epoch")
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.3))
    return fig
