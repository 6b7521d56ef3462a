"""Engine tests of the WGAN: a critic without sigmoid, its exact losses, weight clipping through the
Stepper's after-step hook (in the Trainer and the hand-stepped GAN), the gradient penalty on
interpolates against hand computations, the Wasserstein estimate recorded per epoch, and the
WGAN's check (a critic loss near 0 is no collapse)."""
import math

import pandas as pd
import pytest
import torch
from torch import nn

from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.step import Stepper
from engine.core.trainer import TrainingJob
from engine.data.base import Dataset
from engine.data.images import mnist_info
from engine.latent import gan_session
from engine.latent.gan_session import _HandGan
from engine.models.wgan import WGAN
from engine.objectives import gan_quality, objective_for
from engine.core.registry import get_spec
from engine.objectives.wgan import WGAN_OBJECTIVE, critic_loss, gradient_penalty


def small(variant: str = "clip", **kw) -> WGAN:
    torch.manual_seed(0)
    return WGAN((1, 8, 8), 10, latent=8, variant=variant, **kw)


def test_the_critic_has_no_sigmoid_and_no_dropout_and_gives_unbounded_scores():
    model = small()
    assert objective_for(get_spec("wgan")) is WGAN_OBJECTIVE
    kinds = {type(m) for m in model.critic.modules()}
    assert nn.Sigmoid not in kinds and nn.Tanh not in kinds
    assert all(m.p == 0.0 for m in model.critic.modules() if isinstance(m, nn.Dropout))
    with torch.no_grad():
        last = model.critic.net[-1]
        last.bias.fill_(5.0)  # a sigmoid would keep the score below 1
        assert (model.critic(torch.zeros(3, 1, 8, 8)) > 4.0).all()
        last.bias.fill_(-5.0)
        assert (model.critic(torch.zeros(3, 1, 8, 8)) < -4.0).all()


def test_the_critic_loss_is_c_fake_minus_c_real_and_the_estimate_its_negative():
    model = small().eval()
    real = torch.rand(6, 1, 8, 8) * 2 - 1
    torch.manual_seed(5)
    stats = critic_loss(model, real, None)
    torch.manual_seed(5)
    fake = model.generator(torch.randn(6, 8))
    expected = model.critic(fake).mean() - model.critic(real).mean()
    assert stats["d_loss"].item() == pytest.approx(expected.item(), rel=1e-5)
    assert stats["wasserstein"].item() == pytest.approx(-expected.item(), rel=1e-5)
    assert "penalty" not in stats  # the clip variant has none


def test_weight_clipping_keeps_every_critic_weight_in_range_after_each_critic_step():
    model = small(clip=0.01)
    assert max(p.abs().max().item() for p in model.critic.parameters()) > 0.01  # fresh weights are wider
    optimizers = WGAN_OBJECTIVE.optimizers(model, {"lr": 123.0, "optimizer": "adam"})  # its own, not the run's
    assert [type(o).__name__ for o in optimizers] == ["RMSprop", "RMSprop"]
    assert [o.param_groups[0]["lr"] for o in optimizers] == [5e-5, 5e-5]
    stepper = Stepper(optimizers, after_step=lambda i: WGAN_OBJECTIVE.after_step(model, i))
    generator_before = [p.detach().clone() for p in model.generator.parameters()]
    stats = stepper.step(WGAN_OBJECTIVE.phases(model, torch.rand(16, 1, 8, 8), torch.zeros(16, dtype=torch.long)))
    assert set(stats) == {"loss", "d_loss", "g_loss", "wasserstein"}
    weights = torch.cat([p.detach().flatten() for p in model.critic.parameters()])
    assert weights.abs().max().item() <= 0.01 and (weights.abs() == 0.01).any()  # clipped, at the bounds
    # The generator is never clipped (it stepped once: n_critic critic steps, then one G step).
    generator = torch.cat([p.detach().flatten() for p in model.generator.parameters()])
    assert generator.abs().max().item() > 0.01
    assert not all(torch.equal(a, b) for a, b in zip(generator_before, model.generator.parameters()))
    assert optimizers[0].state[next(iter(model.critic.parameters()))]["step"].item() == 5


class Linear(nn.Module):
    """C(x) = <w, x>: its gradient is w everywhere, so ||grad|| = ||w||."""
    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x, labels=None):
        return (x.flatten(1) * self.w.flatten()).sum(1)


class HalfSquare(nn.Module):
    """C(x) = ||x||^2 / 2: its gradient at x is x."""
    def forward(self, x, labels=None):
        return 0.5 * (x.flatten(1) ** 2).sum(1)


def test_the_gradient_penalty_is_zero_for_a_1_lipschitz_critic_and_taken_on_interpolates():
    real, fake = torch.randn(8, 1, 4, 4), torch.randn(8, 1, 4, 4)
    w = torch.randn(1, 4, 4)
    assert gradient_penalty(Linear(w / w.norm()), real, fake).item() == pytest.approx(0.0, abs=1e-10)
    assert gradient_penalty(Linear(2 * w / w.norm()), real, fake).item() == pytest.approx(1.0, rel=1e-6)
    # Where it is taken: real = 3u and fake = u along one unit vector u: x_hat = (3e + 1 - e) u.
    u = torch.randn(1, 1, 4, 4)
    u = u / u.norm()
    real, fake = 3 * u.repeat(8, 1, 1, 1), u.repeat(8, 1, 1, 1)
    torch.manual_seed(7)
    penalty = gradient_penalty(HalfSquare(), real, fake)
    torch.manual_seed(7)
    e = torch.rand(8)
    assert penalty.item() == pytest.approx((((3 * e + (1 - e)) - 1) ** 2).mean().item(), rel=1e-5)


def test_the_gp_variant_adds_lambda_times_the_penalty_with_adam_and_no_clipping():
    model = small("gp", gp_lambda=10.0)
    optimizers = WGAN_OBJECTIVE.optimizers(model, {})
    assert [type(o).__name__ for o in optimizers] == ["Adam", "Adam"]
    assert optimizers[0].param_groups[0]["lr"] == 1e-4 and optimizers[0].param_groups[0]["betas"] == (0.0, 0.9)
    stats = critic_loss(model, torch.rand(6, 1, 8, 8) * 2 - 1, None)
    expected = -stats["wasserstein"].item() + 10 * stats["penalty"].item()
    assert stats["d_loss"].item() == pytest.approx(expected, rel=1e-5)
    stepper = Stepper(optimizers, after_step=lambda i: WGAN_OBJECTIVE.after_step(model, i))
    stepper.step(WGAN_OBJECTIVE.phases(model, torch.rand(16, 1, 8, 8), torch.zeros(16, dtype=torch.long)))
    assert max(p.abs().max().item() for p in model.critic.parameters()) > 0.01  # not clipped


def test_the_wgan_check_flags_divergence_only():
    assert WGAN_OBJECTIVE.check({"d_loss": 0.0, "g_loss": 0.0}) is None  # would be "D won" for a DCGAN
    assert WGAN_OBJECTIVE.check({"d_loss": -3.0, "g_loss": 2.0}) is None
    assert "diverged" in WGAN_OBJECTIVE.check({"d_loss": math.nan, "g_loss": 1.0})
    # The hand-stepped view judges the last 20 steps with the run's own objective.
    rows = pd.DataFrame({"step": range(40), "name": ["d_loss", "g_loss"] * 20, "value": 0.0})
    assert gan_session.recent_gan_problem(rows, model="wgan") is None
    assert "discriminator won" in gan_session.recent_gan_problem(rows, model="dcgan")


class Sharp(nn.Module):
    """A stand-in classifier: a class from the mean brightness, with certainty (sharp logits)."""
    def forward(self, x):
        k = (x.flatten(1).mean(1) * 1000).long() % 10
        return nn.functional.one_hot(k, 10).float() * 50


def test_evaluate_gives_the_estimate_and_the_dcgans_classifier_scores_on_mnist(monkeypatch):
    torch.manual_seed(0)
    data = Dataset(mnist_info(), torch.rand(8, 1, 28, 28), torch.zeros(8, dtype=torch.long),
                   torch.rand(40, 1, 28, 28), torch.arange(40) % 10)
    monkeypatch.setattr(gan_quality, "default_classifier", lambda info, device: Sharp())
    model = WGAN((1, 28, 28), 10, latent=8)
    scores = WGAN_OBJECTIVE.evaluate(model, data, torch.device("cpu"))
    assert set(scores) == {"val_loss", "val_d_loss", "val_g_loss", "val_wasserstein", "val_confidence",
                           "val_class_entropy", "val_inception_score"}
    assert scores["val_d_loss"] == -scores["val_wasserstein"] and scores["val_confidence"] == pytest.approx(1.0)
    assert model.training  # back in training mode


def test_a_trainer_run_records_the_wasserstein_estimate_per_epoch_and_keeps_the_critic_clipped(tmp_path):
    store = RunStore(tmp_path / "runs")
    config = validate("wgan", "digits", {"epochs": 2, "latent": 8, "batch_size": 256, "n_critic": 2})
    job = TrainingJob(config, store, device="cpu")
    assert job.run() == "completed", job.progress.message  # signed, small losses are no divergence
    wide = store.metrics_wide(job.run_id)
    per_epoch = wide.dropna(subset=["val_wasserstein"])
    assert per_epoch.epoch.tolist() == [1, 2]
    assert per_epoch.train_wasserstein.notna().all()
    assert per_epoch.val_d_loss.tolist() == pytest.approx((-per_epoch.val_wasserstein).tolist())
    state = store.load_checkpoint(job.run_id, 2)
    critic = [v for k, v in state.items() if k.startswith("discriminator.") and v.is_floating_point()]
    assert critic and max(v.abs().max().item() for v in critic) <= 0.01


def test_the_hand_stepped_wgan_clips_after_a_critic_step_and_records_the_estimate(data_env):
    gan = _HandGan(validate("wgan", "digits", {"latent": 8, "batch_size": 32}), torch.device("cpu"))
    stats = gan.step("d")
    assert set(stats) == {"d_loss", "wasserstein"}
    assert max(p.abs().max().item() for p in gan.model.critic.parameters()) <= 0.01
    assert set(gan.step("g")) == {"g_loss"}
    assert set(gan.step("both")) == {"d_loss", "wasserstein", "g_loss"}


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("variant", ["clip", "gp"])
def test_the_wgan_steps_on_cuda_in_the_device_precision_without_host_syncs(variant):
    """As the Trainer steps it on a GPU (bf16, or fp16 with its GradScaler): no device->host sync
    per step (the penalty's double backward and the clipping included), finite stats, clipped critic."""
    from engine.core.device import precision_for
    device = torch.device("cuda")
    model = small(variant).to(device).train()
    precision = precision_for(device)
    stepper = Stepper(WGAN_OBJECTIVE.optimizers(model, {}), precision,
                      after_step=lambda i: WGAN_OBJECTIVE.after_step(model, i))
    x, y = torch.rand(64, 1, 8, 8, device=device), torch.zeros(64, dtype=torch.long, device=device)
    stepper.step(WGAN_OBJECTIVE.phases(model, x, y))  # warm-up: lazy inits may sync once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error" if precision.name == "bf16" else "default")  # fp16: the scaler checks infs
    try:
        for _ in range(3):
            stats = stepper.step(WGAN_OBJECTIVE.phases(model, x, y))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(torch.isfinite(v).item() for v in stats.values()), stats
    biggest = max(p.abs().max().item() for p in model.critic.parameters())
    assert biggest <= 0.01 if variant == "clip" else biggest > 0.01
