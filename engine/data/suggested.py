"""Suggested settings per dataset: a model and the settings that reach a good fit quickly on a small
CPU (TensorFlow Playground fits its sets in seconds; a newcomer should not guess sliders for
minutes). The Training page applies them when a dataset is chosen; tests hold each one's figure.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Suggestion:
    model: str
    values: dict            # model params and training settings, as `validate` takes them
    dataset_options: dict = field(default_factory=dict)
    reaches: str = ""       # what it reaches, in words, e.g. ">= 0.95 validation accuracy in ~5 s"


SUGGESTED: dict[str, Suggestion] = {
    "spiral": Suggestion("mlp", {"activation": "relu", "width": 128, "depth": 3, "lr": 0.003, "batch_size": 16,
                                 "epochs": 105}),
}


def suggested(dataset: str) -> Suggestion | None:
    """The suggested settings for a dataset (None: it has none)."""
    return SUGGESTED.get(dataset)
