"""How each model family learns: an Objective returns losses; the Trainer steps the optimisers.

A ModelSpec names its objective; `objective_for(spec)` finds it here.
"""
from __future__ import annotations

from engine.objectives.base import Objective
from engine.objectives.classification import CLASSIFICATION
from engine.objectives.gan import GAN_OBJECTIVE
from engine.objectives.gan2d import GAN2D_OBJECTIVE
from engine.objectives.sequences import COUNTING, SEQ2SEQ
from engine.objectives.vae import VAE_OBJECTIVE

OBJECTIVES: dict[str, Objective] = {o.name: o for o in (CLASSIFICATION, SEQ2SEQ, COUNTING, VAE_OBJECTIVE, GAN_OBJECTIVE,
                                                    GAN2D_OBJECTIVE)}


def objective_for(spec) -> Objective:
    """The Objective a ModelSpec names (or carries itself)."""
    if isinstance(spec.objective, Objective):
        return spec.objective
    try:
        return OBJECTIVES[spec.objective]
    except KeyError:
        raise ValueError(f"model {spec.name!r} names objective {spec.objective!r}; known: {', '.join(OBJECTIVES)}") from None
