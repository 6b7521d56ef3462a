"""The GAN's objective: per batch `d_steps` discriminator updates, then one generator update with
the non-saturating loss -log D(G(z)). Each update is a phase (engine.core.step) naming its
optimiser; the Stepper steps D before G's loss is computed, so G learns against the updated D.

Works with engine/models/gan.py's DCGAN: `generator`, `discriminator`, `latent`, `conditional`,
`num_classes`, `decode`, and its own optimiser settings (lr_d, lr_g, betas, d_steps). Images are in
[-1, 1] inside the GAN; datasets give [0, 1], so the objective rescales them.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from engine.core.device import autocast
from engine.core.distributed import local
from engine.core.step import Phase
from engine.objectives import gan_quality
from engine.core.modules import eval_mode
from engine.objectives.base import Objective

D, G = 0, 1  # the optimisers' places in gan_optimizers()
COLLAPSE_D_LOSS = 1e-3  # mean D loss over a whole epoch below this: D has won, G gets no gradient


def gan_optimizers(model: nn.Module) -> list[torch.optim.Optimizer]:
    """[D's Adam, G's Adam], from the model's own lr_d / lr_g / betas."""
    return [torch.optim.Adam(model.discriminator.parameters(), lr=model.lr_d, betas=model.betas),
            torch.optim.Adam(model.generator.parameters(), lr=model.lr_g, betas=model.betas)]


def discriminator_loss(model: nn.Module, real: torch.Tensor, labels) -> dict[str, torch.Tensor]:
    """D's loss on real images (in [-1, 1]) and as many fresh fakes, as "d_loss" (to backpropagate),
    with D's accuracy on each."""
    z = torch.randn(len(real), model.latent, device=real.device)
    with torch.no_grad():
        fake = model.generator(z, labels)
    return d_scores(model.discriminator(real, labels).float(), model.discriminator(fake, labels).float())


def d_scores(d_real: torch.Tensor, d_fake: torch.Tensor) -> dict[str, torch.Tensor]:
    """From D's logits on real and fake images: its loss ("d_loss") and its accuracy on each."""
    loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
            + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
    return {"d_loss": loss, "d_real_acc": (d_real.detach() > 0).float().mean(),
            "d_fake_acc": (d_fake.detach() < 0).float().mean()}


def g_score(d_fake: torch.Tensor) -> torch.Tensor:
    """G's non-saturating loss -log D(G(z)), from D's logits on the fakes."""
    return F.binary_cross_entropy_with_logits(d_fake, torch.ones_like(d_fake))


def generator_loss(model: nn.Module, n: int, labels, device) -> dict[str, torch.Tensor]:
    """G's non-saturating loss -log D(G(z)) on n fresh fakes, as "g_loss" (to backpropagate).
    D only passes the gradient back to G here (this phase steps G alone): under DDP it runs
    without its wrapper, whose all-reduce would wait for D gradients that never come."""
    z = torch.randn(n, model.latent, device=device)
    return {"g_loss": g_score(local(model.discriminator)(model.generator(z, labels), labels).float())}


class GANObjective(Objective):
    """`d_steps` D steps then one G step per batch. Stats: loss (= d_loss + g_loss), d_loss, g_loss,
    d_real_acc, d_fake_acc (D's accuracy on the real batch and on the fakes)."""
    name = "gan"
    ddp_parts = ("discriminator", "generator")  # each has its own optimiser and phase

    def optimizers(self, model, training):
        return gan_optimizers(model)

    def to_gan(self, x: torch.Tensor) -> torch.Tensor:
        """A batch of the dataset as the GAN sees it: images from [0, 1] to [-1, 1] (tanh's range)."""
        return x * 2 - 1

    def hand_measures(self, model, data, device) -> dict[str, float]:
        """What a hand-stepped session (engine.latent.gan_session) records after each click besides
        the step losses: nothing here (scoring digits takes a classifier pass); see gan2d."""
        return {}

    def d_phase(self, model, real: torch.Tensor, labels) -> Phase:
        """One D update on real images (as the GAN sees them) and as many fresh fakes."""
        d = discriminator_loss(model, real, labels)
        return Phase(D, d["d_loss"], d)

    def g_phase(self, model, n: int, labels, device) -> Phase:
        """One G update on n fresh fakes (the hand-stepped GAN's Step G, and the end of every batch)."""
        g = generator_loss(model, n, labels, device)
        return Phase(G, g["g_loss"], g)

    def phases(self, model, xb, yb):
        real = self.to_gan(xb)
        labels = yb if model.conditional else None
        for _ in range(model.d_steps):
            d = self.d_phase(model, real, labels)
            yield d
        g = self.g_phase(model, len(real), labels, xb.device)
        yield Phase(G, g.loss, {**g.stats, "loss": d.loss.detach() + g.loss.detach()})

    def evaluate(self, model, data, device, n_val: int = 1000) -> dict[str, float]:
        """D and G losses on up to `n_val` validation images (dropout off), D's accuracies; and for
        28x28 single-channel digits, the fixed-noise samples scored by the MNIST classifier:
        mean confidence, entropy of the predicted-class distribution (ln 10 = 2.30 is every digit
        equally often; falling entropy is mode collapse) and the Inception-Score analogue."""
        with eval_mode(model):
            real = data.x_val[:n_val].to(device) * 2 - 1
            labels = data.y_val[:n_val].to(device) if model.conditional else None
            z = gan_quality.fixed_noise(model.latent, len(real), gan_quality.QUALITY_SEED).to(device)
            with autocast(device):
                fake = model.generator(z, labels)
                d_real = model.discriminator(real, labels).float()
                d_fake = model.discriminator(fake, labels).float()
            d, g_loss = d_scores(d_real, d_fake), g_score(d_fake)
            out = {"val_loss": (d["d_loss"] + g_loss).item(), "val_d_loss": d["d_loss"].item(),
                   "val_g_loss": g_loss.item(), "val_d_real_acc": d["d_real_acc"].item(),
                   "val_d_fake_acc": d["d_fake_acc"].item()}
            out.update({f"val_{k}": v for k, v in gan_quality.sample_quality(model, data.info, device).items()})
        return out

    def check(self, epoch_stats: dict[str, float]) -> str | None:
        return gan_problem(epoch_stats)


def gan_problem(stats: dict[str, float]) -> str | None:
    """Why a GAN's epoch (mean step stats) shows a failed run, with advice; None if it looks alive."""
    d, g = stats.get("d_loss"), stats.get("g_loss")
    if d is None or g is None:
        return None
    if not (math.isfinite(d) and math.isfinite(g)):
        return (f"the GAN diverged: D loss {d}, G loss {g}. Lower the learning rates (lr_g, lr_d, e.g. "
                f"halve them) or keep beta1 at 0.5; then start again")
    if d < COLLAPSE_D_LOSS:
        return (f"the discriminator won: its loss stayed near 0 ({d:.2g}) for the whole epoch, so the "
                f"generator gets no useful gradient (G loss {g:.3g}) and its samples stop improving "
                f"(collapse). Lower lr_d or d_steps, raise D's dropout, or raise lr_g; then start again")
    return None


GAN_OBJECTIVE = GANObjective()
