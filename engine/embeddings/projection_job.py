"""UMAP and t-SNE as background jobs: the same protocol as training runs (engine/core/jobs.py).

Why a job: t-SNE of 10k words takes a minute or two and UMAP of 400k words many minutes; run in
the page's script they blocked it (127 s for t-SNE, the map blank meanwhile). A `ProjectionJob`
projects in a process of its own (`start()`), writes its progress (monotone, ending at 1.0) and,
for t-SNE, its layout so far as the run's live frame (float16, every few iterations: the page
animates it), and reads Cancel as the store's `stop` command. The result goes to the projection
cache (engine/embeddings/project.py, by content hash), where the page finds it.

The jobs are runs of a RunStore of their own (<data dir>/projections/jobs): a projection is not a
training run, so it stays out of the runs the other pages list. A job is found again by its cache
key (`running_job`), so a second tab or a rerun follows the one already under way.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from engine.core.jobs import STOPPED_BY_USER, Job, RunControl
from engine.core.runs import RunStore
from engine.embeddings import project

JOB_MODEL = "projection"
FRAME = "coords"   # the live frame's array: the layout so far, float16
KEEP_JOBS = 20     # ended jobs kept in the job store (how the last ones ended)
WRITE_SECONDS = 0.2  # progress is written at most this often (each t-SNE report would be 75 writes)


class Cancelled(Exception):
    """Raised from the projection's own progress callback when Cancel arrives: it unwinds openTSNE's
    or umap-learn's loop at the next report."""


def job_store() -> RunStore:
    return RunStore(project.cache_dir() / "jobs")


class ProjectionJob(Job):
    """Project `x` with UMAP or t-SNE in a child process (`start()`) or here (`run()`).

    Bad settings raise ValueError before any run exists. The vectors travel to the child as a .npy
    file beside the cache (a 400k x 50 array is 80 MB: a file is written once and read from the page
    cache, not pickled through the forkserver's pipe); the job removes it when it ends.
    """
    poll_seconds = 0.2

    def __init__(self, x: np.ndarray, method: str, dims: int, params: dict, store: RunStore | None = None):
        x = np.ascontiguousarray(x, dtype=np.float32)
        method, full = project._check(x, method, dims, dict(params))
        if method == "pca":
            raise ValueError("PCA is instant: compute it with project.fit_transform, not as a job")
        self.method, self.dims, self.params, self.points = method, dims, dict(params), len(x)
        self.key = project.content_hash(x, method, dims, full)
        store = store or job_store()
        _tidy(store)
        super().__init__(store, store.create_run(JOB_MODEL, method, {"key": self.key, "dims": dims,
                                                                     "points": len(x), **full}))
        self.input = Path(project.cache_dir()) / f".{self.key}.{self.run_id}.input.npy"
        np.save(self.input, x)
        self._last_write = 0.0

    def _report(self, fraction: float, note: str) -> None:
        """Progress from the projection (throttled, never backwards); Cancel raises here."""
        progress = self.progress
        progress.fraction = max(progress.fraction or 0.0, min(float(fraction), 1.0))
        progress.note = note
        now = time.monotonic()
        if now - self._last_write >= WRITE_SECONDS or fraction >= 1.0:
            self._last_write = now
            self.write_progress()
        if any(c.verb == "stop" for c in self.commands()):
            raise Cancelled

    def _layout(self, iteration: int, coords: np.ndarray) -> None:
        if self.records:
            self.store.save_frame(self.run_id, iteration, {FRAME: coords.astype(np.float16)})

    def _work(self) -> tuple[str, str | None]:
        self.progress.state, self.progress.fraction = "training", 0.0
        self.progress.note = f"{self.method}: starting"
        self.write_progress()
        x = np.load(self.input)
        try:
            result = project.fit_transform(x, self.method, self.dims, progress=self._report, layout=self._layout,
                                           **self.params)
        except Cancelled:
            return "stopped", f"{STOPPED_BY_USER}; the previous map stays"
        self.progress.fraction, self.progress.note = 1.0, f"{self.method} done in {result.seconds:.1f} s"
        self.progress.final = {"seconds": result.seconds, "points": self.points}
        self.write_progress()
        return "completed", None

    def _release(self) -> None:
        self.input.unlink(missing_ok=True)
        if self.records:
            self.store.save_frame(self.run_id, 0, {})  # the last layout is in the cache now (or unwanted)


def _tidy(store: RunStore) -> None:
    """Forget all but the newest KEEP_JOBS ended jobs, and remove the input files of jobs whose
    process was killed before it could (Cancel ends a job that does not answer within seconds)."""
    runs = store.list_runs()
    for run in runs[KEEP_JOBS:]:
        if run.status != "running":
            store.delete_run(run.id)
    running = {str(r.id) for r in runs if r.status == "running"}
    for path in Path(project.cache_dir()).glob(".*.input.npy"):
        if path.name.split(".")[2] not in running:
            path.unlink(missing_ok=True)


def running_job(key: str, store: RunStore | None = None) -> int | None:
    """The run id of a projection job under way for this cache key (any tab started it), or None;
    a job whose process died is marked so on the way."""
    store = store or job_store()
    for run in store.list_runs(limit=50):
        if run.status == "running" and run.params.get("key") == key:
            if RunControl(store, run.id).progress().running:
                return run.id
    return None


def latest_layout(store: RunStore, run_id: int) -> tuple[int, np.ndarray] | None:
    """(iteration, coords as float32) of the job's newest intermediate layout, or None."""
    frame = store.frame(run_id)
    if frame is None or FRAME not in frame[1]:
        return None
    return frame[0], frame[1][FRAME].astype(np.float32)
