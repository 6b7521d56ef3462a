"""Live views of a run that trains in its own process: read only what is new, rebuild only what changed.

Each page keeps one LiveRun per run it shows in st.session_state (this session's, never shared): the
engine's RunFollower (progress and the metric rows read so far) and the figures it last built, each
with the version it was built from. A refresh that finds nothing new rebuilds nothing.
"""
from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from engine.core.jobs import Progress
from engine.training.live import RunFollower
from engine.core.runs import RunStore

FAST_S = 0.5   # while steps are coming: a new point is on screen within about this long
SLOW_S = 2.0   # paused: only a resume from elsewhere can change the view
KEEP_RUNS = 4  # live views kept per session; older ones are dropped (and re-read if reopened)


def refresh_every(progress: Progress | None) -> float | None:
    """How often a live view should poll: fast while a run starts or trains, slowly while it is
    paused (only a resume from elsewhere can change the view), not at all once it has ended.
    (A fragment's pace is fixed when the page is drawn, and the page is redrawn when a run pauses,
    resumes or ends, so these are the states it must tell apart.)"""
    if progress is None or not progress.running:
        return None
    return SLOW_S if progress.paused else FAST_S


class LiveRun:
    def __init__(self, store: RunStore, run_id: int):
        self.follower = RunFollower(store, run_id)
        self._figures: dict[str, tuple[Any, Any]] = {}

    def figure(self, name: str, version: Any, build: Callable[[], Any]) -> Any:
        """The figure `name` built from `version` of the data (and the view's settings); rebuilt
        only when the version changes."""
        cached = self._figures.get(name)
        if cached is None or cached[0] != version:
            cached = (version, build())
            self._figures[name] = cached
        return cached[1]


def live_run(store: RunStore, run_id: int) -> LiveRun:
    """This session's live view of run `run_id` (created and polled once on first use)."""
    runs: dict = st.session_state.setdefault("_live_runs", {})
    key = (str(store.root), int(run_id))
    if key not in runs:
        runs[key] = LiveRun(store, run_id)
        runs[key].follower.poll()
        while len(runs) > KEEP_RUNS:
            runs.pop(next(iter(runs)))
    return runs[key]


def progress_line(p: Progress, total_epochs: int, epoch: int | None = None, lead: str = "") -> None:
    """A run's progress bar with its one line (epoch, samples/s, ETA), then how it ended, if it did."""
    text = f"{lead}epoch {p.epoch if epoch is None else epoch}/{p.epochs or total_epochs}"
    if p.samples_per_s:
        text += f" · {p.samples_per_s:,.0f} samples/s"
    if p.running and p.state == "starting":
        text += " · starting its process..."
    elif p.running and p.eta_s is not None and not p.paused:
        text += f" · ETA {p.eta_s:,.0f} s"
    # In steps of 0.5 %: the bar animates each time it moves, and that costs the browser.
    st.progress(round(p.done_fraction * 200) / 200, text=text)
    if p.status in ("diverged", "failed"):
        st.error(p.message, icon=":material/error:")
    elif p.status in ("stopped", "interrupted"):
        st.warning(p.message, icon=":material/pause_circle:")
    elif p.status == "pruned":  # a sweep's trial its scheduler ended early
        st.info(p.message, icon=":material/content_cut:")
