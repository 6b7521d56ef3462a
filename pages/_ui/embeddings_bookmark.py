"""The Embeddings map's bookmarks and exports: the view (vectors, projection and its settings, the
search, the selection, the colouring, the camera's framing) as a link and as a JSON file to load
later (the Projector's bookmarks); the current view as a PNG and as a standalone HTML file.

The HTML file is Plotly's with plotly.js inlined (include_plotlyjs=True): it opens offline.
pydeck's to_html loads deck.gl from a CDN, and Streamlit's deck.gl is a chunk of its own bundle, not
a script a file can include, so the interactive export is Plotly's. The PNG is drawn on the server
(matplotlib) from the same camera: st.pydeck_chart does not report the camera a reader rotated by
hand, so the bookmark and the exports keep the view's framing (the whole map, or the isolated
search / selection), not a hand-made rotation.
"""
from __future__ import annotations

import io
import math

import numpy as np
import streamlit as st

from engine.embeddings import mapview
from pages._ui.safe_markdown import escape_markdown

# The session-state keys a bookmark sets (the widgets of pages/_ui/embeddings_projection.py and
# embeddings_map.py), so a loaded view shows in the widgets and the map alike.
VIEW_KEYS = ("query", "k", "method", "dims", "renderer", "words_mode")


def current(source, points, search, colouring_name: str, n_clusters: int | None, selected: list[int],
            camera: mapview.Camera | None) -> mapview.Bookmark:
    """The view on screen as a bookmark."""
    state = st.session_state
    params = {k: v for k, v in state.items() if isinstance(k, str) and k.split(":")[0] in
              ("umap_nn", "umap_md", "umap_metric", "tsne_perplexity", "tsne_iter")}
    return mapview.Bookmark(
        source=str(state.get("source") or "glove"), top=len(points.words), method=points.method, dims=points.dims,
        q=search.query, k=int(search.k), colour=colouring_name, clusters=int(n_clusters or 10),
        selection=[points.words[i] for i in selected],
        camera=None if camera is None else {"target": camera.target, "zoom": camera.zoom,
                                            "rotationOrbit": camera.rotation_orbit, "rotationX": camera.rotation_x},
        params={k.split(":")[0]: v for k, v in params.items()})


def apply(view: mapview.Bookmark, source_key: str, words_source: bool, index: dict[str, int]) -> None:
    """Set the widgets' state to a loaded view (call from a callback: before the widgets are drawn)."""
    state = st.session_state
    values = {"query": view.q, "k": view.k, "method": view.method, "dims": view.dims,
              f"top_n:{source_key}": view.top, f"colour_by:{words_source}": view.colour,
              f"n_clusters:{source_key}": view.clusters}
    for key, value in values.items():
        state[key] = state[f"kept:{key}"] = value
    state["map_selection"] = sorted(index[w] for w in view.selection if w in index)
    for name, value in view.params.items():
        key = f"{name}:{source_key}" if name in ("umap_nn", "tsne_perplexity") else name
        state[key] = state[f"kept:{key}"] = value


def bookmark_panel(source, view: mapview.Bookmark) -> None:
    """Link, file, and loading a file back."""
    b1, b2, b3 = st.columns(3)
    if b1.button("Bookmark in the link", icon=":material/bookmark:", key="bookmark_link",
                 help="Writes this view into the page's address: copy it, or keep it in the browser's bookmarks."):
        st.query_params.from_dict(view.to_query())
        b1.caption("The address now opens this view.")
    b2.download_button("Save the view (JSON)", view.to_json(), file_name=f"view-{source.key.replace(':', '-')}.json",
                       mime="application/json", icon=":material/download:", key="bookmark_save")
    b3.file_uploader("Load a view", type=["json"], key="bookmark_file", on_change=_load, args=(source,),
                     label_visibility="collapsed")
    if st.session_state.get("bookmark_error"):
        st.error(escape_markdown(st.session_state["bookmark_error"]), icon=":material/error:")
    if st.session_state.pop("bookmark_loaded", False):
        st.rerun()  # the whole page: the map's settings above are outside the map's fragment


def _load(source) -> None:
    upload = st.session_state.get("bookmark_file")
    st.session_state["bookmark_error"] = None
    if upload is None:
        return
    try:
        view = mapview.Bookmark.from_json(upload.getvalue().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        st.session_state["bookmark_error"] = f"Not a saved view: {err}"
        return
    apply(view, source.key, source.images is None, source.vectors.index)
    st.session_state["bookmark_loaded"] = True


def standalone_html(fig) -> bytes:
    """The figure as one HTML file with plotly.js inlined: opens offline."""
    return fig.to_html(include_plotlyjs=True, full_html=True).encode("utf-8")


def screen_xy(xyz: np.ndarray, camera: mapview.Camera) -> np.ndarray:
    """Orthographic screen coordinates of display points seen by an OrbitView camera (orbit about
    Y by rotationOrbit, then tilted by rotationX): x right, y up."""
    a, b = math.radians(camera.rotation_orbit), math.radians(camera.rotation_x)
    p = np.asarray(xyz, dtype=np.float64) - np.asarray(camera.target)
    x = p[:, 0] * math.cos(a) + p[:, 2] * math.sin(a)
    z = -p[:, 0] * math.sin(a) + p[:, 2] * math.cos(a)
    y = p[:, 1] * math.cos(b) - z * math.sin(b)
    return np.stack([x, y], axis=1)


def png(xyz: np.ndarray, words: list[str], groups, searched: list[int], emphasised: list[int],
        labelled: list[int], camera: mapview.Camera, pixels: int = 1200) -> bytes:
    """The view as a PNG: the points in their colours (faded when a set is isolated), the labels,
    framed as the map's camera frames them."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    xy = screen_xy(xyz, camera)
    half = pixels / 2 / 2 ** camera.zoom * 1.0  # world units from the centre to the edge
    fig, ax = plt.subplots(figsize=(8, 8), dpi=pixels / 8)
    focus = set(searched) | set(emphasised)
    size = 1.5 if len(xyz) > 100_000 else 3 if len(xyz) > 20_000 else 6
    if focus:
        ax.scatter(xy[:, 0], xy[:, 1], s=size, c=mapview.GREY, alpha=0.15, linewidths=0)
    for group in groups:
        rows = np.asarray(group.rows, dtype=np.int64)
        if focus:
            rows = np.array([r for r in rows.tolist() if r in focus], dtype=np.int64)
        if len(rows):
            ax.scatter(xy[rows, 0], xy[rows, 1], s=size * (4 if focus else 1), c=group.colour, linewidths=0,
                       label=group.name)
    for i in labelled:
        ax.annotate(words[i], xy[i], fontsize=7, color="#282830", xytext=(3, 2), textcoords="offset points")
    for i in searched:
        ax.scatter(xy[i, 0], xy[i, 1], s=60, c="#D55E00")
        ax.annotate(words[i], xy[i], fontsize=12, color="#A23B00", weight="bold", xytext=(4, 3),
                    textcoords="offset points")
    ax.set_xlim(-half, half)
    ax.set_ylim(-half, half)
    ax.set_aspect("equal")
    ax.axis("off")
    if groups and len(groups) <= 12:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False, markerscale=3)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
