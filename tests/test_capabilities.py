"""Capabilities on the ModelSpec: a model registered in one place appears on every page and CLI
verb that can use it, with no other edit; and the registry never imports the models itself."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest
from torch import nn

import engine.models  # noqa: F401  (the built-in models)
from engine.__main__ import main
from engine.core.loading import RunLoadError, load_run, run_problem, runs_with
from engine.core.paths import runs_dir
from engine.core.registry import (CAPABILITIES, Capabilities, ModelSpec, Param, Shape, get_spec, list_specs, register,
                                  specs_with, unregister)
from engine.core.runs import RunStore
from engine.saliency.classifiers import cnn_runs
from tests.stored import stored_run

ROOT = Path(__file__).resolve().parent.parent


# ---- two small models, registered inside the tests only ------------------------------------------
class TinyCNN(nn.Module):
    """One conv layer and a linear head: the smallest model Grad-CAM can explain."""

    def __init__(self, channels: int, shape: Shape):
        super().__init__()
        c, h, w = shape.input_shape
        self.features = nn.Sequential(nn.Conv2d(c, channels, 3, padding=1), nn.ReLU())
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(channels * h * w, shape.num_classes))

    def forward(self, x):
        return self.head(self.features(x))


class TinyGenerator(nn.Module):
    """decode(z) -> images in [0, 1] from a `latent`-sized code: what the Latent space page needs."""

    def __init__(self, latent: int, shape: Shape):
        super().__init__()
        self.latent, self.shape, self.conditional = latent, shape.input_shape, False
        self.net = nn.Linear(latent, int(torch.tensor(shape.input_shape).prod()))

    def decode(self, z, labels=None):
        return torch.sigmoid(self.net(z)).view(len(z), *self.shape)

    def forward(self, z):
        return self.decode(z)


TINY_CNN = ModelSpec(
    name="tiny_cnn", title="Tiny CNN (test)", description="one conv layer, registered by a test",
    capabilities=Capabilities(inputs=("image",), conv_classifier=True),
    params=(Param("channels", "int", 4, "conv channels", low=1, high=16),),
    build=lambda p, shape: TinyCNN(p["channels"], shape))
TINY_GENERATOR = ModelSpec(
    name="tiny_gen", title="Tiny generator (test)", description="a linear decoder, registered by a test",
    capabilities=Capabilities(inputs=("image",), generator=True),
    params=(Param("latent", "int", 3, "code size", low=2, high=8),),
    build=lambda p, shape: TinyGenerator(p["latent"], shape))


@pytest.fixture
def registered():
    """Register specs for one test; the registry is as it was after it."""
    names = []

    def add(spec: ModelSpec) -> ModelSpec:
        assert spec.name not in {s.name for s in list_specs()}
        names.append(spec.name)
        return register(spec)

    yield add
    for name in names:
        unregister(name)
    assert not {"tiny_cnn", "tiny_gen"} & {s.name for s in list_specs()}


@pytest.fixture
def data(tmp_path, shared_data_dir, monkeypatch):
    """A fresh data dir (its runs) for the pages and the CLI."""
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(tmp_path))
    monkeypatch.delenv("DEEP_PLAYGROUND_DEVICE", raising=False)
    return tmp_path


# ---- the registry --------------------------------------------------------------------------------
def test_the_registry_never_imports_the_models():
    code = ("import sys, engine.core.registry as r; assert 'engine.models' not in sys.modules; "
            "assert r.list_specs() == []; import engine.models; print(len(r.list_specs()))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) == len(list_specs())


def test_builtin_capabilities_name_no_model_anywhere_else():
    assert [s.name for s in specs_with("conv_classifier")] == ["cnn", "resnet", "transfer", "vgg"]
    assert [s.name for s in specs_with("generator")] == ["vae", "conv_vae", "dcgan", "wgan"]  # the page's order
    assert [s.name for s in specs_with("encoder")] == ["vae", "conv_vae"]
    assert [s.name for s in specs_with("attention_maps")] == ["transformer", "seq2seq"]
    assert [s.name for s in specs_with("hidden_states")] == ["recurrent"]
    assert get_spec("mlp").data_kinds == ("points", "image") == get_spec("mlp").capabilities.inputs
    assert set(CAPABILITIES) == {"conv_classifier", "attention_maps", "generator", "encoder", "hidden_states"}
    with pytest.raises(ValueError, match="unknown capability 'saliency'"):
        specs_with("saliency")


def test_every_capability_has_its_words_in_the_loader_messages():
    from engine.core.loading import NEEDS
    assert set(NEEDS) == set(CAPABILITIES)


# ---- a new conv classifier: Saliency page and CLI ------------------------------------------------
def test_a_new_conv_classifier_is_offered_by_the_saliency_page_and_cli(registered, data, tmp_path, capsys):
    registered(TINY_CNN)
    store = RunStore(runs_dir())
    run_id = stored_run(store, "tiny_cnn", "digits")
    mlp_id = stored_run(store, "mlp", "digits")
    assert [r.id for r in cnn_runs(store)] == [run_id]
    assert run_problem(store, mlp_id, need="conv_classifier").startswith(f"run {mlp_id} is a MLP")
    assert "models that have it: cnn, resnet, transfer, vgg, tiny_cnn" in run_problem(store, mlp_id, need="conv_classifier")

    at = AppTest.from_file(str(ROOT / "pages/saliency.py"), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="source").options == ["Default MNIST CNN (ships in assets/)",
                                                  "ImageNet (EfficientNet-Lite0, pretrained)",
                                                  f"Run {run_id}: tiny_cnn on digits · completed"]
    at.selectbox(key="source").set_value(str(run_id)).run()
    assert not at.exception and not at.error, [e.value for e in at.exception]
    assert any(f"Run {run_id}: tiny_cnn on digits, epoch 1" in c.value for c in at.caption)
    assert [m.value for m in at.markdown] == ["**Grad-CAM**", "**Guided backprop**", "**Guided Grad-CAM**"]

    out = tmp_path / "map.png"
    assert main(["saliency", "--run", str(run_id), "--method", "gradcam", "--index", "3", "--out", str(out)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["epoch"] == 1 and info["index"] == 3 and out.is_file()


# ---- a new generative model: Latent space page and CLI -------------------------------------------
def test_a_new_generative_model_is_offered_by_the_latent_page_and_cli(registered, data, tmp_path, capsys):
    registered(TINY_GENERATOR)
    store = RunStore(runs_dir())
    run_id = stored_run(store, "tiny_gen", "digits", {"latent": 4})
    assert [r.id for r in runs_with(store, "generator")] == [run_id]

    at = AppTest.from_file(str(ROOT / "pages/latent.py"), default_timeout=120)
    at.query_params["run"] = str(run_id)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    assert "tiny_gen" in at.selectbox(key="latent_model").options  # offered for training too
    assert any(f"Walk the latent space (run {run_id}, epoch 1)" in s.value for s in at.subheader)
    assert len([s for s in at.slider if s.key and s.key.startswith(f"z_{run_id}_")]) == 4  # one per dimension

    out = tmp_path / "grid.png"
    assert main(["sample", "--run", str(run_id), "--n", "4", "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["image_shape"] == [1, 8, 8]
    with pytest.raises(RunLoadError, match=f"run {run_id} is a Tiny generator.*not a CNN"):
        load_run(store, run_id, need="conv_classifier")


def test_a_model_module_dropped_into_engine_models_is_registered_with_no_other_edit(tmp_path):
    # "Adding a model is one file": a copy of the engine with one new module in engine/models/ offers
    # it to everything that asks for conv classifiers, and nothing else in the copy was edited.
    import shutil
    engine_copy = tmp_path / "engine"
    shutil.copytree(ROOT / "engine", engine_copy, ignore=shutil.ignore_patterns("__pycache__"))
    (engine_copy / "models" / "tiny_cnn.py").write_text(
        "from torch import nn\n"
        "from engine.core.registry import Capabilities, ModelSpec, Param, register\n\n"
        "register(ModelSpec(name='tiny_cnn', title='Tiny CNN', description='one conv layer',\n"
        "    capabilities=Capabilities(inputs=('image',), conv_classifier=True),\n"
        "    params=(Param('channels', 'int', 4, 'conv channels', low=1, high=16),),\n"
        "    build=lambda p, shape: nn.Sequential(nn.Conv2d(shape.input_shape[0], p['channels'], 3), nn.ReLU(),\n"
        "                                         nn.Flatten(), nn.LazyLinear(shape.num_classes))))\n")
    probe = ("import engine.models; from engine.core.registry import specs_with; "
             "print(','.join(s.name for s in specs_with('conv_classifier')))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "cnn,resnet,tiny_cnn,transfer,vgg"
