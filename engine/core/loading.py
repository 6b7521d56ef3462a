"""One way to open a run: `load_run(store, run_id)` gives its model (eval mode, on the device), its
data, its config and the epoch loaded, for every page, CLI verb, test and benchmark.

A run is rebuilt from the plain values stored with it (registry.run_config: never validated again,
so an old run still opens after a slider range narrows) and the weights of one saved epoch. Every
problem (no such run, a run of the wrong kind, no checkpoint yet, a missing epoch, a damaged file)
is a RunLoadError whose message says what to do, worded the same for every caller. The shipped
default MNIST CNN (assets/, engine.core.pretrained) opens the same way, as the source "default".
"""
from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

import torch
from torch import nn

import engine.models  # noqa: F401  (a stored run may be of any built-in model)
from engine.core import pretrained
from engine.core.device import default_device, pick_device
from engine.core.numbers import parse_whole
from engine.core.params import ParamError
from engine.core.registry import ModelSpec, RunConfig, Shape, get_spec, run_config, specs_with
from engine.core.runs import Run, RunStore
from engine.data import Dataset, load_dataset

DEFAULT = "default"  # the source name of the shipped MNIST CNN

# How a message names a model with each capability, and why the caller needs one.
NEEDS = {
    "conv_classifier": ("a CNN", "saliency maps need convolution layers"),
    "generator": ("a generative model", "the latent space needs a decoder"),
    "encoder": ("a VAE", "encoding images needs an encoder"),
    "attention_maps": ("a sequence model with attention", "attention maps come from its attention layers"),
    "hidden_states": ("a recurrent model", "the Recurrent view steps its cell by hand"),
}


class RunLoadError(ValueError):
    """A run that cannot be opened; the message says why and what to do."""


@dataclass
class LoadedRun:
    """An opened run: what every inspection, page and CLI verb needs of it."""
    model: nn.Module     # eval mode, on the device asked for
    data: Dataset        # its dataset (the val split is the test set)
    config: RunConfig
    run: Run | None      # None for the shipped default
    epoch: int | None    # the checkpoint loaded (None for the shipped default)
    title: str           # "Run 3: cnn on mnist", "Default MNIST CNN (assets/)"

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(self.data.info.classes)

    @property
    def device(self) -> torch.device:
        param = next(self.model.parameters(), None)
        return param.device if param is not None else torch.device("cpu")


def load_run(store: RunStore | None, run_id: int | str, epoch: int | None = None,
             device: torch.device | str | None = None, data_dir=None, need: str | None = None,
             shared: bool = False) -> LoadedRun:
    """Open run `run_id` (or "default") at `epoch` (the latest when None) on `device` (the default
    device when None), its data from `data_dir` (the default data dir when None).

    `need`: a capability the caller needs (e.g. "generator"); a run without it is refused.
    `shared`: the one copy of this (run, epoch, device) every caller shares, cached (checkpoints
    never change once written): frozen, never train it or add hooks to it. Without it, a private copy.
    Raises RunLoadError with what to do."""
    device = default_device() if device is None else pick_device(device) if isinstance(device, str) else device
    data_dir = None if data_dir is None else str(data_dir)
    if str(run_id) == DEFAULT:
        if need is not None:
            _require(pretrained_spec(), need, "the default model")
        return _shared_default(str(device), data_dir) if shared else _load_default(device, data_dir)
    run, epochs = _open(store, run_id, need)
    if epoch is None:
        epoch = epochs[-1]
    elif epoch not in epochs:
        raise RunLoadError(f"run {run.id} has no checkpoint for epoch {epoch}; saved epochs: {epochs}")
    if shared:
        return _shared_run(str(store.root), run.id, epoch, str(device), data_dir)
    return _load(store, run, epoch, device, data_dir)


def run_problem(store: RunStore, run_id: int | str, need: str | None = None) -> str | None:
    """Why `run_id` cannot be opened (no such run, wrong kind, no checkpoint yet), or None; loads nothing."""
    try:
        _open(store, run_id, need)
    except RunLoadError as err:
        return str(err)
    return None


def runs_with(store: RunStore, capability: str, saved: bool = False) -> list[Run]:
    """Runs of the registered models that have `capability`, newest first; with `saved`, only those
    with at least one checkpoint."""
    names = {spec.name for spec in specs_with(capability)}
    return [run for run in store.list_runs() if run.model in names
            and (not saved or store.checkpoint_epochs(run.id))]


def pretrained_spec() -> ModelSpec:
    """The spec of the shipped default model (read from its file's metadata)."""
    return get_spec(_default_meta()["config"]["model"])


# ---- the checks ----------------------------------------------------------------------------------
def _open(store: RunStore | None, run_id, need: str | None) -> tuple[Run, list[int]]:
    """The run and its saved epochs, or RunLoadError saying why it cannot be opened."""
    try:  # typed text is read as every typed integer is (numbers.py): int() would take "٣" for 3
        run_id = parse_whole(run_id, "a run id", low=None, high=None) if isinstance(run_id, str) \
            else operator.index(run_id)
    except (ParamError, TypeError):
        raise RunLoadError(f"{run_id!r} is neither a run id nor {DEFAULT!r}") from None
    if store is None:
        raise RunLoadError("no run store to open runs from")
    try:
        run = store.get_run(run_id)
    except KeyError:
        raise RunLoadError(f"there is no run {run_id}; `python -m engine runs list` lists the runs") from None
    try:
        spec = get_spec(run.model)
    except ParamError:
        raise RunLoadError(f"run {run_id} is a {run.model!r} run, which no registered model builds: "
                           "open it on the page that made it") from None
    _require(spec, need, f"run {run_id}")
    epochs = store.checkpoint_epochs(run_id)
    if not epochs:
        raise RunLoadError(f"run {run_id} has no checkpoint yet (status {run.status}): its first epoch has "
                           "not finished, or its files were removed")
    return run, epochs


def _require(spec: ModelSpec, need: str | None, what: str) -> None:
    if need is None or spec.can(need):
        return
    noun, why = NEEDS.get(need, (f"a model with {need}", f"this needs {need}"))
    names = ", ".join(s.name for s in specs_with(need)) or "none is registered"
    raise RunLoadError(f"{what} is a {spec.title}, not {noun}: {why} (models that have it: {names})")


# ---- building ------------------------------------------------------------------------------------
def _model(config: RunConfig, data: Dataset, state: dict, device: torch.device, what: str,
           damaged: str) -> nn.Module:
    """The config's model with the weights in `state`, in eval mode on `device`. Built from the
    loaded data's description: a sequence task's vocabulary depends on its options."""
    info = data.info
    model = get_spec(config.model).build(config.model_params,
                                         Shape(tuple(info.input_shape), len(info.classes), info.kind))
    try:
        model.load_state_dict(state)
    except Exception as err:  # tensors that do not fit the model
        raise RunLoadError(f"{what} is damaged and cannot be loaded ({type(err).__name__}: "
                           f"{str(err)[:200]}){damaged}") from None
    return model.to(device).eval()


def _load(store: RunStore, run: Run, epoch: int, device: torch.device, data_dir) -> LoadedRun:
    what = f"the checkpoint of run {run.id}, epoch {epoch}"
    others = [e for e in store.checkpoint_epochs(run.id) if e != epoch]
    damaged = f"; other epochs: {others or 'none'}"
    try:
        config = run_config(run.params)
    except (ParamError, ValueError) as err:  # a dataset this install no longer has
        raise RunLoadError(f"run {run.id} cannot be rebuilt here: {err}") from None
    try:
        state = store.load_checkpoint(run.id, epoch)
    except FileNotFoundError:  # removed since its epochs were listed
        raise RunLoadError(f"run {run.id} has no checkpoint for epoch {epoch}; saved epochs: "
                           f"{store.checkpoint_epochs(run.id)}") from None
    except Exception as err:  # safetensors' own errors: a torn or overwritten file
        raise RunLoadError(f"{what} is damaged and cannot be loaded ({type(err).__name__}: "
                           f"{str(err)[:200]}){damaged}") from None
    try:
        data = _data(config, data_dir)
    except ValueError as err:  # its data is gone (a person's saved points, removed since)
        raise RunLoadError(f"run {run.id} cannot be rebuilt here: {err}") from None
    model = _model(config, data, state, device, what, damaged)
    return LoadedRun(model, data, config, run, epoch, f"Run {run.id}: {run.model} on {run.dataset}")


def _data(config: RunConfig, data_dir) -> Dataset:
    # The stored options as they are: checked when the run was made, never against today's ranges.
    return load_dataset(config.dataset, config.dataset_options, data_dir=data_dir, checked=False)


def _default_meta() -> dict:
    try:
        return pretrained.read_metadata(pretrained.DEFAULT_CNN)
    except (FileNotFoundError, ValueError) as err:
        raise RunLoadError(str(err)) from None


def _load_default(device: torch.device, data_dir) -> LoadedRun:
    from safetensors.torch import load_file
    path = pretrained.DEFAULT_CNN
    config = run_config(_default_meta()["config"])
    fix = ": recreate it with `python -m engine pretrain`"
    try:
        state = load_file(str(path), device="cpu")
    except Exception as err:
        raise RunLoadError(f"{path} is damaged ({err}){fix}") from None
    data = _data(config, data_dir)
    model = _model(config, data, state, device, str(path), fix)
    return LoadedRun(model, data, config, None, None, "Default MNIST CNN (assets/)")


def _frozen(loaded: LoadedRun) -> LoadedRun:
    for p in loaded.model.parameters():
        p.requires_grad_(False)
    return loaded


@functools.lru_cache(maxsize=8)
def _shared_run(root: str, run_id: int, epoch: int, device: str, data_dir: str | None) -> LoadedRun:
    store = RunStore(root)
    return _frozen(_load(store, store.get_run(run_id), epoch, torch.device(device), data_dir))


@functools.lru_cache(maxsize=4)
def _shared_default(device: str, data_dir: str | None) -> LoadedRun:
    return _frozen(_load_default(torch.device(device), data_dir))
