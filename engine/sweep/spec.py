"""What a sweep tries: the fixed settings of its runs, the values or ranges it varies, how it searches.

The names and values are those of `train` (`--set width=16`, `--lr 0.01`): a value is checked by
engine.core.registry.validate, the same call `train` makes, so a bad name or an out-of-range value
gets the same message. Grid values are coerced by their Param; a range (`lr=1e-4:1`) is sampled
log-uniformly when its Param is a log slider (learning rate, width), uniformly otherwise.

Searches (Ray Tune's search space, engine/sweep/tune_space.py):
    grid     every combination of the --grid values (no ranges)
    random   --trials samples: --grid values picked at random, --random ranges sampled
    tpe      the same space, proposed by Optuna's TPE sampler from the trials so far
"""
from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.core.params import Param, ParamError
from engine.core.registry import TRAINING_PARAMS, RunConfig, get_spec, validate

SEARCHES = ("grid", "random", "tpe")
PRUNERS = ("asha", "median")
MAX_TRIALS = 10_000
DEFAULT_TRIALS = 10  # random / tpe, when --trials is not given


@dataclass(frozen=True)
class SweepSpec:
    model: str
    dataset: str
    values: dict[str, Any]                 # settings every trial shares (train's --set and flags)
    options: dict[str, Any]                # dataset options (train's --option)
    grid: dict[str, list] = field(default_factory=dict)                  # name -> values, coerced
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> (low, high)
    search: str = "grid"
    trials: int = 1                        # samples (random, tpe); a grid's size for a grid
    metric: str = "val_acc"
    mode: str = "max"
    prune: str | None = None               # "asha" | "median" | None
    parallel: int | None = None            # trials at once (None: the cores, or the GPUs)
    address: str | None = None             # a running Ray cluster (None: an embedded local Ray)
    device: str | None = None

    def as_dict(self) -> dict:
        return {**asdict(self), "ranges": {k: list(v) for k, v in self.ranges.items()}}

    @classmethod
    def from_dict(cls, data: dict) -> "SweepSpec":
        data = dict(data)
        data["ranges"] = {k: tuple(v) for k, v in data.get("ranges", {}).items()}
        return cls(**data)

    @property
    def varied(self) -> list[str]:
        """The names of the settings it varies, grid first."""
        return list(self.grid) + list(self.ranges)

    @property
    def epochs(self) -> int:
        return self.base_config().training["epochs"]

    def base_config(self) -> RunConfig:
        """The config of a trial at the first grid values and the low end of each range."""
        return validate(self.model, self.dataset, {**self.values, **{k: v[0] for k, v in self.grid.items()},
                                                   **{k: lo for k, (lo, _) in self.ranges.items()}}, self.options)

    def trial_config(self, varied: dict[str, Any]) -> RunConfig:
        """One trial's validated config: the shared settings with its values."""
        return validate(self.model, self.dataset, {**self.values, **varied}, self.options)


def parse_grid(pairs: list[str]) -> dict[str, list[str]]:
    """["lr=1e-3,1e-2", "width=4,16"] -> {"lr": ["1e-3", "1e-2"], "width": ["4", "16"]}."""
    grid: dict[str, list[str]] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        values = [v.strip() for v in text.split(",") if v.strip()]
        if not sep or not name.strip() or not values:
            raise ParamError(f"--grid expects name=value,value,..., got {pair!r}")
        grid[name.strip()] = values
    return grid


def parse_ranges(pairs: list[str]) -> dict[str, tuple[str, str]]:
    """["lr=1e-4:1"] -> {"lr": ("1e-4", "1")}."""
    ranges: dict[str, tuple[str, str]] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        low, colon, high = text.partition(":")
        if not sep or not colon or not name.strip() or not low.strip() or not high.strip():
            raise ParamError(f"--random expects name=low:high, got {pair!r}")
        ranges[name.strip()] = (low.strip(), high.strip())
    return ranges


def param_of(model: str, name: str) -> Param | None:
    """The Param of a model or training setting called `name` (None: no such setting)."""
    return next((p for p in (*get_spec(model).params, *TRAINING_PARAMS) if p.name == name), None)


def _coerced(config: RunConfig, name: str) -> Any:
    return config.training[name] if name in config.training else config.model_params[name]


def default_metric(dataset: str) -> tuple[str, str]:
    """(metric, mode) a sweep ranks its trials by: validation accuracy, or a regression's validation loss."""
    from engine.data import get_info
    return ("val_loss", "min") if get_info(dataset).task == "regression" else ("val_acc", "max")


def make_spec(model: str, dataset: str, values: dict[str, Any], options: dict[str, Any],
              grid: dict[str, list] | None = None, ranges: dict[str, tuple] | None = None,
              search: str | None = None, trials: int | None = None, metric: str | None = None,
              mode: str | None = None, prune: str | None = None, parallel: int | None = None,
              address: str | None = None, device: str | None = None) -> SweepSpec:
    """A checked SweepSpec; ParamError with what is wrong (train's messages for names and values)."""
    import engine.models  # noqa: F401  (registers the built-in models)

    grid, ranges = dict(grid or {}), dict(ranges or {})
    search = search or ("random" if ranges else "grid")
    if search not in SEARCHES:
        raise ParamError(f"--search must be one of {', '.join(SEARCHES)}; got {search!r}")
    if not grid and not ranges:
        raise ParamError("nothing to sweep: give --grid name=v1,v2,... or --random name=low:high")
    if both := sorted(set(grid) & set(ranges)):
        raise ParamError(f"{', '.join(both)}: give each setting as --grid values or as a --random range, not both")
    if search == "grid" and ranges:
        raise ParamError("--random ranges are sampled: use --search random or --search tpe with them")
    if search == "grid" and trials is not None:
        raise ParamError("--trials is for --search random or tpe: a grid runs every combination once")
    if prune is not None and prune not in PRUNERS:
        raise ParamError(f"--prune must be one of {', '.join(PRUNERS)}; got {prune!r}")
    if parallel is not None and not 1 <= parallel <= 1024:
        raise ParamError(f"--parallel must be between 1 and 1024; got {parallel}")
    validate(model, dataset, values, options)  # the shared settings alone: train's messages

    checked_grid: dict[str, list] = {}
    for name, raw in grid.items():  # each value as `train --set name=value` would check it
        checked = [_coerced(validate(model, dataset, {**values, name: v}, options), name) for v in raw]
        checked_grid[name] = list(dict.fromkeys(checked))  # "0.1,1e-1" is one value
    checked_ranges: dict[str, tuple[float, float]] = {}
    for name, (low, high) in ranges.items():
        lo, hi = (_coerced(validate(model, dataset, {**values, name: v}, options), name) for v in (low, high))
        param = param_of(model, name)
        if param.kind not in ("int", "float"):
            raise ParamError(f"{name} is a {param.kind} setting: give its values with --grid {name}=a,b")
        if not lo < hi:
            raise ParamError(f"the range of {name} must go from low to high; got {low}:{high}")
        if param.log and lo <= 0:
            raise ParamError(f"{name} is sampled log-uniformly: its range must start above 0, not at {low}")
        checked_ranges[name] = (lo, hi)

    if search == "grid":
        names = list(checked_grid)
        combos = list(itertools.product(*checked_grid.values()))
        if len(combos) > MAX_TRIALS:
            raise ParamError(f"the grid has {len(combos):,} combinations; at most {MAX_TRIALS:,}")
        for combo in combos:  # cross-setting checks (batch size x accumulate, heads | d_model)
            validate(model, dataset, {**values, **dict(zip(names, combo))}, options)
        trials = len(combos)
    else:
        trials = DEFAULT_TRIALS if trials is None else trials
        if not 1 <= trials <= MAX_TRIALS:
            raise ParamError(f"--trials must be between 1 and {MAX_TRIALS:,}; got {trials}")
        for name, (lo, hi) in checked_ranges.items():  # both ends, with the first grid values
            for end in (lo, hi):
                validate(model, dataset, {**values, **{k: v[0] for k, v in checked_grid.items()}, name: end}, options)

    default_name, default_mode = default_metric(dataset)
    metric = metric or default_name
    mode = mode or (default_mode if metric == default_name else "min" if metric.endswith("loss") else "max")
    if mode not in ("max", "min"):
        raise ParamError(f"--mode must be max or min; got {mode!r}")
    return SweepSpec(model, dataset, dict(values), dict(options), checked_grid, checked_ranges, search, trials,
                     metric, mode, prune, parallel, address, device)
