"""How good a generator's digits are: a fixed batch of noise decoded and scored by the project's
MNIST classifier (confidence, class entropy, the Inception Score analogue). The GAN objective
scores every epoch with it; the Latent space tools (engine.latent.space) use the same functions.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.core.loading import DEFAULT, load_run
from engine.core.modules import model_device

QUALITY_SAMPLES = 500
QUALITY_SEED = 1234


def fixed_noise(latent: int, n: int, seed: int = 0) -> torch.Tensor:
    """The same (n, latent) standard-normal batch for the same seed, on every device: samples of
    one run at different epochs are comparable image by image."""
    return torch.randn(n, latent, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def classifier_scores(images: torch.Tensor, classifier: nn.Module, labels=None) -> dict[str, float]:
    """Score generated images with a classifier: mean top-class confidence, entropy (nats) of the
    distribution of predicted classes (ln K when every class comes out equally often; it falls as
    a GAN collapses onto a few modes), the Inception Score analogue exp(E_x KL(p(y|x) || p(y))),
    and, when `labels` (the classes asked for) are given, how often the classifier agrees."""
    device = model_device(classifier)
    probs = torch.cat([torch.softmax(classifier(images[i:i + 512].to(device)).float(), 1).cpu()
                       for i in range(0, len(images), 512)])
    marginal = probs.mean(0)
    eps = 1e-12
    class_entropy = -(marginal * (marginal + eps).log()).sum()
    kl = (probs * ((probs + eps).log() - (marginal + eps).log())).sum(1).mean()
    out = {"confidence": probs.max(1).values.mean().item(), "class_entropy": class_entropy.item(),
           "inception_score": kl.exp().item()}
    if labels is not None:
        out["label_accuracy"] = (probs.argmax(1) == torch.as_tensor(labels).cpu()).float().mean().item()
    return out


def default_classifier(info, device) -> nn.Module | None:
    """The project's pretrained MNIST CNN (engine.core.pretrained) for 28x28 digit sets, else None (no
    classifier fits: Fashion-MNIST, 8x8 digits; or the checkpoint is not installed). load_run's
    shared copy: one per device, loaded once."""
    if tuple(info.input_shape) != (1, 28, 28) or info.name != "mnist":
        return None
    try:
        return load_run(None, DEFAULT, device=device, shared=True).model
    except (ImportError, OSError, ValueError, RuntimeError):  # not installed, or damaged
        return None


@torch.no_grad()
def sample_quality(model: nn.Module, info, device) -> dict[str, float]:
    """The scores of QUALITY_SAMPLES images decoded from fixed noise (every class in turn for a
    conditional model); {} where no classifier fits the dataset."""
    classifier = default_classifier(info, device)
    if classifier is None:
        return {}
    asked = (torch.arange(QUALITY_SAMPLES, device=device) % model.num_classes) if model.conditional else None
    noise = fixed_noise(model.latent, QUALITY_SAMPLES, QUALITY_SEED).to(device)
    images = model.decode(noise, asked).float()
    return classifier_scores(images, classifier, asked)
