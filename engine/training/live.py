"""What a live view reads while a run trains in another process: only what is new since its last look.

A page refreshes a run's view every fraction of a second. Re-reading the whole metrics table and
re-smoothing the whole loss curve each time costs more the longer the run gets; a RunFollower reads
the run's progress and the metric rows written since its last poll (two small queries), keeps what
it read, and extends the smoothed loss curve by the new points only. Its counters (`rows`, `epoch`,
`checkpoint`) tell a view whether what it draws has changed, so unchanged charts are not rebuilt.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from engine.training.curves import smooth_from
from engine.core.jobs import Progress, RunControl
from engine.core.runs import RunStore

STEP_METRIC = "loss"


class RunFollower:
    def __init__(self, store: RunStore, run_id: int):
        self.store, self.run_id = store, int(run_id)
        self.control = RunControl(store, run_id)
        self.progress: Progress | None = None
        self.metrics = store.metrics_since(run_id, 0, [])[0]  # an empty frame of the right dtypes
        self.rows = 0        # metric rows read so far
        self.epoch = 0       # the last epoch whose end-of-epoch metrics were read
        self._after = 0      # the store's row number of the last row read
        self._steps = self.metrics.iloc[:0]  # the per-step loss rows, kept apart for the step chart
        self._smoothed: dict[float, tuple[np.ndarray, float, int]] = {}  # weight -> (curve, last, count)

    def poll(self) -> bool:
        """Read the progress and any new rows; True when either changed since the last poll."""
        before = self.progress
        self.progress = self.control.progress()
        new, self._after = self.store.metrics_since(self.run_id, self._after)
        if not new.empty:
            self.metrics = new if self.metrics.empty else pd.concat([self.metrics, new], ignore_index=True)
            self.rows = len(self.metrics)
            steps = new[new.name == STEP_METRIC]
            if not steps.empty:
                self._steps = steps if self._steps.empty else pd.concat([self._steps, steps])
            ended = new.epoch[new.name == "epoch_time"]
            if not ended.empty:
                self.epoch = int(ended.max())
        return not new.empty or before is None or _moved(before, self.progress)

    @property
    def steps(self) -> pd.DataFrame:
        """The per-step loss rows read so far (index: their position in `metrics`)."""
        return self._steps

    def smoothed_loss(self, weight: float) -> np.ndarray:
        """The step losses smoothed with `weight` (TensorBoard's EMA), extended by the new points only."""
        values = self._steps.value.to_numpy(dtype=float)
        curve, last, count = self._smoothed.get(weight, (np.empty(0), 0.0, 0))
        if len(curve) < len(values):
            more, last, count = smooth_from(values[len(curve):], weight, last, count)
            curve = np.concatenate([curve, more])
            self._smoothed[weight] = (curve, last, count)
        return curve[:len(values)]


def _moved(before: Progress, after: Progress) -> bool:
    return (before.status, before.state, before.step, before.epoch, before.note) != \
           (after.status, after.state, after.step, after.epoch, after.note)
