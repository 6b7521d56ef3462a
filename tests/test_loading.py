"""One way to open a run (engine.core.loading.load_run): one message per problem, old runs after a
slider range narrows, the shared copy, and --data-dir honoured by every CLI verb that opens a run."""
import dataclasses
import json

import numpy as np
import pytest
import torch
from torch import nn

from engine.__main__ import main
from engine.core import registry
from engine.core.loading import DEFAULT, RunLoadError, load_run, run_problem
from engine.core.params import ParamError
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.data import playground
from tests.stored import stored_run


@pytest.fixture
def store(tmp_path, data_env):
    return RunStore(tmp_path / "runs")


def test_each_problem_has_one_message(store):
    mlp = stored_run(store, "mlp", "spiral", epochs=2)
    vectors = store.create_run("word2vec", "lee", {})
    training = store.create_run("vae", "digits", validate("vae", "digits").as_dict())
    cases = [
        ((999,), {}, "there is no run 999; `python -m engine runs list` lists the runs"),
        (("latest",), {}, "'latest' is neither a run id nor 'default'"),
        ((mlp,), {"need": "generator"},
         f"run {mlp} is a MLP (fully connected), not a generative model: the latent space needs a decoder "
         "(models that have it: vae, conv_vae, dcgan, wgan)"),
        ((mlp,), {"need": "conv_classifier"},
         f"run {mlp} is a MLP (fully connected), not a CNN: saliency maps need convolution layers "
         "(models that have it: cnn, resnet, transfer, vgg)"),
        ((vectors,), {}, f"run {vectors} is a 'word2vec' run, which no registered model builds: "
                         "open it on the page that made it"),
        ((training,), {}, f"run {training} has no checkpoint yet (status running): its first epoch has not "
                          "finished, or its files were removed"),
        ((mlp, 7), {}, f"run {mlp} has no checkpoint for epoch 7; saved epochs: [1, 2]"),
        ((DEFAULT,), {"need": "generator"}, "the default model is a CNN (conv blocks + dense head), not a "
                                            "generative model"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(RunLoadError) as caught:
            load_run(store, *args, **kwargs)
        assert str(caught.value).startswith(message), (args, kwargs, str(caught.value))
    assert run_problem(store, training) == cases[5][2]
    assert run_problem(store, mlp) is None

    # A damaged file names the run, the epoch and the other epochs; the others still open.
    path = store._checkpoint_path(mlp, 2)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(RunLoadError, match=rf"^the checkpoint of run {mlp}, epoch 2 is damaged and cannot be "
                                           r"loaded \(.*\); other epochs: \[1\]$"):
        load_run(store, mlp)
    assert load_run(store, mlp, epoch=1).epoch == 1


def test_a_loaded_run_has_its_model_data_config_and_epoch(store):
    config = validate("mlp", "spiral", {"depth": 3, "epochs": 2}, {"noise": 0.2})
    run_id = stored_run(store, "mlp", "spiral", {"depth": 3, "epochs": 2}, {"noise": 0.2}, epochs=2)
    loaded = load_run(store, run_id, device="cpu")
    assert loaded.config == config and loaded.epoch == 2 and loaded.run.id == run_id
    assert loaded.title == f"Run {run_id}: mlp on spiral" and loaded.classes == tuple(loaded.data.info.classes)
    assert not loaded.model.training and loaded.device == torch.device("cpu")
    assert loaded.data.options["noise"] == 0.2
    assert sum(isinstance(m, nn.Linear) for m in loaded.model.modules()) == 4  # 3 hidden layers + output


def test_the_shared_copy_is_one_frozen_model_and_a_private_copy_is_new(store):
    run_id = stored_run(store, "mlp", "spiral")
    shared = load_run(store, run_id, shared=True)
    assert load_run(store, run_id, shared=True) is shared
    assert not any(p.requires_grad for p in shared.model.parameters())
    private = load_run(store, run_id)
    assert private.model is not shared.model and all(p.requires_grad for p in private.model.parameters())
    assert load_run(None, DEFAULT, shared=True) is load_run(None, DEFAULT, shared=True)


def test_an_old_run_still_opens_after_its_ranges_narrow(store, monkeypatch):
    run_id = stored_run(store, "mlp", "spiral", {"depth": 3, "lr": 0.05}, {"noise": 0.3})
    spec = registry.get_spec("mlp")
    narrower = tuple(dataclasses.replace(p, high=1) if p.name == "depth" else p for p in spec.params)
    monkeypatch.setitem(registry._REGISTRY, "mlp", dataclasses.replace(spec, params=narrower))
    monkeypatch.setattr(registry, "TRAINING_PARAMS", tuple(
        dataclasses.replace(p, high=0.01) if p.name == "lr" else p for p in registry.TRAINING_PARAMS))
    options = playground._options
    monkeypatch.setattr(playground, "_options", lambda noise: tuple(
        dataclasses.replace(p, high=0.1) if p.name == "noise" else p for p in options(noise)))
    for values, data_options in (({"depth": 3}, None), ({"lr": 0.05}, None), (None, {"noise": 0.3})):
        with pytest.raises(ParamError, match="must be between"):  # today's sliders refuse each value
            validate("mlp", "spiral", values, data_options)

    loaded = load_run(store, run_id)
    assert loaded.config.model_params["depth"] == 3 and loaded.config.training["lr"] == 0.05
    assert loaded.data.options["noise"] == 0.3
    assert sum(isinstance(m, nn.Linear) for m in loaded.model.modules()) == 4


def test_settings_added_since_a_run_was_made_take_their_defaults(store):
    run_id = stored_run(store, "mlp", "spiral")
    params = dict(store.get_run(run_id).params)
    for name in ("deterministic", "dropout"):
        del params[name]
    params["a_setting_removed_since"] = 1
    assert registry.run_config(params) == validate("mlp", "spiral")


def test_every_cli_verb_that_opens_a_run_reads_data_dir(tmp_path, shared_data_dir, monkeypatch, capsys):
    """--data-dir names where the runs and the datasets are: nothing is read from or written to
    $DEEP_PLAYGROUND_DATA (before, latent-grid, sample and attention loaded MNIST from there)."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(elsewhere))
    data = str(shared_data_dir)
    store = RunStore(shared_data_dir / "runs")
    vae = stored_run(store, "vae", "mnist", data_dir=data)
    cnn = stored_run(store, "cnn", "mnist", {"channels": 4, "dense": 16}, data_dir=data)
    transformer = stored_run(store, "transformer", "reverse", {"layers": 1, "d_model": 16, "heads": 2})
    out = tmp_path / "out"
    out.mkdir()
    for verb in (["latent-grid", "--run", str(vae), "--n", "3", "--out", str(out / "grid.png")],
                 ["sample", "--run", str(vae), "--n", "4", "--out", str(out / "samples.png")],
                 ["saliency", "--run", str(cnn), "--method", "gradcam", "--index", "0", "--out", str(out / "map.png")],
                 ["attention", "--model", str(transformer), "--text", "abcd", "--out", str(out / "maps.npz")],
                 ["translate", "--run", str(transformer), "--text", "abcd"]):
        assert main(["--data-dir", data, *verb]) == 0, (verb, capsys.readouterr().err)
        assert json.loads(capsys.readouterr().out.splitlines()[-1])
    assert list(elsewhere.iterdir()) == []
    assert np.load(out / "maps.npz")["tokens_in"].tolist() == list("abcd")


def test_a_checkpoint_with_overwritten_weights_is_refused_with_the_damaged_message(store):
    """Input: epoch 2's weight bytes overwritten in place (same size, valid header: it would load and
    predict nonsense); the shared copy is refused the same way."""
    mlp = stored_run(store, "mlp", "spiral", epochs=2)
    path = store._checkpoint_path(mlp, 2)
    data = bytearray(path.read_bytes())
    data[-16:] = bytes(16)
    path.write_bytes(bytes(data))
    message = (f"the checkpoint of run {mlp}, epoch 2 is damaged and cannot be loaded (DamagedCheckpoint: its bytes "
               "have changed since it was saved: its SHA-256 differs from the one recorded then); other epochs: [1]")
    for shared in (False, True):
        with pytest.raises(RunLoadError) as caught:
            load_run(store, mlp, shared=shared)
        assert str(caught.value) == message
    assert load_run(store, mlp, epoch=1).epoch == 1


def test_only_the_epochs_a_run_kept_are_offered(store):
    """Input: a run whose retention policy deleted epochs 2 and 3 of 4."""
    run_id = stored_run(store, "mlp", "spiral", epochs=4)
    store.delete_checkpoints(run_id, [2, 3])
    assert store.checkpoint_epochs(run_id) == [1, 4]
    assert load_run(store, run_id).epoch == 4
    with pytest.raises(RunLoadError, match=rf"^run {run_id} has no checkpoint for epoch 2; saved epochs: \[1, 4\]$"):
        load_run(store, run_id, epoch=2)
