"""Projections to 2D/3D behind one interface: `fit_transform(X, method, dims, **params) -> Projection`.

PCA (scikit-learn, with the variance each axis explains), t-SNE (openTSNE, with per-iteration
progress) and UMAP (umap-learn). Results are cached on disk under <data dir>/projections by a
content hash of the vectors plus the method and its params, so revisiting a view is instant, also
after a restart.

UMAP's numba compile costs 30-45 s in every new process; `warm_up()` starts it in a background
thread (once per process) so the first real UMAP does not pay it, and `umap_ready()` tells the page
whether it is done.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.core.paths import data_dir

METHODS = ("pca", "tsne", "umap")
UMAP_METRICS = ("cosine", "euclidean", "correlation", "manhattan")
DEFAULTS = {
    "pca": {},
    "tsne": {"perplexity": 30.0, "n_iter": 500},
    "umap": {"n_neighbors": 15, "min_dist": 0.1, "metric": "cosine"},
}


@dataclass
class Projection:
    coords: np.ndarray                  # (N, dims) float32, finite
    method: str
    params: dict
    explained_variance: list[float] | None = None  # PCA: fraction per axis
    seconds: float = 0.0
    cached: bool = False


# ---- UMAP warm-up ---------------------------------------------------------------------------------

_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None
_warm_done = threading.Event()
_warm_error: list[str] = []


DEFAULT_MAP_WORDS = 10_000  # the GloVe map precomputed after the compile (the page's default size)


def _compile_umap(precompute_glove: bool) -> None:
    try:
        import umap
        rng = np.random.default_rng(0)
        # Small, but big enough to go through the same code paths as a real fit (nearest-neighbour
        # descent, the fuzzy graph and the layout optimiser), in 3 components and with cosine.
        x = rng.normal(size=(300, 16)).astype(np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for metric in ("cosine", "euclidean"):
                umap.UMAP(n_components=3, n_neighbors=10, metric=metric, n_epochs=20, random_state=0,
                          init="random").fit_transform(x)
    except Exception as err:  # noqa: BLE001 - a failed warm-up must not break the app
        _warm_error.append(f"{type(err).__name__}: {err}")
    finally:
        _warm_done.set()
    if precompute_glove:
        # The fit itself (not the compile) takes most of a minute for 10k words on 2 cores: compute
        # the default GloVe map into the cache now, so asking for it later is instant.
        try:
            from engine.embeddings.vectors import load_glove50
            words = np.asarray(load_glove50().vectors[:DEFAULT_MAP_WORDS], dtype=np.float32)
            fit_transform(words, "umap", 3)
        except Exception as err:  # noqa: BLE001 - GloVe missing or a full disk: the page computes on demand
            _warm_error.append(f"{type(err).__name__}: {err}")
    _precompute_done.set()


ENV_NO_WARM_UP = "DEEP_PLAYGROUND_NO_UMAP_WARMUP"  # "1": skip it (page tests that never run UMAP)
_precompute_done = threading.Event()


def warm_up(precompute_glove: bool = True) -> threading.Thread | None:
    """Compile UMAP's numba code in a daemon thread, once per process, then (by default) compute the
    default GloVe map (top 10k words, 3D) into the cache; returns that thread (None when
    $DEEP_PLAYGROUND_NO_UMAP_WARMUP=1: UMAP then compiles on its first use)."""
    global _warm_thread
    if os.environ.get(ENV_NO_WARM_UP) == "1":
        return None
    with _warm_lock:
        if _warm_thread is None:
            _warm_thread = threading.Thread(target=_compile_umap, args=(precompute_glove,), name="umap-warm-up",
                                            daemon=True)
            _warm_thread.start()
        return _warm_thread


def default_map_pending() -> bool:
    """True while the warm-up is still computing the default GloVe map (10k words, 3D, default params)."""
    return _warm_thread is not None and not _precompute_done.is_set()


def umap_ready() -> bool:
    return _warm_done.is_set()


def umap_warming() -> bool:
    return _warm_thread is not None and not _warm_done.is_set()


# ---- cache ----------------------------------------------------------------------------------------

def content_hash(x: np.ndarray, method: str, dims: int, params: dict) -> str:
    h = hashlib.sha256()
    x = np.ascontiguousarray(x, dtype=np.float32)
    h.update(str(x.shape).encode())
    h.update(memoryview(x).cast("B"))
    h.update(json.dumps({"method": method, "dims": dims, **params}, sort_keys=True).encode())
    return h.hexdigest()[:32]


def cache_dir():
    path = data_dir() / "projections"
    path.mkdir(parents=True, exist_ok=True)
    return path


# Maps that ship with the app (assets/projections/<content hash>.npz, float16 coordinates): the
# default GloVe map (UMAP of the 10k most frequent words, 3D, default params), so a fresh start shows
# it at once instead of after the 30-45 s compile and the fit (see shipped_path and tools in bench/).
SHIPPED = Path(__file__).resolve().parents[2] / "assets" / "projections"


def shipped_path(key: str) -> Path:
    return SHIPPED / f"{key}.npz"


def _load_cached(key: str) -> Projection | None:
    path = cache_dir() / f"{key}.npz"
    if not path.exists():
        path = shipped_path(key)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return Projection(np.asarray(z["coords"], dtype=np.float32), meta["method"], meta["params"], meta.get("explained_variance"),
                              meta.get("seconds", 0.0), cached=True)
    except (OSError, ValueError, KeyError):
        if path.parent == cache_dir():
            path.unlink(missing_ok=True)  # a torn or foreign file: recompute
        return None


def _store(key: str, result: Projection) -> None:
    path = cache_dir() / f"{key}.npz"
    tmp = path.with_name(f".{key}.{threading.get_ident()}.tmp.npz")
    meta = {"method": result.method, "params": result.params,
            "explained_variance": result.explained_variance, "seconds": result.seconds}
    np.savez(tmp, coords=result.coords, meta=np.array(json.dumps(meta)))
    tmp.replace(path)


def cache_key(x: np.ndarray, method: str = "pca", dims: int = 3, **params) -> str:
    """The cache's name for these inputs (the projection jobs are found by it)."""
    method, params = _check(x, method, dims, params)
    return content_hash(x, method, dims, params)


def cached(x: np.ndarray, method: str = "pca", dims: int = 3, **params) -> Projection | None:
    """The cached result for these inputs, or None (never computes)."""
    method, params = _check(x, method, dims, params)
    return _load_cached(content_hash(x, method, dims, params))


# ---- the projections ------------------------------------------------------------------------------

def min_points(dims: int) -> int:
    """The fewest points a map in `dims` dimensions is drawn for (every method: t-SNE and UMAP
    need a few neighbours per point; k-means on the map at least 2 clusters among them)."""
    return dims + 2


def _check(x, method: str, dims: int, params: dict) -> tuple[str, dict]:
    method = method.lower()
    if method not in METHODS:
        raise ValueError(f"unknown projection {method!r}; choose one of {', '.join(METHODS)}")
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims}")
    unknown = set(params) - set(DEFAULTS[method]) - {"seed"}
    if unknown:
        raise ValueError(f"{method} has no parameter(s) {', '.join(sorted(unknown))}; "
                         f"it takes {', '.join(DEFAULTS[method]) or 'none'}")
    params = {**DEFAULTS[method], "seed": 0, **params}
    if method == "umap" and params["metric"] not in UMAP_METRICS:
        raise ValueError(f"unknown UMAP metric {params['metric']!r}; choose one of {', '.join(UMAP_METRICS)}")
    n = len(x)
    if n < min_points(dims):
        raise ValueError(f"need at least {min_points(dims)} points to project to {dims}D, got {n}")
    if x.shape[1] < dims:
        raise ValueError(f"{x.shape[1]}-dimensional vectors cannot be projected to {dims}D: a {dims}D map needs "
                         f"vectors of at least {dims} dimensions")
    if method == "tsne" and not 1 <= params["perplexity"] < n:
        raise ValueError(f"t-SNE perplexity must be between 1 and the number of points ({n}); "
                         f"got {params['perplexity']}")
    if method == "umap" and not 2 <= params["n_neighbors"] < n:
        raise ValueError(f"UMAP n_neighbors must be between 2 and the number of points ({n}); "
                         f"got {params['n_neighbors']}")
    return method, params


def _pca(x, dims, params, progress):
    from sklearn.decomposition import PCA
    pca = PCA(n_components=dims, random_state=params["seed"])
    coords = pca.fit_transform(x)
    return coords, [float(v) for v in pca.explained_variance_ratio_]


def _tsne(x, dims, params, progress, layout=None):
    from openTSNE import TSNE
    from openTSNE.callbacks import Callback
    from engine.core.device import job_threads
    n_iter, early, every = int(params["n_iter"]), TSNE_EARLY_ITERATIONS, TSNE_EVERY
    total = early + n_iter

    class Report(Callback):
        """openTSNE restarts the iteration count for the second phase: count the calls instead.
        The count said "of 750" for 500 asked iterations: the 250 of early exaggeration are named
        as a phase of their own."""
        calls = 0

        def __call__(self, iteration, error, embedding):
            Report.calls += 1
            done = min(total, Report.calls * every)
            if progress:
                progress(min(0.99, done / total), f"t-SNE: {tsne_phase(done, n_iter)}")
            if layout:
                layout(done, np.asarray(embedding, dtype=np.float32))
            return False

    # Barnes-Hut in 3D (FFT interpolation is for 1-2D only). Its threads leave a core to the page.
    tsne = TSNE(n_components=dims, perplexity=params["perplexity"], n_iter=n_iter, early_exaggeration_iter=early,
                random_state=params["seed"], n_jobs=job_threads(), verbose=False,
                negative_gradient_method="bh" if dims == 3 else "fft",
                callbacks=Report(), callbacks_every_iters=every)
    return np.asarray(tsne.fit(x)), None


TSNE_EARLY_ITERATIONS = 250  # openTSNE's early exaggeration phase, before the asked iterations


def tsne_phase(done: int, n_iter: int) -> str:
    """Where t-SNE is after `done` iterations in all, in the user's count (the asked `n_iter` come
    after the early exaggeration phase)."""
    early = TSNE_EARLY_ITERATIONS
    return (f"early exaggeration, iteration {done} of {early}" if done <= early else
            f"iteration {done - early} of {n_iter}")
TSNE_EVERY = 10              # t-SNE reports (progress, a layout for the animation) every this many iterations


# umap-learn has no per-epoch callback, but its layout loop iterates `tqdm(range(n_epochs))`:
# umap.layouts.tqdm is replaced (once, in the process that runs UMAP) by a pass-through that calls
# this thread's reporter each epoch. Thread-local: the warm-up thread's fit reports nowhere.
_epoch_reporter = threading.local()


def _reporting_tqdm(iterable, **_kwds):
    report = getattr(_epoch_reporter, "report", None)
    items = list(iterable)
    for n, item in enumerate(items):
        if report:
            report(n, len(items))
        yield item


def _install_epoch_reporter() -> None:
    import umap.layouts
    umap.layouts.tqdm = _reporting_tqdm


UMAP_NEIGHBOURS_SHARE = 0.3  # of the progress bar: finding neighbours and the fuzzy graph, then epochs


def _umap(x, dims, params, progress, layout=None):
    import umap
    if progress:
        progress(0.02, "UMAP: finding nearest neighbours" + ("" if umap_ready() else
                                                             " (a process's first UMAP also compiles it: 30-45 s)"))
        _install_epoch_reporter()

        def report(epoch, epochs):
            progress(UMAP_NEIGHBOURS_SHARE + (1 - UMAP_NEIGHBOURS_SHARE) * epoch / epochs * 0.99,
                     f"UMAP: layout epoch {epoch + 1} of {epochs}")
        _epoch_reporter.report = report
    reducer = umap.UMAP(n_components=dims, n_neighbors=int(params["n_neighbors"]), min_dist=float(params["min_dist"]),
                        metric=params["metric"], random_state=params["seed"], low_memory=True)
    try:
        with warnings.catch_warnings():  # "n_jobs overridden by setting random_state": we want reproducible maps
            warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
            return reducer.fit_transform(x), None
    finally:
        _epoch_reporter.report = None


def fit_transform(x: np.ndarray, method: str = "pca", dims: int = 3, progress=None, use_cache: bool = True,
                  layout=None, **params) -> Projection:
    """Project the rows of `x` to `dims` (2 or 3) dimensions; cached by content hash + params.
    `progress(fraction, note)` is called as it goes (each t-SNE report, each UMAP epoch);
    `layout(iteration, coords)` with t-SNE's layout so far (every TSNE_EVERY iterations)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        raise ValueError("the vectors hold NaN or inf values: cannot project them")
    method, params = _check(x, method, dims, params)
    key = content_hash(x, method, dims, params)
    if use_cache:
        hit = _load_cached(key)
        if hit is not None:
            if progress:
                progress(1.0, "from the cache")
            return hit
    started = time.perf_counter()
    if method == "pca":
        coords, explained = _pca(x, dims, params, progress)
    else:
        coords, explained = {"tsne": _tsne, "umap": _umap}[method](x, dims, params, progress, layout)
    coords = np.asarray(coords, dtype=np.float32)
    if not np.isfinite(coords).all():
        raise ValueError(f"{method} produced non-finite coordinates")
    result = Projection(coords, method, params, explained, time.perf_counter() - started)
    if use_cache:
        _store(key, result)
    if progress:
        progress(1.0, f"{method} done in {result.seconds:.1f} s")
    return result
