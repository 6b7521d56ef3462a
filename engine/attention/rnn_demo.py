"""The linear-RNN exploding-gradient demo as a job: it trains in its own process like every other run.

The scalar RNN s_t = x_t·u + s_(t-1)·w learns to count ones by plain gradient descent
(engine.models.recurrent.linear_rnn_epochs). With a large enough learning rate w overshoots past 1,
the gradient (a power of w) explodes, and the loss becomes inf: the run ends "diverged" with the
epoch named and the curve up to there kept. Its run: model "linear_rnn", dataset "count_ones",
per-epoch metrics "loss", "u", "w" (step = epoch).
"""
from __future__ import annotations

import math
import time

from engine.core.jobs import STOPPED_BY_USER, Job
from engine.attention.recurrent import linear_rnn_epochs
from engine.core.params import ParamError
from engine.core.runs import RunStore

MAX_LENGTH = 2000


class LinearRnnJob(Job):
    """`LinearRnnJob(store, length, epochs, lr, target_ones, seed).start()` trains it in a child
    process; `.run()` here. Stop ends it between epochs; the other commands do not apply (an
    epoch takes a millisecond)."""
    MODEL, DATASET = "linear_rnn", "count_ones"
    flush_seconds = 0.2  # metric rows are written in batches this far apart (an epoch is ~1 ms)

    def __init__(self, store: RunStore, length: int = 40, epochs: int = 30, lr: float = 3e-2,
                 target_ones: int | None = None, seed: int = 0):
        length, epochs, lr = int(length), int(epochs), float(lr)
        if not 1 <= length <= MAX_LENGTH:
            raise ParamError(f"length must be between 1 and {MAX_LENGTH}, not {length}")
        if epochs < 1:
            raise ParamError(f"epochs must be at least 1, not {epochs}")
        if not (math.isfinite(lr) and lr > 0):
            raise ParamError(f"the learning rate must be a positive number, not {lr}")
        if target_ones is not None and not 0 <= int(target_ones) <= length:
            raise ParamError(f"target_ones must be between 0 and the length ({length}), not {target_ones}")
        self.length, self.epochs, self.lr, self.seed = length, epochs, lr, int(seed)
        self.target_ones = None if target_ones is None else int(target_ones)
        params = {"length": length, "epochs": epochs, "lr": lr, "target_ones": self.target_ones, "seed": self.seed}
        super().__init__(store, store.create_run(self.MODEL, self.DATASET, params))
        self.progress.epochs = self.progress.total_steps = epochs

    def _stop_asked(self) -> bool:
        return any(command.verb == "stop" for command in self.commands())

    def _work(self) -> tuple[str, str | None]:
        self.progress.state = "training"
        self.progress.note = "gradient descent on the linear RNN"
        self.write_progress()
        rows: list[tuple] = []
        last_flush = time.monotonic()
        for item in linear_rnn_epochs(self.length, self.epochs, lr=self.lr, target_ones=self.target_ones,
                                      seed=self.seed):
            wall = time.time()
            rows.append((item.epoch, item.epoch, "loss", item.loss, wall))
            if item.finite:
                rows += [(item.epoch, item.epoch, "u", item.u, wall), (item.epoch, item.epoch, "w", item.w, wall)]
            p = self.progress
            p.epoch = p.step = item.epoch
            p.last_loss = item.loss
            p.final = {"epochs": item.epoch, "loss": item.loss,
                       **({"u": item.u, "w": item.w} if item.finite else {"u": p.final.get("u"), "w": p.final.get("w")})}
            if not item.finite:
                self.write_progress(rows)
                return "diverged", self._divergence_message(item.epoch, item.loss, p.final.get("w"))
            if item.epoch == self.epochs or time.monotonic() - last_flush >= self.flush_seconds:
                self.write_progress(rows)
                rows, last_flush = [], time.monotonic()
            if self._stop_asked():
                self.write_progress(rows)
                return "stopped", f"{STOPPED_BY_USER} after epoch {item.epoch} of {self.epochs}"
        return "completed", None

    def _divergence_message(self, epoch: int, loss: float, w: float | None) -> str:
        reached = f" (w had reached {w:.3g}, and the gradient grows like w to the power {self.length})" \
            if w is not None else ""
        return (f"the loss became {loss} at epoch {epoch}: the gradients exploded{reached}. Training stopped "
                f"there; the curve up to epoch {epoch} is kept. Try a lower learning rate (e.g. {self.lr / 3:g}).")
