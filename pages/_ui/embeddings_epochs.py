"""The map of vectors trained here, epoch by epoch: the layouts the training job stored (PCA of each
epoch, aligned to the one before by Procrustes: engine/embeddings/epoch_maps.py).

While the run trains, the training panel draws the newest epoch's map (`live_map_figure`); once it
has ended, the page's map offers "Per epoch" as its projection: an epoch slider replays the run
(also after a restart: the layouts are the run's artifacts), and words typed in "Trace" are drawn
with their path through the epochs.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from engine.embeddings import epoch_maps
from pages._ui.embeddings_state import kept, kept_number

PREFER = "proj_prefer_epochs"  # session state: a run just trained; its map opens on "Per epoch"
LIVE_LABELS = 40               # the most frequent words labelled on the live map
TRACE_CONTEXT = 2000           # the most frequent words drawn faintly behind the traced paths


def run_of(source_key: str) -> int | None:
    """The run id of a trained-here source ("run:<id>:<updated>"), else None."""
    parts = source_key.split(":")
    return int(parts[1]) if len(parts) == 3 and parts[0] == "run" and parts[1].isdigit() else None


@st.cache_data(max_entries=8, show_spinner=False)
def layouts(store_root: str, run_id: int, updated: float, dims: int) -> dict[int, np.ndarray]:
    """{epoch: coords} of the run (read once per run version)."""
    from engine.core.runs import RunStore
    return epoch_maps.epoch_layouts(RunStore(store_root), run_id, dims)


def stored_layouts(source_key: str, dims: int) -> dict[int, np.ndarray]:
    run_id = run_of(source_key)
    if run_id is None:
        return {}
    from engine.core.paths import runs_dir
    updated = float(source_key.split(":")[2])
    return layouts(str(runs_dir()), run_id, updated, dims)


def epoch_setting(source_key: str, epochs: list[int]) -> int:
    """The epoch slider (the latest epoch at first)."""
    if len(epochs) == 1:
        st.caption(f"One epoch stored (epoch {epochs[0]}).")
        return epochs[0]
    return st.select_slider("Epoch", epochs, key=kept(f"map_epoch:{source_key}", epochs[-1],
                                                     lambda e: e if e in epochs else epochs[-1]),
                            help="replays the run: each epoch's map is aligned to the one before, so words move "
                                 "as far as their neighbourhoods changed")


def trace_view(source_key: str, words: list[str], all_layouts: dict[int, np.ndarray], dims: int) -> None:
    """Words typed here are drawn with their path through the epochs (most frequent words faint behind)."""
    typed = st.text_input("Trace words over the epochs (space-separated)", key=kept(f"trace:{source_key}", ""),
                          placeholder="e.g. king queen")
    wanted = [w for w in typed.split() if w]
    if not wanted:
        return
    index = {w: i for i, w in enumerate(words)}
    missing = [w for w in wanted if w not in index]
    if missing:
        st.caption("Not in these vectors: " + ", ".join(missing))
    found = [index[w] for w in wanted if w in index]
    if found:
        context = st.number_input("Words behind the paths", 0, len(words),
                                  key=kept_number(f"trace_context:{source_key}", 0, len(words),
                                                  min(TRACE_CONTEXT, len(words))))
        st.plotly_chart(trajectory_figure(all_layouts, found, words, dims, context), key=f"trace_chart:{source_key}")


def trajectory_figure(all_layouts: dict[int, np.ndarray], rows: list[int], words: list[str], dims: int,
                      context: int = TRACE_CONTEXT) -> go.Figure:
    """Each row's position at every epoch joined by a line, the epochs marked; the last epoch's
    map of the `context` most frequent words faint behind."""
    epochs = list(all_layouts)
    last = all_layouts[epochs[-1]]
    three = dims == 3
    scatter = go.Scatter3d if three else go.Scattergl
    fig = go.Figure()
    if context:
        xyz = last[:context]
        fig.add_trace(scatter(**axes(xyz, three), mode="markers", name="last epoch", hoverinfo="text",
                              hovertext=words[:context], marker=dict(size=2 if three else 4, color="#c8c8c8")))
    for row in rows:
        path = np.stack([all_layouts[e][row] for e in epochs])
        fig.add_trace(scatter(**axes(path, three), mode="lines+markers+text", name=words[row],
                              text=[f"{words[row]} {e}" if e in (epochs[0], epochs[-1]) else "" for e in epochs],
                              hovertext=[f"{words[row]}, epoch {e}" for e in epochs], hoverinfo="text",
                              marker=dict(size=4 if three else 7)))
    fig.update_layout(height=420, margin=dict(l=0, r=0, t=10, b=0), uirevision="trace",
                      legend=dict(orientation="h", yanchor="top", y=-0.02, title_text="Paths through the epochs: "))
    return fig


def axes(xyz: np.ndarray, three: bool) -> dict:
    return dict(x=xyz[:, 0], y=xyz[:, 1], **({"z": xyz[:, 2]} if three else {}))


def live_map_figure(coords: np.ndarray, words: list[str], epoch: int, epochs: int) -> go.Figure:
    """The newest epoch's 2D map while the run trains, its most frequent words labelled."""
    labels = [w if i < LIVE_LABELS else "" for i, w in enumerate(words)]
    fig = go.Figure(go.Scattergl(x=coords[:, 0], y=coords[:, 1], mode="markers+text", text=labels,
                                 textposition="top center", hovertext=words, hoverinfo="text",
                                 marker=dict(size=4, color=np.arange(len(words)), colorscale="Viridis_r",
                                             showscale=False)))
    fig.update_layout(height=380, margin=dict(l=0, r=0, t=30, b=0), uirevision="w2v_live_map",
                      title=dict(text=f"The vocabulary's map after epoch {epoch} of {epochs} (aligned to the "
                                      f"last epoch's: words move as they learn)", font=dict(size=13)))
    return fig
