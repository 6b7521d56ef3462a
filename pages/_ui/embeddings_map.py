"""The Embeddings page's map: search (neighbours in the original space), colouring, the 3D/2D cloud
with the neighbours table beside it, and the linked 2D view where box and lasso select points."""
from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from engine.embeddings import colour, mapview, placement
from engine.embeddings import explore as emb
from pages._ui import embeddings_bookmark as bookmark
from pages._ui import embeddings_deck as deck
from pages._ui import embeddings_plot as plots
from pages._ui.embeddings_projection import Points
from pages._ui.embeddings_sources import Source
from pages._ui.embeddings_state import kept, kept_choice, kept_number
from pages._ui.safe_markdown import escape_markdown

COLOUR_TITLES = {"cluster": "k-means cluster", "rank": "frequency rank", "group": "word group", "label": "true label",
                 "metadata": "metadata column"}


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
    palette: list[str] | None = None     # one colour per category (None: the categorical palette)


@st.cache_data(max_entries=16, show_spinner="Clustering (k-means)...")
def kmeans_labels(source_key: str, _x: np.ndarray, k: int) -> np.ndarray:
    return colour.cluster_labels(_x, k, seed=0)


RENDERERS = {"deck": "deck.gl (words, 400k points)", "plotly": "Plotly (hover, 3D axes)"}


def map_view(source: Source, points: Points | None, device, *, key: str = "cloud",
             height: int = 640) -> Colouring | None:
    """The search and colour settings, then the cloud and the neighbours; returns the colouring
    (the selection view draws the same). With no map (too few points, or a projection waiting for
    its button) the search and its neighbours are still shown, and None is returned.

    A search or a selection (lasso in the 2D view, or clicks on the map) isolates its points: the
    camera flies to them, they are labelled, the rest fades; "Show all" (or Escape) comes back.
    `key` names the chart (a second map on the page, e.g. a layout replayed, needs its own)."""
    url = st.query_params
    words_source = source.images is None
    s1, s2, s3, s4, s5 = st.columns([2, 0.9, 1.3, 1.7, 1.5])
    query = s1.text_input("Search a word" if words_source else "Search a point (e.g. '3 #12')",
                          key=kept("query", url.get("q", ""), typed=True)).strip()
    k = s2.number_input("Neighbours", 1, 200, key=kept_number("k", 1, 200, int(url.get("k", 10))
                                                              if str(url.get("k", "")).isdigit() else 10))
    top_n = len(points.words) if points is not None else 0
    with st.container():  # the search's messages in one slot: the map below keeps its place
        search = neighbours_of(source, query, k, top_n, device)
    if points is None:
        neighbours_panel(source, search)
        return None
    colour_options = ["cluster", "rank", "group"] if words_source else ["label", "cluster"]
    if _metadata_columns(source):
        colour_options.append("metadata")
    colour_by = s3.selectbox("Colour by", colour_options, format_func=COLOUR_TITLES.get,
                             key=kept_choice(f"colour_by:{words_source}", colour_options, url.get("colour")))
    with s4:  # the colouring's own setting (clusters, the word list) beside it
        colouring = colour_points(source, points, colour_by)
    mapped, shown_colouring = points, colouring
    points, colouring, search = with_placed(source, points, colouring, search, device)
    renderer = kept_choice("renderer", list(RENDERERS), url.get("renderer", "deck"))
    renderer = st.session_state[renderer]
    if renderer == "deck":
        words_mode = s5.toggle("Words as text", key=kept("words_mode", url.get("words") == "1"),
                               help="The whole map drawn as words (the points faint). Otherwise the most frequent "
                                    "words are labelled, more of them as you zoom in.")
        n_labels = 0
    else:
        words_mode = False
        n_labels = s5.slider("Labels on other points", 0, 200, key=kept_number(f"n_labels:{words_source}", 0, 200,
                                                                                 30 if words_source else 0))
    if "map_selection" not in st.session_state and url.get("selection"):  # a bookmarked link's selection
        linked = mapview.Bookmark.from_query({"selection": url["selection"]}).selection
        index = source.vectors.index
        st.session_state["map_selection"] = sorted(index[w] for w in linked if w in index)
    selected = map_selection(top_n, key)
    focus = mapview.isolated_rows(search.highlight, search.neighbours, selected)
    if focus:
        what = f"'{search.query}' and {len(search.neighbours)} neighbours" if search.highlight else \
            f"{len(selected):,} selected points"
        if len(points.words) > top_n:
            what += f" ({len(points.words) - top_n} of these words placed by their nearest projected words, in black)"
        b1, b2 = st.columns([1, 4], vertical_alignment="center")
        b1.button("Show all", icon=":material/zoom_out_map:", key="show_all", on_click=show_all, shortcut="Escape",
                  help="Back to the whole map (Escape)")
        b2.caption(f"Isolated: {escape_markdown(what)}; the rest is faded.")
    map_col, side_col = st.columns([3, 1.3])
    with side_col:  # first: the neighbours list reaches the browser before the map's points
        if renderer == "deck" and colouring.mode != "continuous":
            legend(colouring)
        neighbours_panel(source, search)
    with map_col:
        if renderer == "deck":
            deck_map(points, colouring, search, selected, words_mode, key, height)
        else:
            fig = plots.cloud_figure(points.coords, points.words, colouring.values, colouring.mode,
                                     colouring.categories, highlight=search.highlight + colouring.highlight,
                                     neighbours=search.neighbours + selected,
                                     labelled=list(range(min(n_labels, len(points.words)))),
                                     palette=colouring.palette)
            st.plotly_chart(fig, key=key, config={"scrollZoom": True})
        st.radio("Renderer", list(RENDERERS), format_func=RENDERERS.get, horizontal=True, key="renderer",
                 label_visibility="collapsed")
    if words_source:
        with st.expander("Bookmark and export this view", icon=":material/bookmark:"):
            share_view(source, mapped, points, colouring, colour_by, search, selected, height)
    return shown_colouring


def share_view(source: Source, mapped: Points, points: Points, colouring: Colouring, colour_by: str,
               search: "Search", selected: list[int], height: int) -> None:
    """The view as a link or a JSON file (and loading one back), and as a PNG or an offline HTML
    file; the files are made when their button is pressed. `mapped`: the projected points (the
    bookmark's), `points`: those drawn (with any words placed by their neighbours)."""
    xyz = _display(f"{points.method}:{points.dims}:{deck.digest(points.coords)}", points.coords)
    focus = mapview.isolated_rows(search.highlight, search.neighbours, selected)
    camera = mapview.frame(xyz, focus or None, pixels=height)
    if points.dims == 2:
        camera.rotation_orbit, camera.rotation_x = 0.0, 0.0
    n_clusters = st.session_state.get(f"n_clusters:{source.key}")
    bookmark.bookmark_panel(source, bookmark.current(source, mapped, search, colour_by, n_clusters, selected, camera))
    groups = deck_groups(colouring)
    labelled = list(focus) if focus else list(range(min(200, len(points.words))))
    name = f"embeddings-{source.key.replace(':', '-')}-{points.method}{points.dims}d"
    e1, e2 = st.columns(2)
    e1.download_button("PNG of this view", lambda: bookmark.png(xyz, points.words, groups, search.highlight,
                                                                  search.neighbours + selected, labelled, camera),
                       file_name=f"{name}.png", mime="image/png", icon=":material/image:", key="export_png")
    e2.download_button("Standalone HTML (offline)", lambda: bookmark.standalone_html(plots.cloud_figure(
        points.coords, points.words, colouring.values, colouring.mode, colouring.categories,
        highlight=search.highlight, neighbours=search.neighbours + selected, labelled=labelled,
        palette=colouring.palette)), file_name=f"{name}.html", mime="text/html", icon=":material/code:",
        key="export_html", help="Plotly's 3D map with plotly.js inside the file: it opens without a network.")


@st.cache_data(max_entries=8, show_spinner=False)
def _display(key: str, _coords: np.ndarray) -> np.ndarray:
    return mapview.display_coords(_coords)


def deck_map(points: Points, colouring: Colouring, search: "Search", selected: list[int], words_mode: bool,
             key: str, height: int, isolate: bool = True) -> None:
    """The map drawn by deck.gl; clicks on points select them (and isolate them)."""
    xyz = _display(f"{points.method}:{points.dims}:{deck.digest(points.coords)}", points.coords)
    groups = deck_groups(colouring)
    emphasised = list(search.neighbours) + [r for r in selected if r not in search.neighbours]
    camera = None  # deck.build frames the isolated points, or the whole map
    if points.dims == 2:  # seen from above, no rotation
        focus = mapview.isolated_rows(search.highlight, search.neighbours, selected) if isolate else []
        camera = mapview.frame(xyz, focus or None, pixels=height)
        camera.rotation_orbit, camera.rotation_x = 0.0, 0.0
    scene = deck.Scene(xyz, points.words, groups, searched=list(search.highlight), emphasised=emphasised,
                       words_mode=words_mode, camera=camera, isolate=isolate,
                       point_size=1.5 if len(xyz) > 100_000 else 2.0 if len(xyz) > 20_000 else 3.0)
    spec, picks = deck.build(scene, pixels=height)
    st.session_state[f"{key}:picks"] = picks
    st.pydeck_chart(spec, height=height, key=f"{key}_deck", on_select="rerun", selection_mode="multi-object")
    st.caption("Drag to rotate, scroll to zoom, shift-drag to pan; click points to select them "
               "(shift-click adds). Words appear as you zoom in.")


def layout_map(points: Points, key: str, height: int = 480, searched: str = "", caption: str | None = None) -> None:
    """A map without its settings (no search box, no colour choice): an intermediate or replayed
    layout (a t-SNE iteration, a Word2Vec epoch) coloured by frequency-rank quantiles, with the
    searched word and its place labelled. `key` must differ from the main map's."""
    bins, names = mapview.rank_bins(len(points.words), 8)
    colouring = Colouring(bins, "category", names, palette=mapview.scale_colours(len(names)))
    row = points.words.index(searched) if searched and searched in points.words else None
    search = Search(searched, 0, highlight=[] if row is None else [row])
    deck_map(points, colouring, search, [], False, key, height, isolate=False)
    if caption:
        st.caption(caption)


def deck_groups(colouring: Colouring) -> list[deck.Group]:
    values = np.asarray(colouring.values)
    if colouring.mode == "group":
        return [deck.Group("other words", mapview.GREY, np.flatnonzero(values == 0)),
                deck.Group("in the list", "#D55E00", np.flatnonzero(values > 0))]
    names = colouring.categories or []
    palette = colouring.palette or mapview.category_palette(len(names))
    return [deck.Group(name, palette[c], np.flatnonzero(values == c)) for c, name in enumerate(names)]


def legend(colouring: Colouring) -> None:
    """The colours' meaning beside the map (never over it)."""
    groups = deck_groups(colouring)
    items = "".join(f'<div style="display:flex;gap:6px;align-items:baseline;font-size:0.85rem;line-height:1.35">'
                    f'<span style="flex:none;width:10px;height:10px;border-radius:50%;background:{g.colour}"></span>'
                    f'<span>{html.escape(g.name)}</span></div>' for g in groups)
    st.html(f'<div data-testid="dp-map-legend" style="max-height:260px;overflow-y:auto;margin-bottom:8px">{items}</div>')


def map_selection(top_n: int, key: str = "cloud") -> list[int]:
    """The points selected by the 2D view's lasso or box, or by clicks on the map: whichever changed
    last; an empty event (a cleared lasso, a map redrawn) changes nothing: "Show all" clears."""
    state = st.session_state
    lasso = sorted({int(p["point_index"]) for p in _event_points(state.get("select2d"))
                    if p.get("curve_number", 0) == 0})
    clicks = deck.picked_rows(state.get(f"{key}_deck"), state.get(f"{key}:picks", {}))
    for name, rows in (("lasso", lasso), ("clicks", clicks)):
        if rows and rows != state.get(f"map_selection:{name}"):
            state["map_selection"] = rows
        state[f"map_selection:{name}"] = rows
    return [r for r in state.get("map_selection", []) if r < top_n]


def _event_points(event) -> list:
    try:
        return list(event.selection.points)
    except AttributeError:
        return []


def show_all() -> None:
    """Back to the whole map: no search, no selection."""
    st.session_state["query"] = st.session_state["kept:query"] = ""
    st.session_state["map_selection"] = []


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
                     "projected": n.index < top_n} for n in found]
    if i < top_n:
        search.highlight = [i]
    elif top_n:
        st.caption(f"'{escape_markdown(query)}' is word #{i + 1:,}, outside the {top_n:,} words projected: it is "
                   f"placed by its {min(PLACE_BY, top_n)} nearest projected words (raise 'Points' to project it).")
    search.neighbours = [n.index for n in found if n.index < top_n]
    return search


PLACE_BY = 10  # a word off the map is placed at the weighted mean of this many nearest projected words
PLACED_COLOUR = "#1A1A1A"


def with_placed(source: Source, points: Points, colouring: Colouring, search: Search,
                device) -> tuple[Points, Colouring, Search]:
    """The map with the searched word and its neighbours that were not projected (rarer than the
    map's words) placed on it by their nearest projected words (engine/embeddings/placement.py),
    in a colour of their own; the search then isolates and labels them like the others."""
    top_n = len(points.words)
    if search.table is None or not top_n:
        return points, colouring, search
    # The table already says which neighbours were projected; the query was when it is highlighted.
    off = ([] if search.highlight else [search.query]) + [r["word"] for r in search.table if not r["projected"]]
    if not off:
        return points, colouring, search
    rows = [source.vectors.index[w] for w in off]
    placed = placement.place(source.vectors, rows, points.coords, k=PLACE_BY, device=device)
    points = Points(points.words + off, np.vstack([points.x, source.vectors.vectors[rows].astype(np.float32)]),
                    np.vstack([points.coords, placed.coords.astype(points.coords.dtype)]), points.method, points.dims)
    new_rows = {w: top_n + j for j, w in enumerate(off)}
    searched = [new_rows[search.query]] if search.query in new_rows else search.highlight
    search = Search(search.query, search.k, highlight=searched,
                    neighbours=search.neighbours + [r for w, r in new_rows.items() if w != search.query],
                    table=search.table)
    values = np.asarray(colouring.values)
    if colouring.mode == "category":
        names = list(colouring.categories or [])
        palette = list(colouring.palette or mapview.category_palette(len(names)))
        colouring = Colouring(np.concatenate([values, np.full(len(off), len(names), dtype=values.dtype)]), "category",
                              names + ["placed by its neighbours"], colouring.highlight, palette + [PLACED_COLOUR])
    else:
        colouring = Colouring(np.concatenate([values, np.zeros(len(off), dtype=values.dtype)]), colouring.mode,
                              colouring.categories, colouring.highlight, colouring.palette)
    return points, colouring, search


def colour_points(source: Source, points: Points, colour_by: str) -> Colouring:
    """One colour value per point: its k-means cluster (named by its most frequent words), its true
    label, its frequency rank's quantile, whether it is in the word list typed here, or a metadata
    column of the uploaded file."""
    top_n = len(points.words)
    if colour_by == "cluster":
        most = min(30, top_n - 1)  # a map has at least 4 points: 2..3 clusters at the least
        linked = st.query_params.get("clusters", "10")
        n_clusters = st.slider("Clusters", 2, most, key=kept_number(f"n_clusters:{source.key}", 2, most,
                                                                    int(linked) if linked.isdigit() else 10))
        labels = kmeans_labels(f"{source.key}:{top_n}", points.x, n_clusters)
        names = mapview.cluster_legend(labels, points.words) if source.images is None else \
            [f"cluster {c}" for c in range(int(labels.max()) + 1)]
        return Colouring(labels, "category", names)
    if colour_by == "label":
        return Colouring(source.images.labels[:top_n], "category", list(source.images.classes))
    if colour_by == "group":
        return group_colouring(source, points)
    if colour_by == "metadata":
        return metadata_colouring(source, top_n)
    n_bins = st.slider("Rank quantiles", 3, 10, key=kept_number("rank_bins", 3, 10, 8),
                       help="Equal numbers of words per colour: the most frequent words get a colour of their own.")
    bins, names = mapview.rank_bins(top_n, n_bins)
    return Colouring(bins, "category", names, palette=mapview.scale_colours(len(names)))


def _metadata_columns(source: Source) -> list[str]:
    meta = source.vectors.metadata
    return [] if meta is None else [str(c) for c in meta.columns]


def metadata_colouring(source: Source, top_n: int) -> Colouring:
    """A column of the uploaded metadata as colours (its most common values, the rest "other")."""
    columns = _metadata_columns(source)
    column = st.selectbox("Column", columns, key=kept_choice(f"meta_column:{source.key}", columns, columns[-1]))
    values = [str(v) for v in source.vectors.metadata[column].tolist()[:top_n]]
    codes, names = mapview.metadata_categories(values)
    return Colouring(codes, "category", names)


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
    """A 2D view of the same map (first two axes) where a box or a lasso selects points; the
    selection (or the points clicked on the map) is isolated on the map above and listed here."""
    words = points.words
    with st.expander("Select points (box or lasso on a 2D view of the same map)", expanded=False):
        st.plotly_chart(plots.selection_figure(points.coords, words, colouring.values, colouring.mode,
                                               colouring.categories, palette=colouring.palette),
                        key="select2d", on_select="rerun", selection_mode=("box", "lasso"))
        picked = map_selection(len(words))
        if not picked:
            st.caption("Drag a box or a lasso around points (or click points on the map) to isolate them.")
            return
        st.markdown(f"**{len(picked):,} selected**, isolated on the map above")
        if source.images is not None:
            st.image([source.images.images[i, 0] for i in picked[:48]], caption=[words[i] for i in picked[:48]],
                     width=56, clamp=True)
        else:
            st.write(", ".join(words[i] for i in picked[:500]) + (" ..." if len(picked) > 500 else ""))
