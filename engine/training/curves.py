"""Display helpers for training curves: TensorBoard smoothing, spike-keeping downsampling, x axes.

The RunStore keeps every point; only what is drawn is smoothed or thinned. The training page calls
these once a second on the whole run, so they stay cheap on 100k-step runs.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

X_AXIS_MODES = ("step", "epoch", "wall")


def smooth(values, weight: float) -> np.ndarray:
    """TensorBoard's scalar smoothing: a debiased exponential moving average.

    last = last * weight + (1 - weight) * v, shown as last / (1 - weight ** n) where n counts the
    finite points so far: without the debiasing the curve would start near 0 (last starts at 0).
    NaN and inf points are shown as they are and skipped by the average, so one diverged step does
    not turn the rest of the curve into NaN. weight 0 gives the input back.
    """
    return smooth_from(values, weight)[0]


def smooth_from(values, weight: float, last: float = 0.0, count: int = 0) -> tuple[np.ndarray, float, int]:
    """`smooth` continued from the state (last, count) it ended in on the points before `values`:
    a live curve is extended by its new points only. Returns (smoothed values, last, count)."""
    values = np.asarray(values, dtype=float)
    if not 0.0 <= weight < 1.0:
        raise ValueError(f"smoothing weight must be in [0, 1); got {weight}")
    if weight == 0.0:
        return values.copy(), last, count
    out = values.copy()
    # A plain Python loop over floats: the recurrence is sequential, and this is ~10x faster than
    # indexing a numpy array element by element.
    for i, v in enumerate(values.tolist()):
        if not math.isfinite(v):
            continue  # out[i] already holds v
        last = last * weight + (1.0 - weight) * v
        count += 1
        out[i] = last / (1.0 - weight ** count)
    return out, last, count


def downsample_minmax(x, y, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `max_points` points that keep the curve's shape, spikes included.

    The points are cut into max_points // 2 equal runs (buckets) and each bucket keeps its lowest
    and its highest point, in their original order: a plain stride would skip most spikes. NaNs
    are ignored when picking; a bucket with no number at all keeps its first point (a gap in the
    line). The newest (last) point is always kept, a live curve ends where the run is (so one point
    over the cap when it is neither its bucket's min nor max). At or below the cap x and y come
    back unchanged.
    """
    x, y = np.asarray(x), np.asarray(y, dtype=float)
    n = len(y)
    if n <= max_points:
        return x, y
    if max_points < 2:
        raise ValueError(f"max_points must be at least 2 (a min and a max); got {max_points}")
    size = math.ceil(n / (max_points // 2))  # points per bucket; the last bucket may be short
    buckets = math.ceil(n / size)             # <= max_points // 2
    # Pad to a full rectangle with NaN so every bucket is one row; NaN never wins below.
    padded = np.full(buckets * size, np.nan)
    padded[:n] = y
    rows = padded.reshape(buckets, size)
    lows = np.argmin(np.where(np.isnan(rows), np.inf, rows), axis=1)
    highs = np.argmax(np.where(np.isnan(rows), -np.inf, rows), axis=1)
    # An all-NaN row gives 0 for both (the first point, always a real one). Keep each bucket's two
    # picks in index order, once each when they coincide.
    first, second = np.minimum(lows, highs), np.maximum(lows, highs)
    starts = np.arange(buckets) * size
    keep = np.stack([starts + first, starts + second], axis=1).ravel()
    # The newest point always stays: a live curve must end where the run is.
    keep = np.append(keep, n - 1)
    keep = keep[np.r_[True, keep[1:] != keep[:-1]]]
    return x[keep], y[keep]


def x_axis(df: pd.DataFrame, mode: str) -> pd.Series:
    """The x value of each row of a long metrics frame (RunStore.metrics), aligned to its index.

    "step": the optimiser step. "wall": seconds since the run's first row. "epoch": for step-level
    rows, epoch - 1 + (position of the step within its epoch) / (steps per epoch), so step losses
    run from epoch - 1 to epoch and line up with the per-epoch points, which are written at the
    epoch's last step and so land on whole epochs. Steps per epoch is the widest epoch seen (all
    epochs have the same number of steps; only the one under way is still short). Rows without an
    epoch get NaN.
    """
    if mode == "step":
        return df["step"].astype(float)
    if mode == "wall":
        return df["wall_time"] - df["wall_time"].min()
    if mode != "epoch":
        raise ValueError(f"unknown x axis {mode!r}; choose one of {', '.join(X_AXIS_MODES)}")
    epoch = df["epoch"].astype(float)  # nullable Int64 -> float with NaN
    step = df["step"].astype(float)
    if df.empty:
        return epoch
    first = step.groupby(epoch).transform("min")  # first step written in each epoch
    span = step - first + 1                        # 1 for the epoch's first step
    steps_per_epoch = (step.groupby(epoch).max() - step.groupby(epoch).min() + 1).max()
    return epoch - 1 + span / steps_per_epoch


# ---- which metrics to draw -----------------------------------------------------------------------
# The validation metric that compares runs, by objective: classifiers, sequence models, VAEs.
COMPARED_METRICS = ("val_acc", "val_exact_match", "val_elbo")


def compared_metric(metrics: list[pd.DataFrame]) -> str:
    """The first of COMPARED_METRICS that any of these runs recorded (val_acc when none did)."""
    return next((name for name in COMPARED_METRICS if any((m.name == name).any() for m in metrics)), "val_acc")


def other_epoch_metrics(metrics: pd.DataFrame) -> tuple[str, ...]:
    """The per-epoch train_/val_ metrics other than the losses (accuracy for a classifier; KL,
    exact match, D/G losses... for other objectives), train before val."""
    names = [n for n in metrics.name.unique() if n.startswith(("train_", "val_")) and n not in ("train_loss", "val_loss")]
    return tuple(sorted(names, key=lambda n: (not n.startswith("train_"), n)))


def has_grad_norms(metrics: pd.DataFrame) -> bool:
    """Whether the run recorded per-layer gradient norms (the Trainer writes them as grad_norm/<layer>)."""
    return bool(metrics.name.str.startswith("grad_norm/").any())
