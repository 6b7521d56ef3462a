"""The TF Playground network (engine/models/playground.py): input features as switches, computed by
the model's first module from raw (x, y) points in TF Playground's units; registered like any model."""
import json
import math

import pytest
import torch

import engine.models  # noqa: F401  (the built-in models)
from engine.__main__ import main
from engine.core.registry import ParamError, get_spec, validate
from engine.core.trainer import build_model
from engine.data import load_dataset
from engine.models.playground import FEATURES, InputFeatures, PlaygroundNet
from engine.objectives import CLASSIFICATION, objective_for

ALL_FEATURES = {name: True for name in FEATURES}


def test_every_feature_of_a_known_point():
    """Input: the point (0.2, -0.1), i.e. (1, -0.5) in TF Playground's units (x 5)."""
    features = InputFeatures(tuple(FEATURES))
    values = features(torch.tensor([[0.2, -0.1]]))[0].tolist()
    expected = [1.0, -0.5, 1.0, 0.25, -0.5, math.sin(1.0), math.sin(-0.5)]
    assert values == pytest.approx(expected, abs=1e-6)
    assert features.labels == ("x1", "x2", "x1²", "x2²", "x1·x2", "sin(x1)", "sin(x2)")


def test_features_come_in_tf_playground_order_whatever_the_order_asked():
    """Input: sin(x2), x1 switched on (in that order): the columns are x1, then sin(x2)."""
    features = InputFeatures(("sin_x2", "x1"))
    assert features.names == ("x1", "sin_x2") and features.labels == ("x1", "sin(x2)")
    assert features(torch.tensor([[0.2, -0.1]]))[0].tolist() == pytest.approx([1.0, math.sin(-0.5)], abs=1e-6)


def test_the_spec_defaults_are_tf_playground_s():
    """x1 and x2 on, the others off; tanh; activations tanh, relu, sigmoid, linear."""
    spec = get_spec("playground")
    assert [p.name for p in spec.params if p.kind == "bool" and p.default] == ["x1", "x2"]
    assert spec.param("activation").default == "tanh"
    assert spec.param("activation").choices == ("tanh", "relu", "sigmoid", "linear")
    assert spec.param("x1_squared").title == "x1²" and spec.param("sin_x1").title == "sin(x1)"
    assert spec.data_kinds == ("points",)


def test_the_model_takes_raw_points_and_its_first_layer_sees_the_features():
    """Input: spiral, sin_x1 on (x1, x2, sin(x1)), width 5, depth 3: the first Linear takes 3 inputs."""
    config = validate("playground", "spiral", {"sin_x1": True, "width": 5, "depth": 3})
    model = build_model(config, load_dataset("spiral"))
    assert isinstance(model, PlaygroundNet)
    linears = [m for m in model.net if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(3, 5), (5, 5), (5, 5), (5, 2)]
    points = torch.tensor([[0.2, -0.1], [0.0, 0.0]])
    assert model(points).shape == (2, 2)
    assert torch.equal(model(points), model.net(model.features(points)))
    assert objective_for(get_spec("playground")) is CLASSIFICATION


def test_linear_activation_keeps_the_network_linear():
    """Input: x1, x2 only, 2 hidden layers, activation linear: f(a + b) = f(a) + f(b) - f(0)."""
    torch.manual_seed(0)
    model = PlaygroundNet(("x1", "x2"), 2, 4, 2, "linear")
    a, b, zero = torch.tensor([[0.3, -0.2]]), torch.tensor([[-0.1, 0.5]]), torch.zeros(1, 2)
    torch.testing.assert_close(model(a + b), model(a) + model(b) - model(zero))


def test_no_feature_switched_on_is_refused_in_words():
    with pytest.raises(ParamError, match="switch on at least one input feature"):
        validate("playground", "circle", {"x1": False, "x2": False})


def test_images_are_not_its_data():
    with pytest.raises(ParamError, match="trains on points data"):
        validate("playground", "digits", {})


def test_a_checkpoint_rebuilds_the_same_features(tmp_path):
    """Input: all seven features; the state dict holds only the Linear layers (features have no
    weights), and a model rebuilt from the same params computes the same outputs from it."""
    config = validate("playground", "xor", ALL_FEATURES)
    data = load_dataset("xor")
    model = build_model(config, data)
    assert all(key.startswith("net.") for key in model.state_dict())
    again = build_model(config, data)
    again.load_state_dict(model.state_dict())
    torch.testing.assert_close(again(data.x_val[:5]), model(data.x_val[:5]))


def test_the_cli_trains_it_with_bool_switches(tmp_path, capsys):
    """python -m engine train --model playground --dataset spiral --set sin_x1=true --set x2=off ..."""
    status = main(["--data-dir", str(tmp_path), "train", "--model", "playground", "--dataset", "spiral",
                   "--set", "sin_x1=true", "--set", "x2=off", "--epochs", "1", "--batch-size", "25", "--quiet"])
    assert status == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "completed" and result["model"] == "playground"
    assert result["final"]["steps"] == 10 and 0.0 <= result["final"]["val_acc"] <= 1.0


def test_the_cli_refuses_a_bool_it_cannot_read(tmp_path, capsys):
    status = main(["--data-dir", str(tmp_path), "train", "--model", "playground", "--dataset", "spiral",
                   "--set", "sin_x1=maybe", "--quiet"])
    assert status == 2
    assert "sin_x1 must be true or false" in capsys.readouterr().err
