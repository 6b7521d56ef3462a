"""How each model family learns: an Objective returns losses; the Trainer steps the optimisers.

A ModelSpec names its objective; `objective_for(spec, task)` finds it here (a classifier's network
on a regression dataset learns with the regression objective instead).
"""
from __future__ import annotations

from engine.objectives.base import Objective
from engine.objectives.classification import CLASSIFICATION
from engine.objectives.gan import GAN_OBJECTIVE
from engine.objectives.gan2d import GAN2D_OBJECTIVE
from engine.objectives.regression import REGRESSION
from engine.objectives.sequences import COUNTING, SEQ2SEQ
from engine.objectives.vae import VAE_OBJECTIVE
from engine.objectives.wgan import WGAN_OBJECTIVE

OBJECTIVES: dict[str, Objective] = {o.name: o for o in (CLASSIFICATION, REGRESSION, SEQ2SEQ, COUNTING,
                                                         VAE_OBJECTIVE, GAN_OBJECTIVE, GAN2D_OBJECTIVE,
                                                         WGAN_OBJECTIVE)}


def objective_for(spec, task: str = "classification") -> Objective:
    """The Objective a ModelSpec learns a dataset's task with (DatasetInfo.task): the one it names (or
    carries itself); for "regression", the regression objective when the spec can learn one
    (ModelSpec.learns), else ValueError (validate() has already said so in words)."""
    if task == "regression":
        if not spec.learns(task):
            raise ValueError(f"model {spec.name!r} cannot learn a regression (its objective is {spec.objective!r})")
        return REGRESSION
    if isinstance(spec.objective, Objective):
        return spec.objective
    try:
        return OBJECTIVES[spec.objective]
    except KeyError:
        raise ValueError(f"model {spec.name!r} names objective {spec.objective!r}; known: {', '.join(OBJECTIVES)}") from None
