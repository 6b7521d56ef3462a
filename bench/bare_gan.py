"""One DCGAN step written by hand (d_steps D updates, then one G update, non-saturating loss): the
bare baseline the GAN benchmarks (bench/latent.py, bench/trainer_overhead.py) time the engine against."""
from __future__ import annotations

import torch
from torch.nn import functional as F

from engine.core.device import autocast


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
