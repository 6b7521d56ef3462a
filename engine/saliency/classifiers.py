"""Image classifiers to look inside: the shipped default CNN or any run of a conv classifier.

Every model whose spec declares `conv_classifier` is offered; each opens through
engine.core.loading.load_run(store, source, need="conv_classifier"), so a missing run, a run of
another kind, or a missing or damaged checkpoint gives the same clear message everywhere.
"""
from __future__ import annotations

from engine.core.loading import DEFAULT, runs_with
from engine.core.runs import Run, RunStore
from engine.data import get_info

__all__ = ["DEFAULT", "NEED", "cnn_runs"]

NEED = "conv_classifier"  # the capability saliency needs (Grad-CAM weighs conv feature maps)


def cnn_runs(store: RunStore) -> list[Run]:
    """Runs of conv classifiers on image data that have at least one checkpoint, newest first."""
    runs = []
    for run in runs_with(store, NEED, saved=True):
        try:
            if get_info(run.dataset).kind == "image":
                runs.append(run)
        except ValueError:  # a dataset this install no longer has
            continue
    return runs
