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
    train_size: Callable[[dict], int | None]  # None: not known (a saved set that is gone)


@dataclass(frozen=True)
class _Family:
    """Datasets made at run time and kept on disk (a person's own points): not known at import."""
    prefix: str
    names: Callable[[], list[str]]                # the ones there are now
    info: Callable[..., DatasetInfo]              # (name, data_dir) -> info; ValueError: not one of them
    load: Callable[[str, dict, object], Dataset]  # (name, options, data_dir) -> Dataset
    train_size: Callable[..., int | None]         # (name, options, data_dir) -> training examples


_DATASETS: dict[str, _Entry] = {}
_FAMILIES: list[_Family] = []


def register(name: str, info, load, train_size) -> None:
    _DATASETS[name] = _Entry(info, load, train_size)


def register_family(prefix: str, names, info, load, train_size) -> None:
    """Datasets whose names start with `prefix` and that are found on disk by name when asked for,
    so every process (a run's own included) finds one saved after it started."""
    _FAMILIES[:] = [f for f in _FAMILIES if f.prefix != prefix] + [_Family(prefix, names, info, load, train_size)]


def _entry(name: str, data_dir=None) -> _Entry:
    """A dataset's entry; a family's is looked up in `data_dir` first (None: the default data dir)."""
    if name in _DATASETS:
        return _DATASETS[name]
    for family in _FAMILIES:
        if name.startswith(family.prefix):
            family.info(name, data_dir)  # raises ValueError for a name that is not one of them
            return _Entry(lambda: family.info(name, data_dir),
                          lambda options, where: family.load(name, options, where),
                          lambda options: family.train_size(name, options, data_dir))
    raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(_DATASETS)}")


def list_datasets(include_unavailable: bool = False) -> list[DatasetInfo]:
    infos = [entry.info() for entry in _DATASETS.values()]
    infos += [family.info(name) for family in _FAMILIES for name in family.names()]
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
    entry = _entry(name, data_dir)
    info = entry.info()
    if not info.available:
        raise ValueError(f"dataset {name!r} is not installed here: {info.hint}")
    return entry.load(resolve(info.params, options) if checked else dict(options), data_dir)
