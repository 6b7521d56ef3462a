"""A sweep's trials as a table, and its best run: read from the run store, so the CLI, the page and a
sweep started elsewhere all see the same thing, live."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from engine.core.runs import Run, RunStore
from engine.core.sweep_records import Sweep


@dataclass
class Trial:
    run: Run
    values: dict        # the varied settings, as the run has them
    best: float | None  # the best value of the sweep's metric over the run's epochs
    epoch: int          # epochs done (where a pruned or stopped trial ended)


def best_value(store: RunStore, run_id: int, metric: str, mode: str) -> float | None:
    values = [v for v in store.metrics(run_id, [metric]).value.tolist() if math.isfinite(v)]
    if not values:
        return None
    return max(values) if mode == "max" else min(values)


def sweep_trials(store: RunStore, sweep: Sweep) -> list[Trial]:
    varied = list(sweep.spec.get("grid", {})) + list(sweep.spec.get("ranges", {}))
    return [Trial(run, {name: run.params.get(name) for name in varied},
                  best_value(store, run.id, sweep.metric, sweep.mode), int(run.progress.get("epoch", 0)))
            for run in store.sweep_runs(sweep.id)]


def best_trial(trials: list[Trial], mode: str) -> Trial | None:
    scored = [t for t in trials if t.best is not None]
    if not scored:
        return None
    return (max if mode == "max" else min)(scored, key=lambda t: t.best)


def trials_frame(trials: list[Trial], sweep: Sweep) -> pd.DataFrame:
    """One row per trial: run id, status, epochs done, the varied settings, the best metric."""
    rows = [{"run": t.run.id, "status": t.run.status, "epochs": t.epoch, **t.values, f"best {sweep.metric}": t.best}
            for t in trials]
    columns = ["run", "status", "epochs", *(list(sweep.spec.get("grid", {})) + list(sweep.spec.get("ranges", {}))),
               f"best {sweep.metric}"]
    return pd.DataFrame(rows, columns=columns)
