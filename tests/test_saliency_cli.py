"""`python -m engine saliency`, run as a person runs it, and the classifier loader's messages."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.core.loading import load_run
from engine.saliency.classifiers import NEED, cnn_runs
from engine.core.paths import runs_dir
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, data):
    env = {**os.environ, "DEEP_PLAYGROUND_DATA": str(data)}
    return subprocess.run([sys.executable, "-m", "engine", "saliency", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A CNN run (two checkpoints) and an MLP run on the 8x8 digits, in their own data dir."""
    data = tmp_path_factory.mktemp("saliency-cli")
    with pytest.MonkeyPatch.context() as env:  # module-scoped: monkeypatch itself is per test
        env.setenv("DEEP_PLAYGROUND_DATA", str(data))
        store = RunStore(runs_dir())
        cnn = TrainingJob(validate("cnn", "digits", {"epochs": 2, "channels": 4, "dense": 16}), store, device="cpu")
        mlp = TrainingJob(validate("mlp", "digits", {"epochs": 1}), store, device="cpu")
        assert cnn.run() == "completed" and mlp.run() == "completed"
    return data, store, cnn.run_id, mlp.run_id


@pytest.mark.slow
def test_default_model_writes_the_paper_row_png_the_raw_map_and_json(shared_data_dir, tmp_path):
    out = tmp_path / "seven.png"
    result = cli("--run", "default", "--method", "gradcam", "--index", "0", "--out", str(out), data=shared_data_dir)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["true"] == 7 and info["predicted"] == 7 and info["probability"] > 0.99 and info["target"] == 7
    raw = np.load(tmp_path / "seven.npy")
    assert raw.shape == (28, 28) and raw.min() >= 0 and raw.max() > 0
    picture = Image.open(out)
    assert picture.size == (4 * 28 * 4 + 3 * 4, 28 * 4)  # four panels at 4x, three gaps


@pytest.mark.slow
def test_a_cnn_run_at_a_chosen_epoch_and_target(runs, tmp_path):
    data, store, cnn_id, _ = runs
    out = tmp_path / "run.png"
    result = cli("--run", str(cnn_id), "--epoch", "1", "--method", "guided-gradcam", "--index", "5", "--target", "3",
                 "--out", str(out), data=data)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["epoch"] == 1 and info["target"] == 3 and 0 <= info["target_probability"] <= 1
    assert np.load(tmp_path / "run.npy").shape == (8, 8)


@pytest.mark.parametrize("args, message", [
    (["--run", "default", "--index", "10000"], "--index must be between 0 and 9999"),
    (["--run", "default", "--index", "0", "--target", "10"], "--target must be a class between 0 and 9"),
    (["--run", "999", "--index", "0"], "there is no run 999"),
    (["--run", "latest", "--index", "0"], "'latest' is neither a run id nor 'default'"),
])
def test_bad_arguments_exit_2_with_a_message(runs, tmp_path, args, message, monkeypatch, capsys):
    from engine.__main__ import main  # in-process: the same code path, without a new interpreter each
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(runs[0]))
    assert main(["saliency", *args, "--method", "saliency", "--out", str(tmp_path / "x.png")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.slow
def test_runs_that_cannot_be_explained_say_why(runs, tmp_path):
    data, store, cnn_id, mlp_id = runs
    assert [r.id for r in cnn_runs(store)] == [cnn_id]  # the MLP is not offered
    with pytest.raises(ValueError, match=f"run {mlp_id} is a .*not a CNN"):
        load_run(store, mlp_id, need=NEED)
    with pytest.raises(ValueError, match="no checkpoint for epoch 7; saved epochs: \\[1, 2\\]"):
        load_run(store, cnn_id, epoch=7, need=NEED)
    # Damage epoch 2's file: a clear message naming the run and epoch, and the other epochs.
    path = store._checkpoint_path(cnn_id, 2)
    original = path.read_bytes()
    try:
        path.write_bytes(original[:100])
        result = cli("--run", str(cnn_id), "--method", "gradcam", "--index", "0", "--out", str(tmp_path / "y.png"), data=data)
        assert result.returncode == 2
        assert f"the checkpoint of run {cnn_id}, epoch 2 is damaged" in result.stderr and "other epochs: [1]" in result.stderr
        assert load_run(store, cnn_id, epoch=1, need=NEED).epoch == 1  # the others still open
    finally:
        path.write_bytes(original)
