"""Each neuron's picture in the live frame (engine/training/neurons.py): the arrays of the frame
contract, their shapes and dtypes, "showing 8 of 32", and values checked against the model itself."""
import numpy as np
import pytest
import torch
from torch import nn

import engine.models  # noqa: F401  (the built-in models)
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob, build_model
from engine.data import load_dataset
from engine.models.mlp import MLP
from engine.models.playground import FEATURES, PlaygroundNet
from engine.objectives import CLASSIFICATION
from engine.training.neurons import NEURON_GRID, NEURONS_SHOWN, neuron_frame, shows_neurons

ALL_FEATURES = {name: True for name in FEATURES}


@pytest.fixture(scope="module")
def spiral():
    return load_dataset("spiral")


def _model(name, values, data):
    torch.manual_seed(0)
    return build_model(validate(name, data.name, values), data)


def test_eight_layers_of_32_ship_the_first_8_units_of_each(spiral):
    """Input: the TF Playground network with all 7 features, depth 8, width 32, on the spiral:
    every array of the contract, 8 of 32 units per layer, layer_sizes saying 32."""
    model = _model("playground", {**ALL_FEATURES, "width": 32, "depth": 8}, spiral)
    frame = CLASSIFICATION.live_frame(model, spiral)
    g = NEURON_GRID
    assert g == 25 and NEURONS_SHOWN == 8
    expected = {"boundary_x", "boundary_y", "boundary_p", "neuron_x", "neuron_y", "features", "feature_names",
                "layer_sizes", "output"} | {f"layer{i}" for i in range(1, 9)} | {f"weights{i}" for i in range(1, 10)}
    assert set(frame) == expected
    assert frame["neuron_x"].shape == frame["neuron_y"].shape == (g,)
    assert frame["features"].shape == (7, g, g) and frame["features"].dtype == np.float16
    assert frame["feature_names"].tolist() == ["x1", "x2", "x1²", "x2²", "x1·x2", "sin(x1)", "sin(x2)"]
    assert frame["feature_names"].dtype.kind == "U"
    assert frame["layer_sizes"].tolist() == [32] * 8 and frame["layer_sizes"].dtype == np.int64
    for i in range(1, 9):
        assert frame[f"layer{i}"].shape == (8, g, g) and frame[f"layer{i}"].dtype == np.float16
    assert frame["weights1"].shape == (8, 7)
    assert all(frame[f"weights{i}"].shape == (8, 8) for i in range(2, 9))
    assert frame["weights9"].shape == (1, 8)
    assert all(frame[f"weights{i}"].dtype == np.float16 for i in range(1, 10))
    assert frame["output"].shape == (g, g) and frame["output"].dtype == np.float16
    assert frame["boundary_p"].shape == (100, 100)  # the boundary itself stays TF Playground's size


def test_the_maps_are_the_network_s_own_activations_at_the_grid_points(spiral):
    """Input: x1, x2, sin(x1); width 3, depth 2, tanh. Each map value is tanh(W f + b) of the layer
    at that grid point (row = y, column = x), to float16 precision; the output weights are the
    class-1 row minus the class-0 row; the features map x1 (Playground units) across each row."""
    model = _model("playground", {"sin_x1": True, "width": 3, "depth": 2}, spiral)
    frame = neuron_frame(model, spiral.x_train)
    xs, ys = frame["neuron_x"], frame["neuron_y"]
    i, j = 7, 19  # the grid point (xs[j], ys[i])
    point = torch.tensor([[xs[j], ys[i]]])
    lin1, lin2, out = [m for m in model.net if isinstance(m, nn.Linear)]
    with torch.no_grad():
        f = model.features(point)
        h1 = torch.tanh(lin1(f))
        h2 = torch.tanh(lin2(h1))
        p1 = torch.softmax(out(h2), 1)[0, 1]
    assert frame["features"][:, i, j].astype(float) == pytest.approx(f[0].tolist(), abs=2e-3)
    assert frame["layer1"][:, i, j].astype(float) == pytest.approx(h1[0].tolist(), abs=1e-3)
    assert frame["layer2"][:, i, j].astype(float) == pytest.approx(h2[0].tolist(), abs=1e-3)
    assert float(frame["output"][i, j]) == pytest.approx(p1.item(), abs=1e-3)
    np.testing.assert_allclose(frame["features"][0], np.tile(xs * 5, (25, 1)), atol=5e-3)
    np.testing.assert_allclose(frame["weights1"], lin1.weight.detach().numpy(), atol=1e-3)
    np.testing.assert_allclose(frame["weights3"][0], (out.weight[1] - out.weight[0]).detach().numpy(), atol=1e-3)
    assert frame["layer_sizes"].tolist() == [3, 3]


def test_the_small_maps_lie_on_the_boundary_s_plane(spiral):
    """The 25 x 25 grid spans the same plane as the 100 x 100 boundary: the same corners, and the
    output there is the boundary's probability."""
    model = _model("playground", {}, spiral)
    frame = CLASSIFICATION.live_frame(model, spiral)
    for small, big in (("neuron_x", "boundary_x"), ("neuron_y", "boundary_y")):
        assert frame[small][0] == frame[big][0] and frame[small][-1] == pytest.approx(frame[big][-1])
    for corner in ((0, 0), (-1, -1), (0, -1)):
        assert float(frame["output"][corner]) == pytest.approx(float(frame["boundary_p"][corner]), abs=2e-3)


def test_a_plain_mlp_on_points_shows_x1_and_x2(spiral):
    """Input: the mlp's defaults (2 x 64, relu) on the spiral: its features are the point itself."""
    model = _model("mlp", {}, spiral)
    frame = CLASSIFICATION.live_frame(model, spiral)
    assert frame["feature_names"].tolist() == ["x1", "x2"]
    np.testing.assert_allclose(frame["features"][0], np.tile(frame["neuron_x"], (25, 1)), atol=1e-3)
    np.testing.assert_allclose(frame["features"][1], np.tile(frame["neuron_y"][:, None], (1, 25)), atol=1e-3)
    assert frame["layer_sizes"].tolist() == [64, 64]
    assert frame["layer1"].shape == (8, 25, 25) and frame["weights1"].shape == (8, 2)
    assert frame["weights2"].shape == (8, 8) and frame["weights3"].shape == (1, 8)
    assert (frame["layer1"] >= 0).all()  # after the ReLU


def test_no_hidden_layer_links_the_features_straight_to_the_output(spiral):
    """Input: depth 0 (a linear model of x1, x2, x1²): no layer maps, one weight row of 3."""
    model = _model("playground", {"x1_squared": True, "depth": 0}, spiral)
    frame = neuron_frame(model, spiral.x_train)
    assert frame["layer_sizes"].shape == (0,) and frame["layer_sizes"].dtype == np.int64
    assert not any(name.startswith("layer") and name != "layer_sizes" for name in frame)
    assert frame["weights1"].shape == (1, 3)


def test_batchnorm_and_dropout_layers_still_show_one_map_per_unit(spiral):
    """Input: mlp 2 x 4 with batch norm and dropout 0.5: one map per unit per layer (the output of
    the activation; dropout is off in eval mode)."""
    model = _model("mlp", {"width": 4, "batchnorm": True, "dropout": 0.5}, spiral)
    frame = neuron_frame(model, spiral.x_train)
    assert frame["layer1"].shape == (4, 25, 25) and frame["layer2"].shape == (4, 25, 25)
    assert frame["weights2"].shape == (4, 4) and frame["weights3"].shape == (1, 4)


def test_models_that_cannot_show_their_neurons_ship_none(spiral, data_env):
    """An MLP on 8x8 images (64 inputs), a network with 3 outputs, and a CNN: no neuron arrays."""
    image_mlp = MLP(64, 10, 8, 1)
    assert not shows_neurons(image_mlp) and neuron_frame(image_mlp, spiral.x_train) is None
    three_classes = PlaygroundNet(("x1", "x2"), 3, 4, 1)
    assert shows_neurons(three_classes) and neuron_frame(three_classes, spiral.x_train) is None
    cnn = build_model(validate("cnn", "digits", {}), load_dataset("digits"))
    assert not shows_neurons(cnn)


def test_a_playground_run_stores_a_frame_with_its_neurons(tmp_path):
    """Input: the TF Playground network (x1, x2, sin(x1), width 12) on xor, 2 epochs: the store
    gives back the neuron arrays (feature names, unicode, included) with the boundary."""
    store = RunStore(tmp_path / "runs")
    config = validate("playground", "xor", {"sin_x1": True, "width": 12, "epochs": 2, "batch_size": 25})
    job = TrainingJob(config, store, device="cpu")
    assert job.run() == "completed"
    step, frame = store.frame(job.run_id)
    assert step == 20
    assert frame["feature_names"].tolist() == ["x1", "x2", "sin(x1)"]
    assert frame["layer_sizes"].tolist() == [12, 12]
    assert frame["layer1"].shape == (8, 25, 25) and frame["weights1"].shape == (8, 3)
    assert frame["weights3"].shape == (1, 8) and frame["boundary_p"].shape == (100, 100)
