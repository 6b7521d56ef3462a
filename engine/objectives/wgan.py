"""The WGAN's objective (engine/models/wgan.py): per batch `n_critic` critic updates, then one
generator update, as the DCGAN's phases (engine.objectives.gan) with the Wasserstein losses:

    critic    C(fake) - C(real)   (means over the batch; + lambda x GP with the "gp" variant)
    generator -C(G(z))
    estimate  W = C(real) - C(fake), the critic's estimate of the Wasserstein-1 distance (up to the
              Lipschitz constant the clipping allows): "wasserstein" per step, train_wasserstein
              and val_wasserstein per epoch. It should fall as the samples improve.

Weight clipping is not a step inside the losses: the Stepper calls `after_step` after every critic
update (engine.core.step), in the Trainer, under DDP and in the hand-stepped session alike; the
weights are the model's own (the DDP wrapper shares them), clipped the same way on every rank.

The gradient penalty is computed on random interpolates of real and fake images, in float32 (no
autocast: its gradient norm is part of the loss), through the critic without its DDP wrapper (the
wrapper's hooks do not support the double backward; the penalty's gradients still reach the
critic's parameters in the phase's one backward, where DDP all-reduces them).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from engine.core.device import autocast
from engine.core.distributed import local
from engine.core.modules import eval_mode
from engine.core.step import Phase
from engine.objectives import gan_quality
from engine.objectives.gan import D, G, GANObjective


def wgan_optimizers(model: nn.Module) -> list[torch.optim.Optimizer]:
    """[critic's, G's]: RMSprop with weight clipping (the paper), Adam (betas 0, 0.9) with the penalty."""
    if model.variant == "clip":
        return [torch.optim.RMSprop(model.discriminator.parameters(), lr=model.lr_d),
                torch.optim.RMSprop(model.generator.parameters(), lr=model.lr_g)]
    return [torch.optim.Adam(model.discriminator.parameters(), lr=model.lr_d, betas=model.betas),
            torch.optim.Adam(model.generator.parameters(), lr=model.lr_g, betas=model.betas)]


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, labels=None) -> torch.Tensor:
    """WGAN-GP's E[(||grad_x C(x_hat)||_2 - 1)^2] over x_hat = e real + (1 - e) fake, e ~ U(0, 1)
    per image; differentiable (create_graph), so the critic's step lowers it."""
    e = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device)
    x_hat = (e * real.float() + (1 - e) * fake.float()).requires_grad_(True)
    with torch.autocast(real.device.type, enabled=False):
        scores = critic(x_hat, labels).float()
        grad, = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


def critic_loss(model: nn.Module, real: torch.Tensor, labels) -> dict[str, torch.Tensor]:
    """The critic's loss on real images (in [-1, 1]) and as many fresh fakes, as "d_loss" (to
    backpropagate; the penalty included with "gp"), the estimate "wasserstein" and the "penalty"."""
    z = torch.randn(len(real), model.latent, device=real.device)
    with torch.no_grad():
        fake = model.generator(z, labels)
    c_real = model.discriminator(real, labels).float().mean()
    c_fake = model.discriminator(fake, labels).float().mean()
    estimate = c_real - c_fake
    stats = {"wasserstein": estimate.detach()}
    loss = -estimate
    if model.variant == "gp":
        penalty = gradient_penalty(local(model.discriminator), real, fake, labels)
        loss = loss + model.gp_lambda * penalty
        stats["penalty"] = penalty.detach()
    return {"d_loss": loss, **stats}


def generator_loss(model: nn.Module, n: int, labels, device) -> dict[str, torch.Tensor]:
    """G's loss -C(G(z)) on n fresh fakes; the critic without its DDP wrapper (this phase steps G
    alone: see engine.objectives.gan.generator_loss)."""
    z = torch.randn(n, model.latent, device=device)
    return {"g_loss": -local(model.discriminator)(model.generator(z, labels), labels).float().mean()}


class WGANObjective(GANObjective):
    """`n_critic` critic steps then one G step per batch. Stats: loss (= d_loss + g_loss), d_loss
    (the critic's), g_loss, wasserstein (the critic's estimate), penalty (with "gp")."""
    name = "wgan"
    relative_divergence = False  # the critic's loss is signed and starts near 0: only nan/inf diverge

    def optimizers(self, model, training):
        return wgan_optimizers(model)

    def d_phase(self, model, real, labels) -> Phase:
        d = critic_loss(model, real, labels)
        return Phase(D, d["d_loss"], d)

    def g_phase(self, model, n, labels, device) -> Phase:
        g = generator_loss(model, n, labels, device)
        return Phase(G, g["g_loss"], g)

    def after_step(self, model, optimizer: int) -> None:
        """After each critic step of the "clip" variant: every critic weight into [-clip, clip]."""
        if optimizer == D and model.variant == "clip":
            with torch.no_grad():
                for p in model.discriminator.parameters():
                    p.clamp_(-model.clip, model.clip)

    def evaluate(self, model, data, device, n_val: int = 1000) -> dict[str, float]:
        """The critic's estimate on up to `n_val` validation images against as many fixed-noise
        fakes ("val_wasserstein"), the critic's and G's losses without the penalty, and the
        classifier-scored sample quality of engine.objectives.gan_quality (MNIST runs)."""
        with eval_mode(model):
            real = data.x_val[:n_val].to(device) * 2 - 1
            labels = data.y_val[:n_val].to(device) if model.conditional else None
            z = gan_quality.fixed_noise(model.latent, len(real), gan_quality.QUALITY_SEED).to(device)
            with torch.no_grad(), autocast(device):
                c_real = model.discriminator(real, labels).float().mean()
                c_fake = model.discriminator(model.generator(z, labels), labels).float().mean()
            estimate = (c_real - c_fake).item()
            out = {"val_wasserstein": estimate, "val_d_loss": -estimate, "val_g_loss": -c_fake.item(),
                   "val_loss": -estimate - c_fake.item()}
            out.update({f"val_{k}": v for k, v in gan_quality.sample_quality(model, data.info, device).items()})
        return out

    def check(self, epoch_stats: dict[str, float]) -> str | None:
        """Only divergence: a WGAN critic's loss near 0 is no sign that it has won (there is no
        saturation to collapse into)."""
        d, g = epoch_stats.get("d_loss"), epoch_stats.get("g_loss")
        if d is None or g is None or (math.isfinite(d) and math.isfinite(g)):
            return None
        lr = "lr_rmsprop" if epoch_stats.get("penalty") is None else "lr_adam"
        return (f"the WGAN diverged: critic loss {d}, G loss {g}. Lower the learning rate ({lr}, e.g. "
                f"halve it); then start again")


WGAN_OBJECTIVE = WGANObjective()
