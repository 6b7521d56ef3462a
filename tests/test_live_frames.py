"""The live frame: what a run draws while it trains (the 2D decision surface), kept in the store
for a page to poll (RunStore.save_frame / frame / frame_step; the Trainer's FRAME_SECONDS cadence)."""
import numpy as np
import torch
import pytest

from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def test_a_new_frame_replaces_the_old_one_whole(store):
    run = store.create_run("mlp", "spiral", {})
    assert store.frame(run) is None and store.frame_step(run) is None
    store.save_frame(run, 10, {"a": np.arange(4), "b": np.ones((2, 2), np.float16)})
    store.save_frame(run, 20, {"a": np.arange(3)})
    step, arrays = store.frame(run)
    assert step == 20 and store.frame_step(run) == 20
    assert list(arrays) == ["a"] and arrays["a"].tolist() == [0, 1, 2]  # "b" went with the old frame


def test_frames_never_shadow_the_epoch_artifacts(store):
    run = store.create_run("mlp", "spiral", {})
    store.save_artifacts(run, 1, {"boundary_p": np.zeros((2, 2))})
    store.save_frame(run, 5, {"boundary_p": np.ones((3, 3))})
    epoch, array = store.artifact(run, "boundary_p")
    assert epoch == 1 and array.shape == (2, 2)


def test_a_spiral_run_leaves_the_trained_models_surface_as_its_last_frame(store, monkeypatch):
    """MLP on spiral, 3 epochs of 250 points in batches of 25: the last frame is drawn at the last
    step (30) and matches the last epoch's stored surface to float16 precision."""
    drawn = []
    original = RunStore.save_frame
    monkeypatch.setattr(RunStore, "save_frame", lambda self, run_id, step, arrays: (
        drawn.append(step), original(self, run_id, step, arrays))[1])
    config = validate("mlp", "spiral", {"epochs": 3, "batch_size": 25})
    job = TrainingJob(config, store, device="cpu")
    assert job.run() == "completed"
    step, frame = store.frame(job.run_id)
    assert step == 30 and drawn[0] == 0 and drawn[-1] == 30  # fresh weights first, the trained ones last
    assert frame["boundary_p"].shape == (100, 100) and frame["boundary_p"].dtype == np.float16
    _, per_epoch = store.artifact(job.run_id, "boundary_p", 3)
    np.testing.assert_allclose(frame["boundary_p"], per_epoch, atol=1e-3)
    np.testing.assert_array_equal(frame["boundary_x"], store.artifact(job.run_id, "boundary_x", 3)[1])


def test_frames_come_every_few_steps_not_once_per_epoch(store, monkeypatch):
    """One epoch of 200 spiral points (100 to train) in batches of 4 (25 steps), with a frame due at
    every step (FRAME_SECONDS = 0, no share limit): a frame at every step, then the trained one."""
    monkeypatch.setattr("engine.core.trainer.FRAME_SECONDS", 0.0)
    monkeypatch.setattr("engine.core.trainer.FRAME_SHARE", float("inf"))
    drawn = []
    original = RunStore.save_frame
    monkeypatch.setattr(RunStore, "save_frame", lambda self, run_id, step, arrays: (
        drawn.append(step), original(self, run_id, step, arrays))[1])
    config = validate("mlp", "spiral", {"epochs": 1, "batch_size": 4}, {"n_samples": 200})
    assert TrainingJob(config, store, device="cpu").run() == "completed"
    assert drawn == list(range(26)) + [25]


def test_image_runs_draw_no_frame(data_env, store):
    """An MLP on the 8x8 digits: no plane to draw on, so no frame."""
    config = validate("mlp", "digits", {"epochs": 1})
    job = TrainingJob(config, store, device="cpu")
    assert job.run() == "completed"
    assert store.frame(job.run_id) is None


def test_a_stopped_run_leaves_the_picture_where_it_stopped(store):
    """MLP on spiral (250 training points, batches of 25: 10 steps an epoch), asked to stop after
    epoch 2 of 50: its last frame is drawn at the last step it trained (20 to 30: commands are read every
    fraction of a second, so epoch 3 may finish first)."""
    from engine.core.jobs import RunControl
    config = validate("mlp", "spiral", {"epochs": 50, "batch_size": 25})
    job = TrainingJob(config, store, device="cpu",
                      on_epoch=lambda p: p.epoch == 2 and RunControl(store, job.run_id).stop())
    assert job.run() == "stopped"
    last_step = int(store.metrics(job.run_id, ["loss"]).step.max())
    assert 20 <= last_step <= 30 and store.frame_step(job.run_id) == last_step


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("model, dataset, settings, names", [
    ("playground", "spiral", {"sin_x1": True, "sin_x2": True, "width": 16, "lr": 0.01, "batch_size": 10,
                              "epochs": 30}, {"boundary_p", "layer1", "weights3", "features", "output"}),
    ("gan2d", "ring", {"epochs": 2}, None),
], ids=["playground-spiral", "gan2d-ring"])
def test_runs_on_cuda_in_bf16_draw_their_frames_on_the_host(store, model, dataset, settings, names):
    """A whole run on the GPU (bf16 autocast): the frames come back as host arrays, and the
    suggested spiral settings still fit it there."""
    job = TrainingJob(validate(model, dataset, settings), store, device="cuda")
    assert job.run() == "completed", store.get_run(job.run_id).message
    step, frame = store.frame(job.run_id)
    assert step == job.progress.step and all(isinstance(a, np.ndarray) for a in frame.values())
    if names:
        assert names <= set(frame) and job.progress.final["val_acc"] >= 0.95
    assert store.get_run(job.run_id).params["device"].startswith("cuda")
