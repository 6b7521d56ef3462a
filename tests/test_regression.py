"""Regression on 2D points, as TF Playground has it: its Plane and Multi gaussian sets
(engine/data/playground.py), DatasetInfo.task, and the regression objective that a classifier's
network learns them with (engine/objectives/regression.py, chosen by objective_for(spec, task))."""
from dataclasses import replace

import numpy as np
import pytest
import torch

import engine.models  # noqa: F401  (the built-in models)
from engine.core import registry
from engine.core.registry import ParamError, get_spec, validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob, build_model
from engine.data import get_info, load_dataset
from engine.data.playground import gaussian_value, make_points
from engine.objectives import CLASSIFICATION, REGRESSION, objective_for


def test_the_regression_sets_are_described_as_regression():
    for name in ("plane", "multi_gaussian"):
        info = get_info(name)
        assert info.task == "regression" and info.kind == "points" and info.classes == ("value",)
        assert info.input_shape == (2,) and "regression" in info.title
    assert get_info("spiral").task == "classification" and get_info("mnist").task == "classification"


def test_plane_of_seed_0():
    """Input: plane, 500 points, noise 0, seed 0: 250 / 250 split, float32 values (x + y) / 10 in
    Playground units (the points x 5), all within the radius-6 square (1.2 here)."""
    data = load_dataset("plane", {"seed": 0})
    assert data.x_train.shape == (250, 2) and data.y_train.shape == (250,) and data.x_val.shape == (250, 2)
    assert data.x_train.dtype == torch.float32 and data.y_train.dtype == torch.float32
    x, y = make_points("plane", {"seed": 0, "n_samples": 500, "noise": 0.0})
    np.testing.assert_allclose(y, (5 * x).sum(1) / 10, atol=1e-6)
    assert np.abs(x).max() <= 1.2 and np.abs(y).max() <= 1.2
    assert x[0].tolist() == pytest.approx([0.468725, 0.494965], abs=1e-6)
    assert y[:3].tolist() == pytest.approx([0.481845, -0.382875, 0.544533], abs=1e-6)


def test_multi_gaussian_values_at_known_points():
    """Cones of radius 2 at (-4, 2.5) up, (0, 2.5) down, (4, -2.5) down ...; 0 between them."""
    px = np.array([-4.0, 0.0, 0.0, 1.0, 4.0, -4.0])
    py = np.array([2.5, 2.5, 0.0, 2.5, -2.5, 1.5])
    assert gaussian_value(px, py).tolist() == pytest.approx([1.0, -1.0, 0.0, -0.5, -1.0, 0.5])


def test_multi_gaussian_of_seed_0():
    x, y = make_points("multi_gaussian", {"seed": 0, "n_samples": 500, "noise": 0.0})
    assert x.shape == (500, 2) and y.shape == (500,) and y.dtype == np.float32
    np.testing.assert_allclose(y, gaussian_value(5 * x[:, 0].astype(float), 5 * x[:, 1].astype(float)), atol=1e-6)
    assert y[:3].tolist() == pytest.approx([0.171717, 0.436727, 0.0], abs=1e-6)
    assert -1.0 <= y.min() < -0.5 and 0.5 < y.max() <= 1.0


def test_noise_moves_the_value_not_the_point():
    """As in TF Playground: the value is read at a noisy point; the point itself stays."""
    clean = make_points("plane", {"seed": 3, "n_samples": 200, "noise": 0.0})
    noisy = make_points("plane", {"seed": 3, "n_samples": 200, "noise": 0.5})
    np.testing.assert_array_equal(clean[0], noisy[0])
    assert not np.allclose(clean[1], noisy[1])


def test_a_classifier_network_learns_a_regression_set_with_the_regression_objective():
    for name in ("mlp", "playground"):
        assert objective_for(get_spec(name), "regression") is REGRESSION
        assert objective_for(get_spec(name), "classification") is CLASSIFICATION
        assert objective_for(get_spec(name)) is CLASSIFICATION
    with pytest.raises(ValueError, match="cannot learn a regression"):
        objective_for(get_spec("dcgan"), "regression")


def test_a_model_that_cannot_regress_is_refused_in_words():
    """Input: an MLP registered with the VAE's objective (a points model that does not classify), on
    the plane; and a CNN (image data) on the plane."""
    spec = replace(get_spec("mlp"), name="mlp_vae_test", objective="vae")
    registry.register(spec)
    try:
        with pytest.raises(ParamError, match="cannot learn a regression set like Plane"):
            validate("mlp_vae_test", "plane", {})
        validate("mlp_vae_test", "spiral", {})  # classification data: its own objective, no complaint here
    finally:
        registry.unregister("mlp_vae_test")
    with pytest.raises(ParamError, match="trains on image data"):
        validate("cnn", "plane", {})


def test_the_network_has_one_output_on_a_regression_set():
    config = validate("playground", "multi_gaussian", {})
    model = build_model(config, load_dataset("multi_gaussian"))
    assert model(torch.zeros(4, 2)).shape == (4, 1)


def test_a_regression_run_scores_mse_and_stores_the_value_surface(tmp_path):
    """Input: the TF Playground network (defaults) on the plane, 3 epochs of batch 25. Metrics: MSE
    as loss and val_loss, no accuracy; each epoch stores the output surface (boundary_p holds the
    value: the checkpoint's own output on the grid); the live frame ships it as float16 with the
    neuron maps, whose "output" is the value too."""
    store = RunStore(tmp_path)
    config = validate("playground", "plane", {"epochs": 3, "batch_size": 25, "lr": 0.01})
    job = TrainingJob(config, store, device="cpu")
    assert job.run() == "completed"
    final = store.get_run(job.run_id).final
    assert {"train_loss", "val_loss"} <= set(final) and not any("acc" in k for k in final)
    data = load_dataset("plane")
    model = build_model(config, data)
    model.load_state_dict(store.load_checkpoint(job.run_id))
    with torch.no_grad():
        mse = torch.nn.functional.mse_loss(model(data.x_val)[:, 0], data.y_val).item()
    assert final["val_loss"] == pytest.approx(mse, rel=1e-4)
    _, xs = store.artifact(job.run_id, "boundary_x", 3)
    _, ys = store.artifact(job.run_id, "boundary_y", 3)
    _, surface = store.artifact(job.run_id, "boundary_p", 3)
    assert surface.shape == (100, 100)
    with torch.no_grad():
        corner = model(torch.tensor([[xs[-1], ys[0]]]))[0, 0].item()
    assert surface[0, -1] == pytest.approx(corner, abs=1e-5)
    assert surface.min() < -0.5 and surface.max() > 0.5  # a value, not a probability: it goes below 0
    step, frame = store.frame(job.run_id)
    assert step == 30 and frame["boundary_p"].dtype == np.float16
    np.testing.assert_allclose(frame["boundary_p"], surface, atol=2e-3)
    assert frame["output"].shape == (25, 25) and frame["output"].min() < 0
    assert frame["weights3"].shape == (1, 8) and frame["layer_sizes"].tolist() == [8, 8]
    assert np.allclose(frame["weights3"][0], model.net[-1].weight[0, :8].detach().numpy(), atol=1e-3)


def test_a_plain_mlp_regresses_too(tmp_path):
    """Input: the mlp's defaults on multi_gaussian, 1 epoch: completes with an MSE, and its frame
    carries the neuron maps of x1, x2."""
    store = RunStore(tmp_path)
    job = TrainingJob(validate("mlp", "multi_gaussian", {"epochs": 1}), store, device="cpu")
    assert job.run() == "completed"
    assert store.get_run(job.run_id).final["val_loss"] >= 0
    _, frame = store.frame(job.run_id)
    assert frame["feature_names"].tolist() == ["x1", "x2"] and frame["layer1"].shape == (8, 25, 25)
