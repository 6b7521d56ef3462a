"""The Embeddings page's map settings (projection, dimensions, how many points, the method's
parameters) and the projection itself: PCA at once, UMAP and t-SNE on a button (from the cache
when the same vectors and settings were projected before)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from engine.core.numbers import is_whole
from engine.embeddings import project
from pages._ui.embeddings_sources import Source
from pages._ui.embeddings_state import kept_choice, kept_number
from pages._ui.safe_markdown import escape_markdown

METHODS = ["pca", "umap", "tsne"]
METHOD_TITLES = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}


@dataclass(frozen=True)
class Points:
    """The points on the map: the first len(words) vectors (most frequent first) and their coordinates."""
    words: list[str]
    x: np.ndarray        # (n, dim) float32, the original vectors
    coords: np.ndarray   # (n, dims) where the projection put them
    method: str
    dims: int


def map_settings(source: Source) -> tuple[str, int, int, dict] | None:
    """Projection, dimensions, number of points and the method's parameters; None (with the reason
    shown) when the vectors hold too few words for any map. A shared link may set the first view:
    ?top=5000&method=pca&q=king&colour=rank"""
    wv = source.vectors
    total = len(wv)
    url = st.query_params
    fewest = project.min_points(2)
    if total < fewest:
        st.info(f"A map needs at least {fewest} points; these vectors hold {total}. The search above the map, the "
                "analogies and the heatmap work with any number.", icon=":material/info:")
        return None
    c1, c2, c3, c4 = st.columns([1.2, 0.8, 2, 2])
    method = c1.selectbox("Projection", METHODS, key=kept_choice("method", METHODS, url.get("method", "pca")),
                          format_func=METHOD_TITLES.get)
    # 3D needs vectors of at least 3 dimensions (PCA's third axis) and min_points(3) points.
    three_d = wv.dim >= 3 and total >= project.min_points(3)
    dim_options = [3, 2] if three_d else [2]
    dims = c2.radio("Dimensions", dim_options, horizontal=True, key=kept_choice("dims", dim_options, dim_options[0]),
                    help=None if three_d else f"A 3D map needs vectors of at least 3 dimensions and at least "
                                              f"{project.min_points(3)} points; these have {wv.dim} and {total}.")
    asked = int(url["top"]) if is_whole(url.get("top")) else 10_000  # a shared link's ?top ("²" is no number)
    default_n = min(asked, total)  # kept_number holds it within the slider's range
    least = min(10, total)
    if total > least:
        top_n = c3.slider("Points (most frequent first)", least, total, step=1 if total < 1000 else 100,
                          key=kept_number(f"top_n:{source.key}", least, total, default_n))
    else:
        top_n = total
        c3.caption(f"All {total} points are on the map.")
    with c4:
        params = method_params(method, top_n, source.key)
    return method, dims, top_n, params


def method_params(method: str, top_n: int, source_key: str) -> dict:
    """The method's parameters, within what `top_n` points allow (t-SNE's perplexity and UMAP's
    n_neighbors below the number of points), kept per source: a small vocabulary's limits do not
    carry over to the next vectors."""
    params: dict = {}
    if method == "umap":
        p1, p2, p3 = st.columns(3)
        most = min(200, top_n - 1)
        params["n_neighbors"] = p1.number_input("n_neighbors", 2, most,
                                                key=kept_number(f"umap_nn:{source_key}", 2, most, 15))
        params["min_dist"] = p2.number_input("min_dist", 0.0, 1.0, step=0.05, key=kept_number("umap_md", 0.0, 1.0, 0.1))
        params["metric"] = p3.selectbox("metric", project.UMAP_METRICS,
                                        key=kept_choice("umap_metric", project.UMAP_METRICS, "cosine"))
    elif method == "tsne":
        p1, p2 = st.columns(2)
        most = float(min(100, top_n - 1))
        params["perplexity"] = p1.number_input("perplexity", 2.0, most, step=1.0,
                                               key=kept_number(f"tsne_perplexity:{source_key}", 2.0, most, 30.0))
        params["n_iter"] = p2.number_input("iterations", 100, 2000, step=50, key=kept_number("tsne_iter", 100, 2000, 500))
    else:
        st.caption("PCA: linear, instant. UMAP and t-SNE keep local neighbourhoods; they take longer and run "
                   "when you press the button.")
    return params


def project_points(source: Source) -> Points | None:
    """The settings, then the map's points; None while there is no map (too few points, a
    projection waiting for its button, or one that failed: the reason is shown)."""
    wv = source.vectors
    st.markdown(f"**{escape_markdown(wv.name)}**: {len(wv):,} {'points' if source.images is not None else 'words'} × {wv.dim} dimensions")
    with st.container():
        settings = map_settings(source)
    # The projection's button, progress and caption in one slot: what follows keeps its place on the
    # page whichever of them is shown (a map that moved left a faded copy behind and reset the tabs).
    status = st.container()
    if settings is None:
        return None
    method, dims, top_n, params = settings
    x = np.asarray(wv.vectors[:top_n], dtype=np.float32)
    with status:
        try:
            result = project.cached(x, method, dims, **params)
            if result is None and method == "pca":
                result = project.fit_transform(x, method, dims, **params)
        except ValueError as err:
            st.error(escape_markdown(err), icon=":material/block:")
            return None
        if result is None:
            result = project_on_demand(source, x, method, dims, params)
        if result is None:
            return None
        if result.explained_variance:
            variance = ", ".join(f"{v:.1%}" for v in result.explained_variance)
            st.caption(f"PCA variance explained per axis: {variance} (total {sum(result.explained_variance):.1%}).")
        else:
            st.caption(f"{result.method.upper()} of {top_n:,} points"
                       + (" (from the cache)" if result.cached else f" in {result.seconds:.1f} s"))
    return Points(wv.words[:top_n], x, result.coords, method, dims)


def project_on_demand(source: Source, x: np.ndarray, method: str, dims: int, params: dict):
    """UMAP or t-SNE on a button (off while UMAP compiles or the default GloVe map is computed in
    the background); None until it has run."""
    top_n = len(x)
    warming = method == "umap" and project.umap_warming()
    # The default GloVe maps (10k words, default params) are computed in the background at start.
    precomputing = (method == "umap" and source.key == "glove50" and top_n == project.DEFAULT_MAP_WORDS and dims == 3
                    and params == project.DEFAULTS["umap"] and project.default_map_pending())
    if warming or precomputing:
        wait_for_umap(warming, precomputing)
    label = METHOD_TITLES[method]
    result = None
    if st.button(f"Run {label} on {top_n:,} points in {dims}D", type="primary", disabled=warming or precomputing,
                 icon=":material/play_arrow:", key="project_button"):
        bar = st.progress(0.0, text=f"{label}...")
        try:
            result = project.fit_transform(x, method, dims, progress=lambda f, m: bar.progress(f, text=m), **params)
        except (ValueError, MemoryError) as err:
            st.error(f"{label} failed: {escape_markdown(err)}", icon=":material/error:")
        bar.empty()
    if result is None:
        st.caption(f"{label} results are cached: the same vectors and settings come back instantly.")
    return result


def wait_for_umap(warming: bool, precomputing: bool) -> None:
    """Says what UMAP waits for, and redraws the page when it is ready."""
    st.info("UMAP is compiling in the background (30-45 s once per server start). PCA and t-SNE work "
            "meanwhile; this button turns on when it is ready." if warming else
            "The default UMAP map of GloVe's 10k most frequent words is being computed in the background "
            "since the app started: it appears here by itself when ready.", icon=":material/hourglass_top:")

    @st.fragment(run_every=2)
    def check_ready():
        if project.umap_ready() and not (precomputing and project.default_map_pending()):
            st.rerun(scope="app")
    check_ready()
