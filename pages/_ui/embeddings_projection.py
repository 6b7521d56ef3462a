"""The Embeddings page's map settings (projection, dimensions, how many points, the method's
parameters) and the projection itself: PCA at once; UMAP and t-SNE from the cache (the default GloVe
map ships with the app) or, on a button, as a background job (engine/embeddings/projection_job.py)
with its progress and a Cancel button, while the page stays usable and the previous map stays on
screen (t-SNE's layout so far replaces it as it optimises, so the map animates)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from engine.core.numbers import is_whole
from engine.core.jobs import RunControl
from engine.embeddings import project, projection_job
from pages._ui import embeddings_epochs as epochs
from pages._ui.embeddings_sources import Source
from pages._ui.embeddings_state import kept_choice, kept_number
from pages._ui.safe_markdown import escape_markdown

METHODS = ["pca", "umap", "tsne"]
METHOD_TITLES = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE", "epochs": "Per epoch"}
DEFAULT_METHOD = "umap"  # GloVe's default map (10k words, 3D) ships precomputed: shown at once
LAST = "proj_last"       # session state: (source key, Points) of the last finished map
JOB = "proj_job"         # session state: (cache key, run id) of this session's last projection job
LIVE = "proj_live"       # session state: the run id whose layout so far the map shows (None: a finished map)


def animate_every(n_points: int) -> float:
    """Seconds between two layouts drawn while t-SNE optimises (the map's fragment, not the page):
    1.5 s for small maps, 4 s for 10k points (measured in headless Chromium on 2 cores: redrawn every
    1.5 s, 10k points kept the browser busy enough that a search took up to 2.1 s to answer)."""
    return float(min(10.0, max(1.5, 4.0 * n_points / 10_000)))


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
    # Vectors trained here have a map per epoch (aligned PCA); a run just trained opens on it.
    methods = METHODS + (["epochs"] if epochs.stored_layouts(source.key, 3) else [])
    if "epochs" in methods and st.session_state.get(epochs.PREFER) == epochs.run_of(source.key):
        st.session_state.pop(epochs.PREFER)
        st.session_state["method"] = "epochs"
    method = c1.selectbox("Projection", methods, key=kept_choice("method", methods, url.get("method", DEFAULT_METHOD)),
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
        if method == "epochs":
            params = {"epoch": epochs.epoch_setting(source.key, list(epochs.stored_layouts(source.key, dims)))}
        else:
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
                   "in the background when you press the button.")
    return params


def project_points(source: Source) -> Points | None:
    """The settings, then the map's points; None while there is no map (too few points, or bad
    settings: the reason is shown). While UMAP or t-SNE waits for its button or computes, the map
    is the previous one (or t-SNE's layout so far, or PCA of the same points): never blank."""
    wv = source.vectors
    st.session_state[LIVE] = None
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
    if method == "epochs":
        with status:
            return epoch_points(source, x, dims, params["epoch"])
    with status:
        try:
            result = project.cached(x, method, dims, **params)
            if result is None and method == "pca":
                result = project.fit_transform(x, method, dims, **params)
        except ValueError as err:
            st.error(escape_markdown(err), icon=":material/block:")
            return None
        if result is None:
            return in_background(source, x, method, dims, params)
        if result.explained_variance:
            variance = ", ".join(f"{v:.1%}" for v in result.explained_variance)
            st.caption(f"PCA variance explained per axis: {variance} (total {sum(result.explained_variance):.1%}).")
        else:
            # A map this session's job has just computed reads as computed (its time) once, then as cached.
            last = st.session_state.get(JOB)
            just_done = last is not None and last[0] == project.cache_key(x, method, dims, **params)
            if just_done:
                st.session_state.pop(JOB)
            computed = not result.cached or just_done
            st.caption(f"{result.method.upper()} of {top_n:,} points"
                       + (f" in {result.seconds:.1f} s" if computed else " (from the cache)"))
    points = Points(wv.words[:top_n], x, result.coords, method, dims)
    st.session_state[LAST] = (source.key, points)
    return points


def epoch_points(source: Source, x: np.ndarray, dims: int, epoch: int) -> Points:
    """The run's stored map of `epoch` (aligned to the epoch before), and the words' paths."""
    stored = epochs.stored_layouts(source.key, dims)
    words = source.vectors.words
    st.caption(f"Epoch {epoch}'s map: PCA of that epoch's vectors, turned onto the previous epoch's map "
               f"(orthogonal Procrustes), so words move rather than jump. The neighbours use the last epoch's vectors.")
    epochs.trace_view(source.key, words, stored, dims)
    points = Points(words[:len(x)], x, stored[epoch][:len(x)], "epochs", dims)
    st.session_state[LAST] = (source.key, points)
    return points


def in_background(source: Source, x: np.ndarray, method: str, dims: int, params: dict) -> Points:
    """UMAP or t-SNE as a job: its button, then its progress and Cancel; returns the map to show
    meanwhile."""
    label, top_n = METHOD_TITLES[method], len(x)
    store = projection_job.job_store()
    key = project.cache_key(x, method, dims, **params)
    run_id = projection_job.running_job(key, store)
    if run_id is None:
        last = st.session_state.get(JOB)
        if last is not None and last[0] == key:
            how_it_ended(store, last[1], label)
        if st.button(f"Run {label} on {top_n:,} points in {dims}D", type="primary", icon=":material/play_arrow:",
                     key="project_button"):
            cancel_session_job(store)
            try:
                run_id = projection_job.ProjectionJob(x, method, dims, params, store).start().run_id
            except (ValueError, OSError) as err:
                st.error(f"{label} cannot start: {escape_markdown(err)}", icon=":material/error:")
            else:
                st.session_state[JOB] = (key, run_id)
        else:
            st.caption(f"{label} runs in the background: the page stays usable meanwhile, and the result is "
                       "cached (the same vectors and settings come back instantly).")
    shown = stand_in(source, x, method, dims, store, run_id)
    if run_id is not None:
        follow(store, run_id, label)  # after stand_in: it knows whether a layout so far is shown
    return shown


def cancel_session_job(store) -> None:
    """One projection at a time per session: a new one cancels the one under way (on 2 cores two
    would halve each other's speed)."""
    last = st.session_state.get(JOB)
    if last is not None:
        try:
            if RunControl(store, last[1]).progress().running:
                RunControl(store, last[1]).stop()
        except KeyError:
            pass


def how_it_ended(store, run_id: int, label: str) -> None:
    """This session's last job for these settings ended without a map: say how."""
    try:
        run = store.get_run(run_id)
    except KeyError:
        return
    if run.status == "stopped":
        st.info(f"{label} was cancelled; the previous map stays.", icon=":material/cancel:")
    elif run.status in ("failed", "interrupted"):
        st.error(f"{label} {run.status}: {escape_markdown(run.message or '')}", icon=":material/error:")


def stand_in(source: Source, x: np.ndarray, method: str, dims: int, store, run_id: int | None) -> Points:
    """The map while the projection is not there yet: t-SNE's layout so far, else the previous map
    of these vectors, else PCA of the same points (instant)."""
    words = source.vectors.words[:len(x)]
    label = METHOD_TITLES[method]
    frame = projection_job.latest_layout(store, run_id) if run_id is not None else None
    if frame is not None and frame[1].shape == (len(x), dims):
        st.session_state[LIVE] = run_id  # the map's fragment redraws the newer layouts (newest_layout)
        return Points(words, x, frame[1], method, dims)
    last = st.session_state.get(LAST)
    if last is not None and last[0] == source.key:
        points = last[1]
        st.caption(f"The previous map ({METHOD_TITLES[points.method]} of {len(points.words):,} points) stays "
                   f"until {label} is ready.")
        return points
    pca = project.fit_transform(x, "pca", dims)
    st.caption(f"PCA of these {len(x):,} points until {label} is ready.")
    return Points(words, x, pca.coords, "pca", dims)


def live_run() -> int | None:
    """The projection job whose layout so far is on the map (None: the map is a finished one)."""
    return st.session_state.get(LIVE)


def newest_layout(points: Points) -> Points:
    """In the map's fragment, each animate_every(n): the running job's newest layout of these points, with
    its caption. Only the map redraws, not the page: a click is not kept waiting behind the page
    redrawn for one animation frame after another (measured: a search took 3-4.7 s during t-SNE
    against 2-2.4 s idle when the page redrew every 1.5 s)."""
    run_id = live_run()
    if run_id is None:
        return points
    store = projection_job.job_store()
    frame = projection_job.latest_layout(store, run_id)
    if frame is None or frame[1].shape != points.coords.shape:
        return points
    label = METHOD_TITLES[points.method]
    when = project.tsne_phase(frame[0], int(store.get_run(run_id).params["n_iter"]))
    st.caption(f"{label}'s layout so far ({when}): it moves as {label} optimises.")
    return Points(points.words, points.x, frame[1], points.method, points.dims)


def follow(store, run_id: int, label: str) -> None:
    """The job's progress and Cancel, refreshed twice a second in a fragment (the rest of the page
    is not rerun); the page reruns when the job ends, and when t-SNE's first layout is there (the
    map's own fragment then redraws the newer ones, see newest_layout)."""
    control = RunControl(store, run_id)

    @st.fragment(run_every=0.5)
    def live():
        progress = control.progress()
        if not progress.running:
            st.rerun(scope="app")
        if live_run() != run_id and store.frame_step(run_id) is not None:
            st.rerun(scope="app")
        note = progress.note or "starting its process..."
        left, right = st.columns([5, 1])
        left.progress(round(progress.done_fraction * 200) / 200, text=note)  # the engine's own words
        if right.button("Cancel", icon=":material/cancel:", key="project_cancel",
                        help="stops the projection; the map on screen stays"):
            control.stop(wait=5)
            st.rerun(scope="app")

    live()
