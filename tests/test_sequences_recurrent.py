"""Recurrent models on counting ones, their unrolled insides, and the gradient-flow demo (and its
training as a job)."""
import time

import numpy as np
import pytest
import torch

from engine.core.jobs import RunControl, children
from engine.attention.recurrent import gradient_flow, train_linear_rnn, unroll
from engine.models.recurrent import RecurrentCounter
from engine.core.params import ParamError
from engine.core.registry import validate
from engine.attention.rnn_demo import LinearRnnJob
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob
from tests.waiting import wait_for


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_counting_lstm_reaches_100_percent_within_6_epochs(tmp_path):
    """The classic claim: 10,000 sequences of length 20, hidden 20: 100 % test accuracy by epoch 6."""
    config = validate("recurrent", "count_ones", {"cell": "lstm", "hidden": 20, "epochs": 6, "lr": 1e-2,
                                                  "batch_size": 64}, {"n_samples": 10_000, "length": 20})
    job = TrainingJob(config, RunStore(tmp_path), device="cpu")
    assert job.run() == "completed"
    assert job.progress.final["val_acc"] == 1.0


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_unroll_matches_the_torch_module(cell):
    torch.manual_seed(0)
    model = RecurrentCounter(cell, hidden=5).eval()
    bits = [1, 0, 1, 1, 0, 0, 1]
    inside = unroll(model, bits)
    with torch.no_grad():
        out, _ = model.rnn(torch.tensor(bits, dtype=torch.float32).view(1, -1, 1))
        prediction = model(torch.tensor([bits], dtype=torch.float32))
    np.testing.assert_allclose(inside.hidden, out[0].numpy(), rtol=1e-5, atol=1e-6)
    assert inside.outputs[-1] == pytest.approx(float(prediction), rel=1e-5)
    if cell == "lstm":
        assert set(inside.gates) == {"input gate", "forget gate", "cell input", "output gate"}
        assert inside.cell.shape == (7, 5)
        assert all(0 <= v.min() and v.max() <= 1 for k, v in inside.gates.items() if k.endswith("gate"))
    elif cell == "gru":
        assert set(inside.gates) == {"reset gate", "update gate", "candidate"} and inside.cell is None
    else:
        assert inside.gates is None


def test_linear_rnn_gradient_is_w_to_the_distance():
    flow = gradient_flow(50, "linear", w=1.5)
    assert flow.finite
    np.testing.assert_allclose(flow.norms, 1.5 ** np.arange(49, -1, -1), rtol=1e-4)
    assert "explodes" in flow.message
    assert "vanishes" in gradient_flow(50, "linear", w=0.5).message


def test_overflow_is_reported_not_raised():
    flow = gradient_flow(2000, "linear", w=1.5)
    assert not flow.finite and not np.isfinite(flow.norms).all()
    assert flow.message.startswith("overflow") and "exploding gradient" in flow.message


def test_tanh_rnn_vanishes_with_a_small_init():
    flow = gradient_flow(100, "tanh", init_scale=0.5)
    assert flow.finite and flow.norms[0] < 1e-6 * flow.norms[-1]


def test_linear_rnn_training_stops_at_nan():
    history = train_linear_rnn(40, epochs=40, lr=3e-2, target_ones=12)
    assert history["nan_epoch"] is not None and not np.isfinite(history["loss"][-1])
    calm = train_linear_rnn(10, epochs=10, lr=1e-2)
    assert calm["nan_epoch"] is None and calm["loss"][-1] < calm["loss"][0]


# ---- the linear-RNN demo as a job (engine.attention.rnn_demo) -----------------------------------------------


def test_linear_rnn_job_diverges_naming_the_epoch_and_keeps_the_curve(tmp_path):
    store = RunStore(tmp_path)
    expected = train_linear_rnn(40, epochs=40, lr=3e-2, target_ones=12)
    job = LinearRnnJob(store, length=40, epochs=40, lr=3e-2, target_ones=12, seed=0)
    assert job.run() == "diverged"
    run = store.get_run(job.run_id)
    bad = expected["nan_epoch"]
    assert (run.model, run.dataset) == ("linear_rnn", "count_ones")
    assert run.params == {"length": 40, "epochs": 40, "lr": 3e-2, "target_ones": 12, "seed": 0}
    assert run.status == "diverged" and f"at epoch {bad}" in run.message and "exploded" in run.message
    metrics = store.metrics(job.run_id)
    loss = metrics[metrics.name == "loss"]
    assert loss.step.tolist() == list(range(1, bad + 1)) and loss.epoch.tolist() == list(range(1, bad + 1))
    np.testing.assert_allclose(loss.value.to_numpy()[:-1], expected["loss"][:-1], rtol=1e-6)
    assert not np.isfinite(loss.value.iloc[-1])  # the curve is kept up to the epoch that overflowed
    w = metrics[metrics.name == "w"]
    assert w.step.tolist() == list(range(1, bad)) and w.value.tolist() == pytest.approx(expected["w"])
    assert RunControl(store, job.run_id).progress().epoch == bad


def test_linear_rnn_job_completes_with_the_same_curve_as_the_function(tmp_path):
    store = RunStore(tmp_path)
    job = LinearRnnJob(store, length=10, epochs=12, lr=1e-2)
    assert job.run() == "completed"
    expected = train_linear_rnn(10, epochs=12, lr=1e-2)
    metrics = store.metrics_wide(job.run_id)
    np.testing.assert_allclose(metrics["loss"], expected["loss"], rtol=1e-6)
    np.testing.assert_allclose(metrics["u"], expected["u"], rtol=1e-6)
    progress = RunControl(store, job.run_id).progress()
    assert (progress.status, progress.epoch, progress.epochs) == ("completed", 12, 12)
    assert store.get_run(job.run_id).final["w"] == pytest.approx(expected["w"][-1])
    with pytest.raises(ParamError, match="learning rate"):
        LinearRnnJob(store, length=10, epochs=5, lr=0)


def test_linear_rnn_job_in_its_own_process_stops_through_the_store(tmp_path):
    store = RunStore(tmp_path)
    job = LinearRnnJob(store, length=10, epochs=10_000_000, lr=1e-3).start()
    control = RunControl(store, job.run_id)  # what a page holds: the store and the run id
    wait_for(lambda: control.progress().epoch >= 1, what="the first epochs")
    asked = time.monotonic()
    assert control.stop(wait=10) == "stopped"
    assert time.monotonic() - asked < 5
    run = store.get_run(job.run_id)
    assert "stopped by the user after epoch" in run.message
    loss = store.metrics(job.run_id, ["loss"])
    assert len(loss) >= 1 and np.isfinite(loss.value).all()
    assert loss.step.iloc[-1] <= control.progress().epoch
    assert job.run_id not in children()
