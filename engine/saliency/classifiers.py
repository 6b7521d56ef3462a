"""Image classifiers to look inside: the shipped default CNN or any CNN run in the RunStore.

One loader for the saliency page and its CLI, so a missing run, a run of another kind, or a
missing or damaged checkpoint gives the same clear message everywhere.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.data import Dataset, get_info, load_dataset
from engine.core.registry import get_spec
from engine.core.runs import Run, RunStore

DEFAULT = "default"
CONV_MODELS = ("cnn", "resnet")  # registered models built from conv layers


@dataclass
class Classifier:
    model: nn.Module         # eval mode, a private copy (hooks may be added to it)
    data: Dataset            # its dataset (the val split is the test set)
    classes: tuple[str, ...]
    title: str
    epochs: list[int]        # checkpoint epochs available ([] for the default)
    epoch: int | None        # the one loaded


def cnn_runs(store: RunStore) -> list[Run]:
    """Runs of conv models on image data that have at least one checkpoint, newest first."""
    runs = []
    for run in store.list_runs():
        if run.model in CONV_MODELS and store.checkpoint_epochs(run.id):
            try:
                if get_info(run.dataset).kind == "image":
                    runs.append(run)
            except ValueError:  # a dataset this install no longer has
                continue
    return runs


def load_classifier(store: RunStore | None, source: int | str, epoch: int | None = None,
                    device: torch.device | str | None = None, data_dir=None) -> Classifier:
    """`source`: "default" or a run id. Raises ValueError / FileNotFoundError with what to do."""
    if str(source) == DEFAULT:
        from engine.core.pretrained import DEFAULT_CNN, load_pretrained
        model, config = load_pretrained(DEFAULT_CNN, device)
        data = load_dataset(config.dataset, config.dataset_options, data_dir=data_dir)
        return Classifier(model, data, data.info.classes, "Default MNIST CNN (assets/)", [], None)

    from engine.core.trainer import build_model, run_config
    try:
        run_id = int(source)
    except (TypeError, ValueError):
        raise ValueError(f"{source!r} is neither a run id nor 'default'") from None
    if store is None:
        raise ValueError("no run store to open runs from")
    try:
        run = store.get_run(run_id)
    except KeyError:
        raise ValueError(f"there is no run {run_id}; `python -m engine runs list` lists the runs") from None
    if run.model not in CONV_MODELS:
        spec = get_spec(run.model)
        raise ValueError(f"run {run_id} is a {spec.title}, not a CNN: saliency needs convolution layers "
                         f"(train a cnn or resnet)")
    epochs = store.checkpoint_epochs(run_id)
    if not epochs:
        raise FileNotFoundError(f"run {run_id} has no checkpoint file (status {run.status}): "
                                "its first epoch has not finished, or its files were removed")
    if epoch is None:
        epoch = epochs[-1]
    elif epoch not in epochs:
        raise ValueError(f"run {run_id} has no checkpoint for epoch {epoch}; saved epochs: {epochs}")
    config = run_config(run.params)
    data = load_dataset(config.dataset, config.dataset_options, data_dir=data_dir)
    model = build_model(config, data)
    try:
        state = store.load_checkpoint(run_id, epoch)
        model.load_state_dict(state)
    except FileNotFoundError:
        raise
    except Exception as err:  # safetensors' errors, or tensors that do not fit the model
        raise ValueError(f"the checkpoint of run {run_id}, epoch {epoch} is damaged and cannot be loaded "
                         f"({type(err).__name__}: {str(err)[:200]}); other epochs: "
                         f"{[e for e in epochs if e != epoch] or 'none'}") from None
    model = model.to(device or "cpu").eval()
    title = f"Run {run_id}: {run.model} on {run.dataset}"
    return Classifier(model, data, data.info.classes, title, epochs, epoch)
