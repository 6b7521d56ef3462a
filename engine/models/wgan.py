"""Wasserstein GAN (Arjovsky et al. 2017) with the DCGAN's nets (engine/models/gan.py): the generator
as it is, the discriminator as a *critic*: the same convolutions with no dropout, and its one output
a real-valued score, never squashed by a sigmoid (the DCGAN's D gives logits too; only its BCE loss
applies the sigmoid, and a WGAN's loss has none).

Two ways to keep the critic (roughly) 1-Lipschitz, the `variant` param:
  "clip" the paper's recipe: RMSprop at lr 5e-5 for both nets, n_critic = 5 critic steps per
         generator step, every critic weight clipped to [-clip, clip] (0.01) after each critic step;
  "gp"   WGAN-GP (Gulrajani et al. 2017): Adam at lr 1e-4 with betas (0.0, 0.9), n_critic 5, no
         clipping, and lambda x (||grad C(x_hat)|| - 1)^2 on random interpolates x_hat of real and
         fake images added to the critic's loss (lambda = 10).
As with the DCGAN, these settings are model params kept as attributes (the training lr and
optimizer are not used). How it learns (the losses, the clipping hook, the Wasserstein estimate):
engine/objectives/wgan.py.
"""
from __future__ import annotations

from engine.core.registry import Capabilities, ModelSpec, Param, Shape, register
from engine.models.gan import DCGAN, check

VARIANTS = ("clip", "gp")


class WGAN(DCGAN):
    """The DCGAN's generator and a critic (the discriminator without dropout: its output is the score)."""

    def __init__(self, input_shape: tuple, num_classes: int, latent: int = 64, conditional: bool = False,
                 variant: str = "clip", lr_rmsprop: float = 5e-5, lr_adam: float = 1e-4, n_critic: int = 5,
                 clip: float = 0.01, gp_lambda: float = 10.0):
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, not {variant!r}")
        lr = lr_rmsprop if variant == "clip" else lr_adam
        super().__init__(input_shape, num_classes, latent, conditional, dropout=0.0, lr_g=lr, lr_d=lr,
                         beta1=0.0, beta2=0.9, d_steps=n_critic)
        self.variant, self.clip, self.gp_lambda = variant, clip, gp_lambda

    @property
    def critic(self):
        """The discriminator, by its WGAN name."""
        return self.discriminator


def build(p: dict, shape: Shape) -> WGAN:
    return WGAN(shape.input_shape, shape.num_classes, p["latent"], p["conditional"], p["variant"],
                p["lr_rmsprop"], p["lr_adam"], p["n_critic"], p["clip"], p["gp_lambda"])


SPEC = register(ModelSpec(
    name="wgan",
    title="WGAN (weight clipping or gradient penalty)",
    description="The DCGAN's generator and its discriminator as a critic (no sigmoid, no dropout) trained to "
                "estimate the Wasserstein distance: n_critic critic steps per generator step, the critic kept "
                "Lipschitz by weight clipping (RMSprop, lr 5e-5) or a gradient penalty (WGAN-GP: Adam lr 1e-4, "
                "betas 0 and 0.9). The curves show the critic's estimate; the training lr and optimizer are not used.",
    capabilities=Capabilities(inputs=("image",), generator=True),
    params=(
        Param("latent", "int", 64, "size of the noise vector z", low=2, high=128),
        Param("variant", "choice", "clip", "how the critic is kept 1-Lipschitz: 'clip' clips its weights "
              "(the WGAN paper), 'gp' penalises its gradient norm on interpolates (WGAN-GP)", choices=VARIANTS),
        Param("n_critic", "int", 5, "critic steps per generator step", low=1, high=10),
        Param("lr_rmsprop", "float", 5e-5, "learning rate of both nets (RMSprop, the paper's optimiser with clipping)",
              low=1e-6, high=1e-2, log=True, when={"variant": ("clip",)}),
        Param("clip", "float", 0.01, "every critic weight is clipped to [-clip, clip] after each critic step",
              low=1e-3, high=0.1, log=True, when={"variant": ("clip",)}),
        Param("lr_adam", "float", 1e-4, "learning rate of both nets (Adam, betas 0.0 and 0.9, as in WGAN-GP)",
              low=1e-6, high=1e-2, log=True, when={"variant": ("gp",)}),
        Param("gp_lambda", "float", 10.0, "weight of the gradient penalty (||grad|| - 1)^2",
              low=0.1, high=100.0, log=True, when={"variant": ("gp",)}),
        Param("conditional", "bool", False, "condition both nets on the class label, so a digit can be asked for"),
    ),
    build=build,
    check=check,
    objective="wgan",
))
