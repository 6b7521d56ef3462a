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


def map_settings(source: Source) -> tuple[str, int, int, dict]:
    """Projection, dimensions, number of points and the method's parameters. A shared link may set
    the first view: ?top=5000&method=pca&q=king&colour=rank"""
    total = len(source.vectors)
    url = st.query_params
    c1, c2, c3, c4 = st.columns([1.2, 0.8, 2, 2])
    method = c1.selectbox("Projection", METHODS, key="method", index=METHODS.index(url.get("method", "pca"))
                          if url.get("method") in METHODS else 0,
                          format_func=METHOD_TITLES.get)
    dims = c2.radio("Dimensions", [3, 2], horizontal=True, key="dims")
    asked = int(url["top"]) if is_whole(url.get("top")) else 10_000  # a shared link's ?top ("²" is no number)
    fewest = min(10, total)
    default_n = max(fewest, min(asked, total))  # within the slider's range
    top_n = c3.slider("Points (most frequent first)", fewest, total, default_n,
                      step=1 if total < 1000 else 100, key=f"top_n:{source.key}")
    with c4:
        params = method_params(method)
    return method, dims, top_n, params


def method_params(method: str) -> dict:
    params: dict = {}
    if method == "umap":
        p1, p2, p3 = st.columns(3)
        params["n_neighbors"] = p1.number_input("n_neighbors", 2, 200, 15, key="umap_nn")
        params["min_dist"] = p2.number_input("min_dist", 0.0, 1.0, 0.1, 0.05, key="umap_md")
        params["metric"] = p3.selectbox("metric", project.UMAP_METRICS, key="umap_metric")
    elif method == "tsne":
        p1, p2 = st.columns(2)
        params["perplexity"] = p1.number_input("perplexity", 2.0, 100.0, 30.0, 1.0, key="tsne_perplexity")
        params["n_iter"] = p2.number_input("iterations", 100, 2000, 500, 50, key="tsne_iter")
    else:
        st.caption("PCA: linear, instant. UMAP and t-SNE keep local neighbourhoods; they take longer and run "
                   "when you press the button.")
    return params


def project_points(source: Source) -> Points:
    """The settings, then the map's points; stops the page (st.stop) while a projection waits for
    its button or fails."""
    wv = source.vectors
    st.markdown(f"**{escape_markdown(wv.name)}**: {len(wv):,} {'points' if source.images is not None else 'words'}"
                f" × {wv.dim} dimensions")
    method, dims, top_n, params = map_settings(source)
    x = np.asarray(wv.vectors[:top_n], dtype=np.float32)
    try:
        result = project.cached(x, method, dims, **params)
        if result is None and method == "pca":
            result = project.fit_transform(x, method, dims, **params)
    except ValueError as err:
        st.error(escape_markdown(err), icon=":material/block:")
        st.stop()
    if result is None:
        result = project_on_demand(source, x, method, dims, params)
    if result.explained_variance:
        variance = ", ".join(f"{v:.1%}" for v in result.explained_variance)
        st.caption(f"PCA variance explained per axis: {variance} (total {sum(result.explained_variance):.1%}).")
    else:
        st.caption(f"{result.method.upper()} of {top_n:,} points"
                   + (" (from the cache)" if result.cached else f" in {result.seconds:.1f} s"))
    return Points(wv.words[:top_n], x, result.coords, method, dims)


def project_on_demand(source: Source, x: np.ndarray, method: str, dims: int, params: dict):
    """UMAP or t-SNE on a button (off while UMAP compiles or the default GloVe map is computed in
    the background); stops the page until it has run."""
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
        st.stop()
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
