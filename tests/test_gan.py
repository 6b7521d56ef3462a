"""Engine tests of the DCGAN: shapes, the D/G step counts, collapse and NaN detection, quality
scores through the MNIST classifier, hand stepping (GanSession) and a Trainer run."""
import math

import pytest
import torch

from engine import latent
from engine.data.base import Dataset
from engine.data.images import digits_info, mnist_info
from engine.latent import GanSession, LatentError
from engine.models.gan import DCGAN, GAN_OBJECTIVE, gan_problem
from engine.registry import validate
from engine.runs import RunStore
from engine.train import TrainingJob


def test_generator_and_discriminator_shapes_for_mnist():
    torch.manual_seed(0)
    model = DCGAN((1, 28, 28), 10, latent=16)
    images = model.generate(torch.randn(5, 16))
    assert images.shape == (5, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    decoded = model.decode(torch.randn(5, 16))
    assert decoded.min() >= 0 and decoded.max() <= 1
    assert model.discriminator(images).shape == (5,)
    # The architecture of the issue: dense to 7x7x256, then 128 -> 64 -> 1 channels.
    convs = [m for m in model.generator.net if isinstance(m, torch.nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [128, 64, 1]
    assert model.generator.net[0].out_features == 7 * 7 * 256


def test_conditional_generator_depends_on_the_label():
    torch.manual_seed(0)
    model = DCGAN((1, 8, 8), 10, latent=8, conditional=True).eval()
    z = torch.randn(1, 8).repeat(2, 1)
    images = model.decode(z, torch.tensor([3, 7]))
    assert not torch.allclose(images[0], images[1])
    with pytest.raises(LatentError, match="class 12 does not exist"):
        latent.decode(model, z, 12)


def test_train_step_takes_d_steps_discriminator_steps_per_generator_step():
    torch.manual_seed(0)
    model = DCGAN((1, 8, 8), 10, latent=8, d_steps=3, lr_d=1e-3, lr_g=5e-4, beta1=0.5)
    opt_d, opt_g = GAN_OBJECTIVE.optimizers(model, {"lr": 123.0})  # the training lr is not used
    assert opt_d.param_groups[0]["lr"] == 1e-3 and opt_g.param_groups[0]["lr"] == 5e-4
    assert opt_d.param_groups[0]["betas"] == (0.5, 0.999)
    stats = GAN_OBJECTIVE.train_step(model, torch.rand(16, 1, 8, 8), torch.zeros(16, dtype=torch.long), [opt_d, opt_g])
    assert set(stats) == {"loss", "d_loss", "g_loss", "d_real_acc", "d_fake_acc"}
    assert stats["loss"].item() == pytest.approx(stats["d_loss"].item() + stats["g_loss"].item())
    d_step_count = opt_d.state[next(iter(model.discriminator.parameters()))]["step"].item()
    g_step_count = opt_g.state[next(iter(model.generator.parameters()))]["step"].item()
    assert (d_step_count, g_step_count) == (3, 1)


def test_collapse_and_nan_are_reported_with_advice():
    assert gan_problem({"d_loss": 1.2, "g_loss": 0.9}) is None
    collapsed = gan_problem({"d_loss": 1e-5, "g_loss": 14.0})
    assert "discriminator won" in collapsed and "Lower lr_d" in collapsed
    nan = gan_problem({"d_loss": math.nan, "g_loss": 1.0})
    assert "diverged" in nan and "Lower the learning rates" in nan
    assert GAN_OBJECTIVE.check({"d_loss": 0.0, "g_loss": 30.0}) == gan_problem({"d_loss": 0.0, "g_loss": 30.0})


def test_a_collapsed_epoch_ends_the_run_as_diverged(tmp_path, monkeypatch):
    # Force D's loss to 0 for the whole epoch: the Trainer stops the run with the objective's advice.
    from engine.models import gan
    real_d_step = gan.d_step

    def winning_d_step(*args):
        stats = real_d_step(*args)
        return {**stats, "d_loss": stats["d_loss"] * 0}

    monkeypatch.setattr(gan, "d_step", winning_d_step)
    store = RunStore(tmp_path / "runs")
    job = TrainingJob(validate("dcgan", "digits", {"epochs": 3, "latent": 8, "batch_size": 128}), store, device="cpu")
    assert job.run() == "diverged"
    assert "discriminator won" in job.progress.message
    assert store.checkpoint_epochs(job.run_id) == [1]  # stopped after the first epoch


class Sharp(torch.nn.Module):
    """A stand-in classifier: a class from the mean brightness, with certainty (sharp logits)."""
    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x):
        k = (x.flatten(1).mean(1) * 1000).long() % 10
        return torch.nn.functional.one_hot(k, 10).float() * 50


def test_evaluate_scores_samples_with_the_classifier_on_mnist(monkeypatch):
    torch.manual_seed(0)
    data = Dataset(mnist_info(), torch.rand(8, 1, 28, 28), torch.zeros(8, dtype=torch.long),
                   torch.rand(40, 1, 28, 28), torch.arange(40) % 10)
    monkeypatch.setattr(latent, "default_classifier", lambda info, device: Sharp())
    model = DCGAN((1, 28, 28), 10, latent=8)
    scores = GAN_OBJECTIVE.evaluate(model, data, torch.device("cpu"))
    assert {"val_loss", "val_d_loss", "val_g_loss", "val_d_real_acc", "val_d_fake_acc", "val_confidence",
            "val_class_entropy", "val_inception_score"} <= set(scores)
    assert scores["val_confidence"] == pytest.approx(1.0)
    assert 0 <= scores["val_class_entropy"] <= math.log(10) + 1e-6
    assert scores["val_loss"] == pytest.approx(scores["val_d_loss"] + scores["val_g_loss"])
    assert model.training  # evaluate() puts the model back in training mode


def test_the_shipped_mnist_classifier_is_used_for_mnist_only():
    assert latent.default_classifier(digits_info(), torch.device("cpu")) is None
    classifier = latent.default_classifier(mnist_info(), torch.device("cpu"))
    assert classifier is not None
    assert classifier(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_gan_session_steps_d_only_then_g_only_then_saves_a_run(tmp_path):
    session = GanSession(validate("dcgan", "digits", {"latent": 8, "batch_size": 32}))
    g_before = [p.detach().clone() for p in session.model.generator.parameters()]
    d_before = [p.detach().clone() for p in session.model.discriminator.parameters()]
    row = session.step("d", 2)
    assert set(row) >= {"d_loss", "d_real_acc", "d_fake_acc"} and "g_loss" not in row
    assert all(torch.equal(a, b) for a, b in zip(g_before, session.model.generator.parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(d_before, session.model.discriminator.parameters()))
    d_after = [p.detach().clone() for p in session.model.discriminator.parameters()]
    session.step("g")
    assert all(torch.equal(a, b) for a, b in zip(d_after, session.model.discriminator.parameters()))
    session.step("both", 3)
    assert (session.d_steps, session.g_steps, len(session.history)) == (5, 4, 6)
    first = session.samples()
    assert first.shape == (64, 1, 8, 8) and torch.equal(first, session.samples())  # fixed noise, eval mode

    store = RunStore(tmp_path / "runs")
    run_id = session.save(store)
    run = store.get_run(run_id)
    assert run.status == "completed" and "5 D steps and 4 G steps" in run.message
    model, data, config = latent.load_generative(store, run_id)
    assert torch.allclose(latent.sample(model, 64, seed=0), first, atol=1e-6)
    assert set(store.metrics(run_id).name) >= {"loss", "d_loss", "g_loss"}
    with pytest.raises(LatentError, match="step 'd', 'g' or 'both'"):
        session.step("x")
    with pytest.raises(LatentError, match="for the DCGAN"):
        GanSession(validate("vae", "digits"))


def test_trainer_trains_a_conditional_gan_and_records_every_stat(tmp_path):
    store = RunStore(tmp_path / "runs")
    job = TrainingJob(validate("dcgan", "digits", {"epochs": 1, "latent": 8, "conditional": True, "batch_size": 128}), store, device="cpu")
    assert job.run() == "completed", job.progress.message
    names = set(store.metrics(job.run_id).name)
    assert {"loss", "train_d_loss", "train_g_loss", "train_d_real_acc", "train_d_fake_acc", "val_d_loss",
            "val_d_real_acc"} <= names
    model, _, _ = latent.load_generative(store, job.run_id)
    assert model.conditional and latent.sample(model, 10).shape == (10, 1, 8, 8)
    walk = latent.interpolate(latent.fixed_noise(8, 1, 0)[0], latent.fixed_noise(8, 1, 1)[0], 5, "spherical")
    assert latent.decode(model, walk, 4).shape == (5, 1, 8, 8)
