"""The VAE's objective: the ELBO. Binary cross-entropy summed over the pixels + beta * KL(q(z|x) ||
N(0, I)), averaged over the batch; the two terms are recorded separately. Works with any model of
engine/models/vae.py's interface: forward(x) -> (reconstruction logits, mean, log-variance),
encode, decode and `beta`.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from engine.core.device import autocast
from engine.core.modules import eval_mode
from engine.objectives.base import Objective


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) per example, in nats (closed form)."""
    return -0.5 * torch.sum(1 + logvar - mean.pow(2) - logvar.exp(), dim=1)


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over the pixels, per example (nats)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def elbo_terms(model: nn.Module, xb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per example: the reconstruction loss and the KL term (one z sample each), in fp32."""
    logits, mean, logvar = model(xb)
    return reconstruction_loss(logits.float(), xb), kl_divergence(mean.float(), logvar.float())


class VAEObjective(Objective):
    """ELBO training. Stats: loss (recon + beta * KL), recon, kl; per-batch means over examples."""
    name = "vae"

    def loss(self, model, xb, yb):
        recon, kl = elbo_terms(model, xb)
        recon, kl = recon.mean(), kl.mean()
        return recon + model.beta * kl, {"recon": recon, "kl": kl}

    def evaluate(self, model, data, device, batch_size: int = 1000) -> dict[str, float]:
        """On the validation split: loss, recon, kl, ELBO (nats per image, one z sample each;
        higher is better) and the mean squared pixel error of the reconstruction from the mean code."""
        with eval_mode(model):
            sums = torch.zeros(3, device=device)
            for start in range(0, len(data.x_val), batch_size):
                xb = data.x_val[start:start + batch_size].to(device, non_blocking=True)
                with autocast(device):
                    recon, kl = elbo_terms(model, xb)
                mean, _ = model.encode(xb)
                mse = (model.decode(mean).float() - xb).pow(2).flatten(1).mean(1)
                sums += torch.stack([recon.sum(), kl.sum(), mse.sum()])
        recon, kl, mse = (sums / max(len(data.x_val), 1)).tolist()
        return {"val_loss": recon + model.beta * kl, "val_recon": recon, "val_kl": kl,
                "val_elbo": -(recon + kl), "val_mse": mse}


VAE_OBJECTIVE = VAEObjective()
