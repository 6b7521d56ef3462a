"""One device policy: default_device() for training, loading and inspecting; the recurrent unroll on
the model's device; an out-of-memory error caused by another run says so; deterministic GPU runs."""
import os

import numpy as np
import pytest
import torch

from engine.attention import recurrent
from engine.core import device as device_policy
from engine.core import loading
from engine.core.device import default_device, set_deterministic
from engine.core.registry import Shape, get_spec, validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob
from engine.models.recurrent import RecurrentCounter
from tests.stored import stored_run

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture
def store(tmp_path, data_env):
    return RunStore(tmp_path / "runs")


@pytest.fixture
def restore_determinism():
    """set_deterministic changes process-wide flags: put them back after the test."""
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
              torch.backends.cudnn.benchmark)
    yield
    torch.use_deterministic_algorithms(before[0])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[1:]


def test_default_device_follows_the_environment(monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DEVICE", "cpu")
    assert default_device() == torch.device("cpu")
    monkeypatch.setenv("DEEP_PLAYGROUND_DEVICE", "tpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        default_device()
    monkeypatch.delenv("DEEP_PLAYGROUND_DEVICE")
    assert default_device().type == ("cuda" if torch.cuda.is_available() else
                                     "mps" if device_policy._mps_available() else "cpu")


def test_loading_and_training_use_the_default_device(store, monkeypatch):
    run_id = stored_run(store, "mlp", "spiral")
    # The loader asks the policy (here it says "meta": no GPU needed to see that it is asked).
    monkeypatch.setattr(loading, "default_device", lambda: torch.device("meta"))
    on_meta = loading.load_run(store, run_id)
    assert {p.device.type for p in on_meta.model.parameters()} == {"meta"}
    assert loading.load_run(store, run_id, device="cpu").device == torch.device("cpu")
    monkeypatch.setenv("DEEP_PLAYGROUND_DEVICE", "cpu")
    job = TrainingJob(validate("mlp", "spiral", {"epochs": 1}), store)
    assert job.device == torch.device("cpu") and store.get_run(job.run_id).params["device"] == "cpu"


def test_unroll_makes_its_state_on_the_model_s_device(monkeypatch):
    for cell in ("lstm", "gru", "rnn"):
        model = RecurrentCounter(cell, 8, 1).to("meta")  # a CPU state would not mix with these weights
        devices = []
        with monkeypatch.context() as patch:  # the arrays it would copy back: their devices instead
            patch.setattr(recurrent, "_numpy", lambda t: devices.append(t.device.type) or np.zeros(1))
            recurrent.unroll(model, [1, 0, 1])
        assert devices and set(devices) == {"meta"}, cell
    on_cpu = recurrent.unroll(RecurrentCounter("lstm", 8, 1), [1, 0, 1])  # and the arrays come back
    assert on_cpu.hidden.shape == (3, 8) and on_cpu.cell.shape == (3, 8) and on_cpu.outputs.shape == (3,)


def test_out_of_memory_while_another_run_holds_the_gpu_says_so(store):
    job = TrainingJob(validate("cnn", "digits", {"batch_size": 256}), store, device="cpu")
    job.device = torch.device("cuda")  # as if it trained there (only the message is under test)
    oom = torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    alone = job._failure(oom)[1]
    assert "try a smaller batch size (e.g. 128)" in alone
    store.create_run("cnn", "mnist", {"device": "cuda:1"})  # another GPU: not this one's memory
    finished = store.create_run("vae", "mnist", {"device": "cuda"})
    store.set_status(finished, "completed")
    assert job._failure(oom)[1] == alone
    other = store.create_run("resnet", "mnist", {"device": "cuda:0"})
    status, message = job._failure(oom)
    assert status == "failed" and "smaller batch size (e.g." not in message
    assert message.startswith(f"ran out of GPU memory on cuda while other runs train there too "
                              f"(run {other} (resnet on mnist))")
    assert "Wait for them to finish or stop them" in message


def test_deterministic_is_a_training_setting_that_sets_the_flags(store, restore_determinism, monkeypatch):
    assert validate("mlp", "spiral").training["deterministic"] is False  # off by default: it costs speed
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    job = TrainingJob(validate("mlp", "spiral", {"epochs": 1, "deterministic": True}), store, device="cpu")
    assert job.run() == "completed"
    assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
    assert not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == device_policy.CUBLAS_WORKSPACE
    set_deterministic(False)
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic


def test_resnet_pools_with_a_mean_that_a_deterministic_gpu_can_differentiate():
    model = get_spec("resnet").build({"width": 4, "stages": 2, "blocks_per_stage": 1}, Shape((1, 8, 8), 10, "image"))
    x = torch.rand(2, 4, 5, 5)
    pooled = model.head[2](x)
    torch.testing.assert_close(pooled, torch.nn.AdaptiveAvgPool2d(1)(x))


# ---- on a GPU (skipped without one) --------------------------------------------------------------
@CUDA
def test_inspection_runs_where_the_model_is_on_cuda(store, monkeypatch):
    monkeypatch.delenv("DEEP_PLAYGROUND_DEVICE", raising=False)
    from engine.latent import space as latent
    from engine.saliency.maps import attribute
    cnn = loading.load_run(None, loading.DEFAULT)
    assert cnn.device.type == "cuda"
    assert attribute(cnn.model, cnn.data.x_val[:2], 3, "gradcam").shape == (2, 28, 28)
    vae = loading.load_run(store, stored_run(store, "vae", "digits"), need="generator")
    assert vae.device.type == "cuda" and latent.latent_grid(vae.model, 3).shape == (9, 1, 8, 8)
    counter = loading.load_run(store, stored_run(store, "recurrent", "count_ones"), need="hidden_states")
    assert counter.device.type == "cuda" and recurrent.unroll(counter.model, [1, 0, 1]).hidden.shape[0] == 3


@CUDA
@pytest.mark.parametrize("model, values", [("cnn", {"channels": 8, "dense": 32}),
                                           ("resnet", {"width": 8, "stages": 2})])
def test_deterministic_gpu_runs_repeat_exactly(store, restore_determinism, model, values):
    """Same seed, same run, on a GPU: two deterministic runs end with identical weights."""
    finals = []
    for _ in range(2):
        job = TrainingJob(validate(model, "digits", {"epochs": 2, "batch_size": 32, "deterministic": True, **values}),
                          store, device="cuda")
        assert job.run() == "completed", job.progress.message
        finals.append(store.load_checkpoint(job.run_id))
    assert all(torch.equal(finals[0][k], finals[1][k]) for k in finals[0])
