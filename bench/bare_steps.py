"""Training steps written by hand, the bare baselines that bench/latent.py and bench/trainer_overhead.py
time the engine against: a VAE step (the ELBO) and a DCGAN step (d_steps D updates, then one G update,
non-saturating loss)."""
from __future__ import annotations

import torch
from torch.nn import functional as F

from engine.core.device import autocast
from engine.objectives.vae import kl_divergence


def vae_step(model, xb: torch.Tensor, optimizer, device) -> None:
    """Binary cross-entropy summed over the pixels + beta * KL, per image, one Adam step."""
    with autocast(device):
        logits, mean, logvar = model(xb)
    recon = F.binary_cross_entropy_with_logits(logits.float(), xb, reduction="sum") / len(xb)
    loss = recon + model.beta * kl_divergence(mean.float(), logvar.float()).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def gan_step(model, real: torch.Tensor, opt_d, opt_g, device) -> None:
    """`real` in [-1, 1]; the optimisers are D's and G's own Adams."""
    G, D, bs = model.generator, model.discriminator, len(real)
    for _ in range(model.d_steps):
        with autocast(device):
            with torch.no_grad():
                fake = G(torch.randn(bs, model.latent, device=device))
            d_real, d_fake = D(real).float(), D(fake).float()
        d_loss = (F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                  + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake)))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
    with autocast(device):
        g_logits = D(G(torch.randn(bs, model.latent, device=device))).float()
    g_loss = F.binary_cross_entropy_with_logits(g_logits, torch.ones_like(g_logits))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
