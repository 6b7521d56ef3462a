"""CLI verbs `attention` and `translate` (in-process: main() is what `python -m engine` runs)."""
import json

import numpy as np
import pytest

from engine.__main__ import main
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def module_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("attention-cli")


@pytest.fixture
def data(module_dir, monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(module_dir))
    return module_dir


@pytest.fixture(scope="module")
def trained(module_dir):
    """One small reverse run for every test here."""
    config = validate("transformer", "reverse", {"layers": 1, "d_model": 16, "heads": 2, "d_ff": 32, "epochs": 1},
                      {"n_samples": 200, "length": 5, "vocab": 4})
    job = TrainingJob(config, RunStore(module_dir / "runs"), device="cpu")
    assert job.run() == "completed"
    return job.run_id


@pytest.fixture
def run_id(trained, data):
    return trained


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_attention_of_a_run_to_npz(run_id, data, capsys):
    out = data / "maps.npz"
    assert main(["attention", "--model", str(run_id), "--text", "abcd", "--out", str(out)]) == 0
    summary = last_json(capsys)
    arrays = np.load(out)
    assert summary["input"] == list("abcd") and summary["arrays"] == len(arrays.files)
    assert arrays["encoder_self.layer0.head1"].shape == (4, 4)
    n_out = len(arrays["tokens_out"])
    assert arrays["cross.layer0.head0"].shape == (n_out, 4)
    np.testing.assert_allclose(arrays["cross.layer0.head0"].sum(1), 1.0, rtol=1e-5)


def test_attention_of_minilm_to_npz(data, capsys):
    out = data / "minilm.npz"
    assert main(["attention", "--model", "minilm", "--text", "Hello world", "--out", str(out)]) == 0
    arrays = np.load(out)
    assert len(arrays.files) == 6 * 12 + 1
    assert arrays["self.layer5.head11"].shape == (4, 4)
    assert list(arrays["tokens"]) == ["[CLS]", "hello", "world", "[SEP]"]


def test_translate(run_id, capsys):
    assert main(["translate", "--run", str(run_id), "--text", "abcd"]) == 0
    line = last_json(capsys)
    assert line["input"] == "abcd" and line["expected"] == "dcba" and isinstance(line["output"], str)


@pytest.mark.parametrize("args, message", [
    (["translate", "--run", "{run}", "--text", "abz"], "'z' are not in this task's vocabulary"),
    (["translate", "--run", "{run}", "--text", ""], "the input is empty"),
    (["translate", "--run", "999", "--text", "ab"], "no run with id 999"),
    (["attention", "--model", "bert", "--text", "ab", "--out", "x.npz"], "--model must be minilm or a run id"),
    (["attention", "--model", "{run}", "--text", "ab", "--out", "x.csv"], "--out must be a .npz file"),
])
def test_bad_input_exits_2_with_a_message(run_id, capsys, args, message):
    assert main([a.replace("{run}", str(run_id)) for a in args]) == 2
    assert message in capsys.readouterr().err
