"""Checkpoint retention: which of a run's per-epoch checkpoints are kept.

The Trainer saves a checkpoint every epoch; keeping them all filled 12.9 GB in one 1000-epoch MLP
run. A run keeps the checkpoints of its last `keep_last` epochs, of epoch 1 and every
`keep_every`-th epoch (to look back at how it learned), and of its best epoch by validation score
(`keep_best`); the Trainer deletes the others after each save. The defaults (5, 100, on) keep
16 checkpoints of a 1000-epoch run (about 200 MB of that one), and every epoch of
a run of up to 5 epochs.

The settings are training Params (engine.core.registry.TRAINING_PARAMS): the Training page shows
them and the CLI sets them with `--set keep_last=3`. Runs made before they existed keep every
epoch until a clean-up (Home, or `python -m engine runs clean-up`) applies the defaults to them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import engine.models  # noqa: F401  (the clean-up applies to the runs of every registered model)
from engine.core.registry import TRAINING_PARAMS, list_specs
from engine.core.runs import RunStore

# The validation score a run's best epoch is picked by: the first of these the run records.
BEST_BY = (("val_acc", "highest"), ("val_loss", "lowest"))


@dataclass(frozen=True)
class Retention:
    keep_last: int
    keep_every: int
    keep_best: bool

    @classmethod
    def of(cls, params: dict) -> "Retention":
        """A run's policy from its stored params (the defaults where it predates them)."""
        defaults = {p.name: p.default for p in TRAINING_PARAMS}
        return cls(*(params.get(name, defaults[name]) for name in ("keep_last", "keep_every", "keep_best")))

    def kept(self, epochs: list[int], best: int | None) -> set[int]:
        """Which of the saved `epochs` to keep, `best` being the best epoch (None: unknown)."""
        epochs = sorted(epochs)
        keep = set(epochs[-max(1, int(self.keep_last)):])  # the newest is always kept
        if self.keep_every:
            keep |= {e for e in epochs if e == 1 or e % int(self.keep_every) == 0}
        if self.keep_best and best in epochs:
            keep.add(best)
        return keep

    def describe(self) -> str:
        """In words: "the last 5 epochs, epoch 1 and every 100th, and the best"."""
        parts = [f"the last {self.keep_last} epochs" if self.keep_last != 1 else "the last epoch"]
        if self.keep_every:
            parts.append("every epoch" if self.keep_every == 1 else f"epoch 1 and every {_ordinal(self.keep_every)}")
        if self.keep_best:
            parts.append("the best")
        return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + ", and " + parts[-1]


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def default_retention() -> Retention:
    """The policy of a run that sets none (and of runs made before retention existed)."""
    return Retention.of({})


def best_epoch(store: RunStore, run_id: int) -> int | None:
    """The epoch with the best validation score (the first of BEST_BY the run records), or None."""
    metrics = store.metrics(run_id, names=[name for name, _ in BEST_BY])
    for name, better in BEST_BY:
        rows = metrics[(metrics.name == name)].dropna(subset=["epoch", "value"])
        if rows.empty:
            continue
        per_epoch = rows.groupby("epoch").value.last()  # a value logged twice: the later one
        return int(per_epoch.idxmax() if better == "highest" else per_epoch.idxmin())
    return None


def to_prune(store: RunStore, run_id: int, params: dict) -> list[int]:
    """The run's saved epochs that its policy (from its `params`) does not keep."""
    epochs = store.checkpoint_epochs(run_id)
    policy = Retention.of(params)
    if len(epochs) <= policy.keep_last:  # all of them are among the last: no need to find the best
        return []
    best = best_epoch(store, run_id) if policy.keep_best else None
    return sorted(set(epochs) - policy.kept(epochs, best))


def prune(store: RunStore, run_id: int, params: dict) -> int:
    """Delete the run's checkpoints its policy does not keep; returns the bytes freed."""
    return store.delete_checkpoints(run_id, to_prune(store, run_id, params))


@dataclass
class CleanUp:
    """What a clean-up would delete: {run id: epochs}, and the bytes that frees."""
    epochs: dict[int, list[int]] = field(default_factory=dict)
    bytes: int = 0

    @property
    def checkpoints(self) -> int:
        return sum(len(e) for e in self.epochs.values())


def plan_clean_up(store: RunStore) -> CleanUp:
    """The checkpoints of finished runs (of registered models) that their policy does not keep:
    runs made before retention existed, or whose settings were changed since."""
    models = {spec.name for spec in list_specs()}
    plan = CleanUp()
    for run in store.list_runs():
        if run.status == "running" or run.model not in models:
            continue
        epochs = to_prune(store, run.id, run.params)
        if epochs:
            sizes = store.checkpoint_sizes(run.id)
            plan.epochs[run.id] = epochs
            plan.bytes += sum(sizes.get(e, 0) for e in epochs)
    return plan


def clean_up(store: RunStore, plan: CleanUp) -> int:
    """Delete what `plan` lists; returns the bytes freed."""
    return sum(store.delete_checkpoints(run_id, epochs) for run_id, epochs in plan.epochs.items())


def human_bytes(size: float) -> str:
    """1234567 -> "1.2 MB" (powers of 1000, as file managers show them)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
