"""Engine tests of the DCGAN: shapes, the D/G step counts, collapse and NaN detection, quality
scores through the MNIST classifier, hand stepping (GanSession: a job in its own process, driven
through the store) and a Trainer run."""
import math
import time

import numpy as np
import pandas as pd
import pytest
import torch

from engine.latent import gan_session
from engine.latent import space as latent
from engine.data import load_dataset
from engine.data.base import Dataset
from engine.data.images import digits_info, mnist_info
from engine.core.device import seed_everything
from engine.core.jobs import RunControl, children
from engine.latent.gan_session import GanSession
from engine.latent.space import LatentError
from engine.core.loading import load_run
from engine.core.step import Stepper
from engine.models.gan import DCGAN
from engine.objectives import gan_quality
from engine.objectives.gan import GAN_OBJECTIVE, gan_problem
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob, build_model
from tests.waiting import gan_idle_after as idle_after, wait_for


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
    stats = Stepper([opt_d, opt_g]).step(GAN_OBJECTIVE.phases(model, torch.rand(16, 1, 8, 8), torch.zeros(16, dtype=torch.long)))
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
    from engine.objectives import gan
    real_d_step = gan.discriminator_loss

    def winning_d_step(*args):
        stats = real_d_step(*args)
        return {**stats, "d_loss": stats["d_loss"] * 0}

    monkeypatch.setattr(gan, "discriminator_loss", winning_d_step)
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
    monkeypatch.setattr(gan_quality, "default_classifier", lambda info, device: Sharp())
    model = DCGAN((1, 28, 28), 10, latent=8)
    scores = GAN_OBJECTIVE.evaluate(model, data, torch.device("cpu"))
    assert {"val_loss", "val_d_loss", "val_g_loss", "val_d_real_acc", "val_d_fake_acc", "val_confidence",
            "val_class_entropy", "val_inception_score"} <= set(scores)
    assert scores["val_confidence"] == pytest.approx(1.0)
    assert 0 <= scores["val_class_entropy"] <= math.log(10) + 1e-6
    assert scores["val_loss"] == pytest.approx(scores["val_d_loss"] + scores["val_g_loss"])
    assert model.training  # evaluate() puts the model back in training mode


def test_the_shipped_mnist_classifier_is_used_for_mnist_only():
    assert gan_quality.default_classifier(digits_info(), torch.device("cpu")) is None
    classifier = gan_quality.default_classifier(mnist_info(), torch.device("cpu"))
    assert classifier is not None
    assert classifier(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


HAND_CONFIG = {"latent": 8, "batch_size": 32}


def test_gan_session_in_its_own_process_steps_d_g_both_then_saves_a_run(data_env, tmp_path):
    store = RunStore(tmp_path / "runs")
    session = gan_session.start_gan_session(validate("dcgan", "digits", HAND_CONFIG), store, device="cpu")
    control = RunControl(store, session.run_id)  # what a page holds: the store and the run id
    run = store.get_run(session.run_id)
    assert (run.model, run.status, run.progress["state"]) == ("dcgan", "running", "paused")
    assert session.run_id in children() and gan_session.is_hand_gan(run)
    control.step(3, what="d")  # sent while the child still builds the model: it waits in the store
    assert gan_session.hand_gan_state(store, control.progress()).busy
    wait_for(idle_after(store, session.run_id, 1), what="3 D steps")
    control.step(2, what="g")
    wait_for(idle_after(store, session.run_id, 2), what="2 G steps")
    control.step(1, what="both")
    wait_for(idle_after(store, session.run_id, 3), what="a D and G step")

    state = gan_session.hand_gan_state(store, control.progress())
    assert (state.d_steps, state.g_steps, state.steps, state.commands) == (4, 3, 6, 3)
    wide = store.metrics_wide(session.run_id).set_index("step")
    assert wide.index.tolist() == [1, 2, 3, 4, 5, 6] and set(wide.epoch) == {1}
    assert wide.d_loss.notna().tolist() == [True, True, True, False, False, True]
    assert wide.g_loss.notna().tolist() == [False, False, False, True, True, True]
    assert wide.d_real_acc.between(0, 1).sum() == 4 and wide.d_fake_acc.between(0, 1).sum() == 4
    assert wide.loss.to_numpy() == pytest.approx(wide.d_loss.fillna(0).to_numpy() + wide.g_loss.fillna(0).to_numpy())
    for k in range(4):  # fresh weights, then one set per command
        epoch, samples = store.artifact(session.run_id, "samples", k)
        assert epoch == k and samples.shape == (64, 1, 8, 8) and 0 <= samples.min() and samples.max() <= 1
    assert store.artifact(session.run_id, "counts", 3)[1].tolist() == [4, 3, 6]
    assert not store.checkpoint_epochs(session.run_id)  # nothing saved until it is finished or stopped

    gan_session.finish_gan_session(store, session.run_id)
    assert control.wait_until_done(60) == "completed"
    run = store.get_run(session.run_id)
    assert run.message == "trained by hand: 4 D steps and 3 G steps"
    assert run.final == {"d_steps": 4, "g_steps": 3, "steps": 6}
    assert store.checkpoint_epochs(session.run_id) == [1]
    loaded = load_run(store, session.run_id, need=latent.NEED, shared=True)  # as every view opens it
    model, config = loaded.model, loaded.config
    assert config.model == "dcgan" and model.latent == 8
    last = store.artifact(session.run_id, "samples")[1]
    assert torch.allclose(latent.sample(model, 64, seed=0), torch.from_numpy(last), atol=1e-6)
    wait_for(lambda: session.run_id not in children(), what="the process to exit")


def test_gan_session_stops_within_a_second_even_mid_command_and_keeps_its_weights(data_env, tmp_path):
    store = RunStore(tmp_path / "runs")
    session = gan_session.start_gan_session(validate("dcgan", "digits", HAND_CONFIG), store, device="cpu")
    control = RunControl(store, session.run_id)
    wait_for(idle_after(store, session.run_id, 0), what="the model to be built")
    wait_for(lambda: store.artifact(session.run_id, "samples") is not None, what="the first samples")
    control.step(1000, what="both")
    wait_for(lambda: control.progress().state == "training", what="the steps to start")
    asked = time.monotonic()
    assert control.stop(wait=5) == "stopped"
    assert time.monotonic() - asked < 1.5
    run = store.get_run(session.run_id)
    assert run.message.startswith("stopped by the user after ") and "checkpoint epoch 1" in run.message
    assert store.checkpoint_epochs(session.run_id) == [1]
    steps = run.final["steps"]
    assert 0 < steps < 1000 and run.final["d_steps"] == run.final["g_steps"] == steps
    counts = store.artifact(session.run_id, "counts")[1].tolist()
    assert counts == [steps, steps, steps]  # the samples of the last step before the stop


def test_gan_session_d_steps_leave_g_alone_and_g_steps_leave_d_alone(data_env, tmp_path):
    """Run in this process (commands queued first): the checkpoint's weights against fresh ones."""
    store = RunStore(tmp_path / "runs")
    config = validate("dcgan", "digits", HAND_CONFIG)

    def hand_trained(*commands):
        session = GanSession(config, store, device="cpu")
        for what, n in commands:
            RunControl(store, session.run_id).step(n, what=what)
        gan_session.finish_gan_session(store, session.run_id)
        assert session.run() == "completed", session.progress.message
        return dict(store.load_checkpoint(session.run_id)), session

    seed_everything(config.training["seed"])  # as the session does: the same initial weights
    model = build_model(config, load_dataset("digits"))
    fresh = model.state_dict()
    params = [name for name, _ in model.named_parameters()]  # not BN's running stats: D steps run G too

    def same(state, part):
        return all(torch.equal(state[k], fresh[k]) for k in params if k.startswith(part))

    d_only, _ = hand_trained(("d", 2))
    assert same(d_only, "generator.") and not same(d_only, "discriminator.")
    g_only, session = hand_trained(("g", 1), ("x", 3), ("both", 0))  # two commands it cannot do: ignored
    assert same(g_only, "discriminator.") and not same(g_only, "generator.")
    run = store.get_run(session.run_id)
    assert run.message == "trained by hand: 0 D steps and 1 G steps"
    assert "ignored a command" in run.progress["note"]


def test_a_gan_session_nobody_clicks_ends_itself(data_env, tmp_path):
    store = RunStore(tmp_path / "runs")
    session = GanSession(validate("dcgan", "digits", HAND_CONFIG), store, device="cpu", idle_timeout_s=0.3)
    RunControl(store, session.run_id).step(1, what="d")
    assert session.run() == "stopped"
    run = store.get_run(session.run_id)
    assert "without a click" in run.message and "1 D steps" in run.message
    assert store.checkpoint_epochs(session.run_id) == [1]


def test_only_the_dcgan_is_stepped_by_hand(tmp_path):
    with pytest.raises(LatentError, match="for the DCGAN"):
        GanSession(validate("vae", "digits"), RunStore(tmp_path / "runs"))


def test_collapse_warning_from_the_stored_step_stats():
    def rows(d_losses):
        return pd.DataFrame({"step": np.arange(len(d_losses) * 2) // 2 + 1,
                             "name": ["d_loss", "g_loss"] * len(d_losses),
                             "value": np.ravel([[d, 12.0] for d in d_losses])})
    assert gan_session.recent_gan_problem(rows([1e-5] * 19)) is None  # not enough steps to judge
    assert "discriminator won" in gan_session.recent_gan_problem(rows([1.0] * 5 + [1e-5] * 20))
    assert gan_session.recent_gan_problem(rows([1e-5] * 5 + [1.0] * 20)) is None


def test_trainer_trains_a_conditional_gan_and_records_every_stat(tmp_path):
    store = RunStore(tmp_path / "runs")
    job = TrainingJob(validate("dcgan", "digits", {"epochs": 1, "latent": 8, "conditional": True, "batch_size": 128}), store, device="cpu")
    assert job.run() == "completed", job.progress.message
    names = set(store.metrics(job.run_id).name)
    assert {"loss", "train_d_loss", "train_g_loss", "train_d_real_acc", "train_d_fake_acc", "val_d_loss",
            "val_d_real_acc"} <= names
    model = load_run(store, job.run_id, need=latent.NEED, shared=True).model
    assert model.conditional and latent.sample(model, 10).shape == (10, 1, 8, 8)
    walk = latent.interpolate(latent.fixed_noise(8, 1, 0)[0], latent.fixed_noise(8, 1, 1)[0], 5, "spherical")
    assert latent.decode(model, walk, 4).shape == (5, 1, 8, 8)
