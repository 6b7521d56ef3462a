"""Curve display helpers: TensorBoard smoothing, min/max downsampling, x axes."""
import math

import numpy as np
import pandas as pd
import pytest

from engine.training.curves import (compared_metric, downsample_minmax, has_grad_norms, other_epoch_metrics, smooth,
                                    x_axis)
from engine.core.runs import RunStore


def test_smooth_matches_tensorboard_ema_by_hand():
    # w = 0.6: last = 0.6 * last + 0.4 * v from last = 0, shown as last / (1 - 0.6 ** n).
    #   n=1: 0.4                          / 0.4     = 1
    #   n=2: 0.24    + 0.8  = 1.04        / 0.64
    #   n=3: 0.624   + 1.2  = 1.824       / 0.784
    #   n=4: 1.0944  + 40   = 41.0944     / 0.8704
    #   n=5: 24.65664 + 1.6 = 26.25664    / 0.92224
    expected = [1.0, 1.04 / 0.64, 1.824 / 0.784, 41.0944 / 0.8704, 26.25664 / 0.92224]
    assert smooth([1, 2, 3, 100, 4], 0.6) == pytest.approx(expected, rel=1e-12)
    assert expected[:3] == pytest.approx([1.0, 1.625, 2.326530612244898], rel=1e-12)


def test_smooth_weight_zero_is_the_input():
    values = [3.0, -1.0, 7.5]
    out = smooth(values, 0.0)
    assert out.tolist() == values
    assert smooth([], 0.6).tolist() == []


def test_smooth_constant_stays_constant():
    # Thanks to the debiasing the first points are not pulled towards 0.
    assert smooth([2.0] * 50, 0.9) == pytest.approx([2.0] * 50, rel=1e-12)


def test_smooth_passes_nan_and_inf_through_without_poisoning_later_points():
    out = smooth([1.0, math.nan, 3.0, math.inf, 5.0], 0.5)
    # Finite points: n=1: 0.5 / 0.5 = 1; n=2: (0.25 + 1.5) / 0.75; n=3: (0.875 + 2.5) / 0.875.
    assert out[0] == 1.0
    assert math.isnan(out[1])
    assert out[2] == pytest.approx(1.75 / 0.75, rel=1e-12)
    assert out[3] == math.inf
    assert out[4] == pytest.approx(3.375 / 0.875, rel=1e-12)


def test_smooth_rejects_weight_one():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        smooth([1.0, 2.0], 1.0)


def test_downsample_keeps_the_spikes_and_respects_the_cap():
    x = np.arange(10_000)
    y = np.sin(x / 100.0)
    y[7777], y[1234] = 50.0, -50.0
    dx, dy = downsample_minmax(x, y, 100)
    assert len(dx) == len(dy) <= 100
    assert dy.max() == 50.0 and dx[dy.argmax()] == 7777
    assert dy.min() == -50.0 and dx[dy.argmin()] == 1234
    assert np.all(np.diff(dx) > 0)  # kept in x order, no point twice
    assert np.array_equal(dy, y[dx])  # real points, not averages


def test_downsample_always_keeps_the_newest_point():
    x = np.arange(10_001)
    y = np.zeros(10_001)
    y[-1] = 0.5  # neither the bucket's min nor its max: kept because it is where the run is
    y[-50] = 1.0
    dx, dy = downsample_minmax(x, y, 100)
    assert len(dx) <= 101 and dx[-1] == 10_000 and dy[-1] == 0.5


def test_downsample_under_the_cap_is_unchanged():
    x, y = np.arange(50), np.linspace(0.0, 1.0, 50)
    dx, dy = downsample_minmax(x, y, 50)
    assert np.array_equal(dx, x) and np.array_equal(dy, y)


def test_downsample_is_nan_safe():
    x = np.arange(1000)
    y = np.ones(1000)
    y[100:200] = np.nan          # buckets of 20 points: 100..199 are five all-NaN buckets
    y[500], y[503] = np.nan, 9.0  # a NaN beside the spike does not hide it
    dx, dy = downsample_minmax(x, y, 100)
    assert len(dx) <= 100
    assert dy[dx == 503].tolist() == [9.0]
    # An all-NaN bucket keeps its first point, so the line shows a gap there.
    assert [int(i) for i in dx[np.isnan(dy)]] == [100, 120, 140, 160, 180]


@pytest.fixture
def metrics(tmp_path):
    """Two full epochs of 4 steps and 2 steps into a third, written as the Trainer writes them."""
    store = RunStore(tmp_path)
    run_id = store.create_run("mlp", "spiral", {})
    rows = []
    for step in range(1, 11):
        epoch = (step - 1) // 4 + 1
        rows.append((step, epoch, "loss", 1.0 / step, 100.0 + step))
        if step % 4 == 0:
            rows.append((step, epoch, "val_acc", 0.5, 100.5 + step))
    store.append_metrics(run_id, rows)
    return store.metrics(run_id)


def test_x_axis_step(metrics):
    assert x_axis(metrics, "step").tolist() == [1, 2, 3, 4, 4, 5, 6, 7, 8, 8, 9, 10]


def test_x_axis_wall_is_seconds_since_the_first_row(metrics):
    # Wall times are 100 + step for losses and 100.5 + step for the epoch rows: exact in binary.
    assert x_axis(metrics, "wall").tolist() == [0, 1, 2, 3, 3.5, 4, 5, 6, 7, 7.5, 8, 9]


def test_x_axis_epoch_puts_steps_between_whole_epochs(metrics):
    x = x_axis(metrics, "epoch")
    assert x.index.equals(metrics.index)
    loss = x[metrics.name == "loss"].tolist()
    assert loss == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5]  # epoch 3 still under way
    assert x[metrics.name == "val_acc"].tolist() == [1.0, 2.0]


def test_x_axis_unknown_mode(metrics):
    with pytest.raises(ValueError, match="step, epoch, wall"):
        x_axis(metrics, "time")


def _named(*names: str) -> pd.DataFrame:
    """A long metrics frame with one row per name (RunStore.metrics' columns that matter here)."""
    return pd.DataFrame({"step": range(len(names)), "epoch": 1, "name": pd.Series(names, dtype=object), "value": 0.5})


def test_compared_metric_is_the_first_main_metric_any_run_recorded():
    classifier = _named("loss", "val_loss", "val_acc")
    seq2seq = _named("loss", "val_loss", "val_exact_match")
    vae = _named("loss", "val_loss", "val_elbo", "val_kl")
    assert compared_metric([seq2seq]) == "val_exact_match"
    assert compared_metric([vae, seq2seq]) == "val_exact_match"  # by the order of COMPARED_METRICS
    assert compared_metric([vae, classifier]) == "val_acc"
    assert compared_metric([vae]) == "val_elbo"
    assert compared_metric([_named("loss")]) == "val_acc" and compared_metric([]) == "val_acc"


def test_other_epoch_metrics_are_train_before_val_without_the_losses():
    metrics = _named("loss", "val_kl", "train_loss", "val_loss", "train_kl", "val_acc", "train_acc", "grad_norm/fc")
    assert other_epoch_metrics(metrics) == ("train_acc", "train_kl", "val_acc", "val_kl")
    assert other_epoch_metrics(_named("loss", "train_loss", "val_loss")) == ()


def test_has_grad_norms():
    assert has_grad_norms(_named("loss", "grad_norm/features.0"))
    assert not has_grad_norms(_named("loss", "val_acc", "norm/grad"))
    assert not has_grad_norms(_named())
