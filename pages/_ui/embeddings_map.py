"""The Embeddings page's map: search (neighbours in the original space), colouring, the 3D/2D cloud
with the neighbours table beside it, and the linked 2D view where box and lasso select points."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from engine.embeddings import colour
from engine.embeddings import explore as emb
from pages._ui import embeddings_plot as plots
from pages._ui.embeddings_projection import Points
from pages._ui.embeddings_sources import Source
from pages._ui.embeddings_state import kept, kept_choice, kept_number
from pages._ui.safe_markdown import escape_markdown

COLOUR_TITLES = {"cluster": "k-means cluster", "rank": "frequency rank", "group": "word group", "label": "true label"}


@dataclass
class Search:
    query: str
    k: int
    highlight: list[int] = field(default_factory=list)   # the searched point, if it is on the map
    neighbours: list[int] = field(default_factory=list)  # its neighbours that are on the map
    table: list[dict] | None = None                      # all its neighbours (None: no search)


@dataclass
class Colouring:
    values: np.ndarray
    mode: str                            # "category", "group" or "continuous"
    categories: list[str] | None = None
    highlight: list[int] = field(default_factory=list)  # the word group's points


@st.cache_data(max_entries=16, show_spinner="Clustering (k-means)...")
def kmeans_labels(source_key: str, _x: np.ndarray, k: int) -> np.ndarray:
    return colour.cluster_labels(_x, k, seed=0)


def map_view(source: Source, points: Points | None, device) -> Colouring | None:
    """The search and colour settings, then the cloud and the neighbours; returns the colouring
    (the selection view draws the same). With no map (too few points, or a projection waiting for
    its button) the search and its neighbours are still shown, and None is returned."""
    url = st.query_params
    words_source = source.images is None
    s1, s2, s3, s4, s5 = st.columns([2, 0.9, 1.3, 1.7, 1.5])
    query = s1.text_input("Search a word" if words_source else "Search a point (e.g. '3 #12')",
                          key=kept("query", url.get("q", ""))).strip()
    k = s2.number_input("Neighbours", 1, 200, key=kept_number("k", 1, 200, 10))
    top_n = len(points.words) if points is not None else 0
    with st.container():  # the search's messages in one slot: the map below keeps its place
        search = neighbours_of(source, query, k, top_n, device)
    if points is None:
        neighbours_panel(source, search)
        return None
    colour_options = ["cluster", "rank", "group"] if words_source else ["label", "cluster"]
    colour_by = s3.selectbox("Colour by", colour_options, format_func=COLOUR_TITLES.get,
                             key=kept_choice(f"colour_by:{words_source}", colour_options, url.get("colour")))
    with s4:  # the colouring's own setting (clusters, the word group) beside it
        colouring = colour_points(source, points, colour_by)
    n_labels = s5.slider("Labels on other points", 0, 200, key=kept_number(f"n_labels:{words_source}", 0, 200,
                                                                             30 if words_source else 0))
    map_col, side_col = st.columns([3, 1.3])
    with map_col:
        fig = plots.cloud_figure(points.coords, points.words, colouring.values, colouring.mode, colouring.categories,
                                 highlight=search.highlight + colouring.highlight, neighbours=search.neighbours,
                                 labelled=list(range(min(n_labels, len(points.words)))))
        st.plotly_chart(fig, key="cloud", config={"scrollZoom": True})
    with side_col:
        neighbours_panel(source, search)
    return colouring


def neighbours_of(source: Source, query: str, k: int, top_n: int, device) -> Search:
    """The query's k nearest neighbours (cosine, in the original space); which of them are on the
    map (its first `top_n` points; 0: no map)."""
    search = Search(query, k)
    if not query:
        return search
    wv = source.vectors
    try:
        found = emb.neighbours(wv, query, k, device=device)
    except (emb.UnknownWordError, emb.ZeroVectorError) as err:
        st.warning(escape_markdown(err), icon=":material/search_off:")
        return search
    i = wv.index[query]
    search.table = [{"word": n.word, "cosine": round(n.similarity, 4), "rank": n.index + 1,
                     "on the map": n.index < top_n} for n in found]
    if i < top_n:
        search.highlight = [i]
    elif top_n:
        st.caption(f"'{escape_markdown(query)}' is word #{i + 1:,}: outside the {top_n:,} points on the map "
                   "(raise the slider).")
    search.neighbours = [n.index for n in found if n.index < top_n]
    return search


def colour_points(source: Source, points: Points, colour_by: str) -> Colouring:
    """One colour value per point: its k-means cluster, its true label, its frequency rank, or
    whether it is in the word group typed here."""
    top_n = len(points.words)
    if colour_by == "cluster":
        most = min(30, top_n - 1)  # a map has at least 4 points: 2..3 clusters at the least
        n_clusters = st.slider("Clusters", 2, most, key=kept_number(f"n_clusters:{source.key}", 2, most, 10))
        return Colouring(kmeans_labels(f"{source.key}:{top_n}", points.x, n_clusters), "category",
                         [f"cluster {c}" for c in range(n_clusters)])
    if colour_by == "label":
        return Colouring(source.images.labels[:top_n], "category", list(source.images.classes))
    if colour_by == "group":
        return group_colouring(source, points)
    return Colouring(colour.rank_values(top_n), "continuous")


def group_colouring(source: Source, points: Points) -> Colouring:
    group_text = st.text_input("Word group (comma separated)",
                               key=kept("group", "red, green, blue, yellow, purple, orange"))
    group = {w.strip() for w in group_text.split(",") if w.strip()}
    index, top_n = source.vectors.index, len(points.words)
    missing = sorted(w for w in group if w not in index or index[w] >= top_n)
    if missing:
        st.caption(f"Not on the map: {escape_markdown(', '.join(missing))}")
    members = colour.group_members(points.words, group)
    return Colouring(members, "group", highlight=np.flatnonzero(members).tolist())


def neighbours_panel(source: Source, search: Search) -> None:
    """The neighbours table (and, for images, the searched image) beside the map."""
    wv = source.vectors
    if search.table is not None:
        st.markdown(f"**Nearest to '{escape_markdown(search.query)}'** (cosine, original {wv.dim}-d space)")
        st.dataframe(search.table, hide_index=True, key="neighbours_table", height=min(36 * (search.k + 2), 560))
    else:
        st.caption("Search a word to highlight it and list its nearest neighbours.")
    if source.images is not None and search.query and search.query in wv.index:
        st.image(source.images.images[wv.index[search.query], 0], caption=search.query, width=112, clamp=True)


def selection_view(source: Source, points: Points, colouring: Colouring) -> None:
    """A 2D view of the same map (first two axes) where a box or a lasso lists the points inside."""
    words = points.words
    with st.expander("Select points (box or lasso on a 2D view of the same map)", expanded=False):
        event = st.plotly_chart(plots.selection_figure(points.coords, words, colouring.values, colouring.mode,
                                                       colouring.categories),
                                key="select2d", on_select="rerun", selection_mode=("box", "lasso"))
        picked = sorted({int(p["point_index"]) for p in (event.selection.points if event else [])
                         if p.get("curve_number", 0) == 0})
        if not picked:
            st.caption("Drag a box or a lasso around points to list them (3D plots have no selection tools).")
            return
        st.markdown(f"**{len(picked):,} selected**")
        if source.images is not None:
            st.image([source.images.images[i, 0] for i in picked[:48]], caption=[words[i] for i in picked[:48]],
                     width=56, clamp=True)
        else:
            st.write(", ".join(words[i] for i in picked[:500]) + (" ..." if len(picked) > 500 else ""))
