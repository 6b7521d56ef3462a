"""L1 / L2 regularisation as TF Playground has it (engine/core/regularise.py): rate x sum |w| or
rate x sum w² / 2 over the weight matrices, never the biases; added to each phase's loss for that
phase's own optimiser's weights; the stat "loss" stays the data loss, the term is "reg_loss"."""
import pytest
import torch
from torch import nn

import engine.models  # noqa: F401  (the built-in models)
from engine.core.device import seed_everything
from engine.core.regularise import Regulariser, penalty, weight_matrices
from engine.core.registry import ParamError, TRAINING_PARAMS, validate
from engine.core.runs import RunStore
from engine.core.step import Phase, Stepper
from engine.core.trainer import TrainingJob, build_model
from engine.data import load_dataset


def test_the_penalty_of_known_weights():
    """Input: W = [[1, -2], [3, 0]] and V = [[0.5]]: L1 = 6.5, L2 = (1 + 4 + 9 + 0.25) / 2 = 7.125."""
    weights = [torch.tensor([[1.0, -2.0], [3.0, 0.0]]), torch.tensor([[0.5]])]
    assert penalty(weights, "L1").item() == 6.5
    assert penalty(weights, "L2").item() == 7.125
    assert penalty([], "L2").item() == 0.0
    with pytest.raises(ValueError, match="L1 or L2"):
        penalty(weights, "L3")


def test_biases_and_norm_scales_are_not_penalised():
    """Input: Linear(2, 3) -> BatchNorm1d(3) -> Linear(3, 1): only the two weight matrices count."""
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 1))
    chosen = weight_matrices(model.parameters())
    assert [tuple(w.shape) for w in chosen] == [(3, 2), (1, 3)]


def test_the_training_settings_offer_it_as_tf_playground_does():
    """regularization none | L1 | L2 (none by default); the rate only when L1 or L2."""
    setting = next(p for p in TRAINING_PARAMS if p.name == "regularization")
    rate = next(p for p in TRAINING_PARAMS if p.name == "reg_rate")
    assert setting.choices == ("none", "L1", "L2") and setting.default == "none"
    assert rate.when == (("regularization", ("L1", "L2")),) and rate.title == "regularization rate"
    assert validate("playground", "spiral", {"regularization": "l2", "reg_rate": 0.03}).training["regularization"] == "L2"
    with pytest.raises(ParamError, match="reg_rate is used only when regularization is L1 or L2"):
        validate("playground", "spiral", {"reg_rate": 0.03})


def test_each_phase_is_penalised_for_its_own_optimiser_s_weights():
    """Input: two models A (weight [[2]]) and B (weight [[3]]), an optimiser each (as a GAN's D and G),
    L2 at rate 0.1, zero data losses: A's phase adds 0.1 x 4/2 = 0.2 and moves only A's weight
    (gradient 0.1 x 2); B's phase adds 0.45 and moves only B's; reg_loss sums the latest of each."""
    a, b = nn.Linear(1, 1, bias=False), nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        a.weight.fill_(2.0)
        b.weight.fill_(3.0)
    optimizers = [torch.optim.SGD(a.parameters(), lr=1.0), torch.optim.SGD(b.parameters(), lr=1.0)]
    regulariser = Regulariser("L2", 0.1, optimizers)
    zero = torch.zeros(())
    phases = list(regulariser.add(iter([Phase(0, zero, {"loss": zero}), Phase(1, zero, {"loss": zero})])))
    assert phases[0].loss.item() == pytest.approx(0.2) and phases[1].loss.item() == pytest.approx(0.45)
    assert phases[0].stats["loss"].item() == 0.0  # the data loss, untouched
    assert phases[0].stats["reg_loss"].item() == pytest.approx(0.2)
    assert phases[1].stats["reg_loss"].item() == pytest.approx(0.65)

    stats = Stepper(optimizers).step(regulariser.add(iter([Phase(0, zero), Phase(1, zero)])))
    assert a.weight.item() == pytest.approx(2.0 - 0.1 * 2.0)  # SGD, lr 1: w - rate * w
    assert b.weight.item() == pytest.approx(3.0 - 0.1 * 3.0)
    assert stats["reg_loss"].item() == pytest.approx(0.2 + 0.45)


def test_l1_moves_every_weight_by_the_rate_whatever_its_size():
    """Input: weights [[0.5, -4]], L1 at rate 0.01, SGD lr 1: each moves 0.01 toward 0."""
    layer = nn.Linear(2, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -4.0]]))
        layer.bias.fill_(1.0)
    optimizer = torch.optim.SGD(layer.parameters(), lr=1.0)
    Stepper([optimizer]).step(Regulariser("L1", 0.01, [optimizer]).add(iter([Phase(0, torch.zeros(()))])))
    assert layer.weight.tolist() == [[pytest.approx(0.49), pytest.approx(-3.99)]]
    assert layer.bias.item() == 1.0  # never penalised


def _run(tmp_path, values):
    store = RunStore(tmp_path)
    config = validate("playground", "spiral", {"epochs": 1, "batch_size": 250, **values})
    job = TrainingJob(config, store, device="cpu")
    assert job.run() == "completed"
    return store.metrics(job.run_id), config


def test_a_run_records_the_term_as_train_reg_loss_and_keeps_loss_the_data_loss(tmp_path):
    """Input: the TF Playground network on the spiral, one step (batch = the 250 training points),
    L2 at rate 0.01. The step's "loss" is the data loss, the same as the same run without a penalty
    (same seed: same weights, same batch); train_reg_loss is 0.01 x sum w² / 2 of the initial weight
    matrices (the penalty is computed before the step)."""
    with_l2, config = _run(tmp_path / "l2", {"regularization": "L2", "reg_rate": 0.01})
    without, _ = _run(tmp_path / "none", {})
    step_loss = lambda m: m[m.name == "loss"].value.tolist()  # noqa: E731
    assert step_loss(with_l2) == step_loss(without) and len(step_loss(with_l2)) == 1
    seed_everything(config.training["seed"])
    initial = build_model(config, load_dataset("spiral"))
    expected = 0.01 * sum((w ** 2).sum().item() for w in weight_matrices(initial.parameters())) / 2
    assert with_l2[with_l2.name == "train_reg_loss"].value.item() == pytest.approx(expected, rel=1e-5)
    assert "train_reg_loss" not in set(without.name)
