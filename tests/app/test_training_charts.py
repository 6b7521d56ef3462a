"""The curves' Vega-Lite charts: which rows they draw, and a spec that stays put while data grows
(Streamlit swaps the data inside the chart on screen only while the spec is the same)."""
import numpy as np
import pandas as pd

from pages._ui import training_charts as charts


def _metrics(rows):
    return pd.DataFrame(rows, columns=["step", "epoch", "name", "value", "wall"])


def test_step_loss_draws_raw_and_smoothed_lines_thinned_with_the_newest_point_kept():
    x = np.arange(1, 5001, dtype=float)
    y = np.ones_like(x)
    y[1234] = 50.0  # a spike
    chart = charts.step_loss_figure([("run 7", x, y, y * 0.5)], "step", False, max_points=100)
    raw, smoothed = (chart.data[chart.data.kind == k] for k in ("raw", "smoothed"))
    assert set(chart.data.series) == {"run 7 loss"}
    assert len(raw) <= 101 and raw.y.max() == 50.0 and raw.x.iloc[-1] == 5000.0
    assert smoothed.y.max() == 25.0 and smoothed.x.iloc[-1] == 5000.0
    assert chart.title == "Training loss per step" and chart.spec["encoding"]["x"]["title"] == "step"


def test_the_spec_does_not_change_as_a_run_grows():
    grown = [charts.step_loss_figure([("run 1", np.arange(n, dtype=float), np.ones(n), np.ones(n))], "step", False)
             for n in (3, 300)]
    assert grown[0].spec == grown[1].spec and len(grown[0].data) == 6 and len(grown[1].data) == 600


def test_log_scale_leaves_out_what_a_log_axis_cannot_draw():
    chart = charts.step_loss_figure([("run 1", np.arange(4.0), np.array([1.0, 0.0, 0.5, -1.0]),
                                      np.array([1.0, 0.5, 0.5, 0.2]))], "step", True)
    assert chart.spec["encoding"]["y"]["scale"] == {"type": "log"}
    assert (chart.data.y > 0).all() and len(chart.data[chart.data.kind == "raw"]) == 2


def test_epoch_metrics_name_each_line_and_dot_the_training_ones():
    metrics = _metrics([(10, 1, "train_loss", 0.9, 0), (10, 1, "val_loss", 1.0, 0),
                        (20, 2, "train_loss", 0.5, 0), (20, 2, "val_loss", 0.7, 0), (20, 2, "val_acc", 0.8, 0)])
    chart = charts.epoch_figure([("run 3", metrics)], ("train_loss", "val_loss"), "Loss per epoch", "epoch")
    assert chart.data.series.tolist() == ["train loss", "train loss", "val loss", "val loss"]
    assert chart.data.split.tolist() == ["train", "train", "val", "val"]
    assert chart.data.x.tolist() == [1, 2, 1, 2] and chart.data.y.tolist() == [0.9, 0.5, 1.0, 0.7]
    two = charts.epoch_figure([("#1", metrics), ("#2", metrics)], ("val_loss",), "Validation loss", "epoch")
    assert two.data.series.tolist() == ["#1 val loss", "#1 val loss", "#2 val loss", "#2 val loss"]


def test_gradient_norms_one_line_per_layer_on_a_log_axis():
    metrics = _metrics([(10, 1, "loss", 2.0, 0), (10, 1, "grad_norm/net.0", 0.5, 0), (10, 1, "grad_norm/net.2", 0.0, 0),
                        (20, 2, "grad_norm/net.0", 0.25, 0), (20, 2, "grad_norm/net.2", 1e-3, 0)])
    chart = charts.grad_norm_figure(metrics)
    assert chart.spec["encoding"]["y"]["scale"] == {"type": "log"}
    # A zero norm (a dead layer) has no place on a log axis: left out, not drawn at the bottom.
    assert chart.data.series.tolist() == ["net.0", "net.0", "net.2"] and chart.data.x.tolist() == [1.0, 2.0, 2.0]


def test_a_long_run_s_epochs_are_a_thinned_line_without_markers():
    few = _metrics([(e, e, "val_acc", 0.5, 0) for e in range(1, charts.MARKED_EPOCHS + 1)])
    many = _metrics([(e, e, "val_acc", 0.5 + (e == 700) * 0.4, 0) for e in range(1, 2001)])
    short = charts.epoch_figure([("run 1", few)], ("val_acc",), "Accuracy per epoch", "epoch")
    long = charts.epoch_figure([("run 1", many)], ("val_acc",), "Accuracy per epoch", "epoch", thin=100)
    assert short.spec["layer"][0]["mark"]["point"] is True and len(short.data) == charts.MARKED_EPOCHS
    assert long.spec["layer"][0]["mark"]["point"] is False
    assert len(long.data) <= 101 and long.data.y.max() == 0.9 and long.data.x.iloc[-1] == 2000  # the spike, the newest
