"""Dataset descriptions and the registry of offline datasets."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch

from engine.core.params import Param, resolve


@dataclass(frozen=True)
class DatasetInfo:
    """A cheap description of a dataset: nothing is loaded."""
    name: str
    title: str
    kind: str                      # "image" | "points"
    input_shape: tuple
    classes: tuple[str, ...]
    description: str
    params: tuple[Param, ...] = ()  # load options (the 2D sets: size, noise, split, seed)
    available: bool = True
    hint: str = ""                 # how to get it when it is not available
    # What a model learns from it: "classification" (labels are class indices into `classes`) or
    # "regression" (labels are float32 values; `classes` names the one output, e.g. ("value",)).
    task: str = "classification"

    @property
    def num_classes(self) -> int:
        return len(self.classes)


@dataclass
class Dataset:
    """Loaded tensors. Images are float32 (N, C, H, W) in [0, 1]; points float32 (N, 2); labels int64
    (a regression set's: float32 values).

    Image sets (MNIST, digits, Fashion-MNIST) hand out tensors cached for the whole process and
    shared by every caller: never modify them in place (clone first). The 2D sets are fresh.
    """
    info: DatasetInfo
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    options: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    @property
    def train_size(self) -> int:
        return len(self.x_train)

    @property
    def val_size(self) -> int:
        return len(self.x_val)


@dataclass(frozen=True)
class _Entry:
    info: Callable[[], DatasetInfo]          # called each time: availability can change
    load: Callable[[dict, object], Dataset]  # (resolved options, data_dir) -> Dataset
    train_size: Callable[[dict], int]


_DATASETS: dict[str, _Entry] = {}


def register(name: str, info, load, train_size) -> None:
    _DATASETS[name] = _Entry(info, load, train_size)


def _entry(name: str) -> _Entry:
    try:
        return _DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(_DATASETS)}") from None


def list_datasets(include_unavailable: bool = False) -> list[DatasetInfo]:
    infos = [entry.info() for entry in _DATASETS.values()]
    return [i for i in infos if i.available or include_unavailable]


def get_info(name: str) -> DatasetInfo:
    return _entry(name).info()


def train_size(name: str, options: dict | None = None) -> int:
    """Training examples for these options, without loading anything."""
    info = get_info(name)
    return _entry(name).train_size(resolve(info.params, options))


def load_dataset(name: str, options: dict | None = None, data_dir=None, checked: bool = True) -> Dataset:
    """Load a dataset; bad options raise ParamError, a missing one ValueError with its hint.
    `checked=False`: the complete options of a stored run, used as they are (a range narrowed
    since the run was made must not make it unopenable)."""
    entry = _entry(name)
    info = entry.info()
    if not info.available:
        raise ValueError(f"dataset {name!r} is not installed here: {info.hint}")
    return entry.load(resolve(info.params, options) if checked else dict(options), data_dir)
