"""A person's own points kept as datasets: saved by content hash, found by name in any process.

`save_points` writes <data dir>/points/<sha12>.csv (the points, already in the [-1, 1] square, in the
CSV format engine/data/custom_points.py reads) and <sha12>.json (where they came from, their count
and scale). Both are written atomically and never overwritten: the same points saved twice are one
dataset, "points-<sha12>". Nothing deletes them (`runs clean-up` deletes checkpoints only), so a run
trained on them opens again later; a run whose file was removed since gets a clear message instead.

They register as a family of datasets (engine/data/base.py `register_family`) of kind "points", with
a train/test split and its seed as options, so every 2D model trains on them and the run's own
process finds them by name. `load_points` hands out the points themselves (e.g. a GAN's target).
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import torch

from engine.core.params import Param
from engine.core.paths import data_dir as default_data_dir, write_once
from engine.data.base import Dataset, DatasetInfo, register_family
from engine.data.custom_points import DRAWN, PointSet, PointsError, parse_points_csv, to_csv

PREFIX = "points-"
FOLDER = "points"
_NAME = re.compile(r"points-([0-9a-f]{12})")
REGRESSION_CLASSES = ("value",)  # one output: the value to predict (as the Playground's regression sets)

UNKNOWN_CLASSES = ("class 0", "class 1")  # the names of a removed set's classes are gone with it
OPTIONS = (
    Param("train_fraction", "float", 0.5, "share of the points used for training", low=0.1, high=0.9),
    Param("seed", "int", 0, "random seed of the train/test split", low=0, high=2**31 - 1, label="data seed"),
)

# Data dirs besides the default that this process saved into or was told to look in (the CLI's --data-dir).
_OTHER_DIRS: list[str] = []


def look_in(data_dir) -> None:
    """Also find saved points in this data dir (the default one is always searched)."""
    if data_dir is not None and str(data_dir) not in _OTHER_DIRS:
        _OTHER_DIRS.append(str(data_dir))


def points_folder(data_dir=None) -> Path:
    return default_data_dir(data_dir) / FOLDER


def _folders(data_dir=None) -> list[Path]:
    """Where to look: the given data dir's folder first, then the default one, then the others."""
    return list(dict.fromkeys(points_folder(d) for d in (data_dir, None, *_OTHER_DIRS)))


def _digest(name: str) -> str:
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"unknown dataset {name!r}: saved points are named {PREFIX} and 12 hex digits")
    return match.group(1)


def _find(name: str, data_dir=None) -> Path | None:
    """The CSV of a saved set, in the first folder that has it."""
    digest = _digest(name)
    return next((f / f"{digest}.csv" for f in _folders(data_dir) if (f / f"{digest}.csv").is_file()), None)


# ---- saving ----------------------------------------------------------------------------------------
def save_points(points: PointSet, data_dir=None) -> str:
    """Keep the points as a dataset; returns its name. Saving the same points again changes nothing."""
    look_in(data_dir)
    content = to_csv(points)
    digest = hashlib.sha256(content).hexdigest()[:12]
    folder = points_folder(data_dir)
    folder.mkdir(exist_ok=True)
    write_once(folder / f"{digest}.csv", content)
    meta = {"source": clean_source(points.source), "points": len(points), "task": points.task,
            "classes": list(points.classes), "class_counts": list(points.class_counts()),
            "centre": list(points.centre), "scale": points.scale,
            "value_centre": points.value_centre, "value_scale": points.value_scale}
    write_once(folder / f"{digest}.json", json.dumps(meta, indent=1).encode("utf-8"))
    return PREFIX + digest


def clean_source(name: str) -> str:
    """A file name fit for titles and markdown: letters, digits, space, '.', '_' and '-' only, 60 at most."""
    base = re.split(r"[\\/]", name or "")[-1]
    return (re.sub(r"[^\w .-]", "-", base, flags=re.ASCII).strip() or "points")[:60]


# ---- reading ---------------------------------------------------------------------------------------
def load_points(name: str, data_dir=None) -> PointSet:
    """The saved points of dataset `name` (ValueError: not saved here, or removed since). Its arrays
    are shared by every caller and read-only: copy them to change them."""
    path = _find(name, data_dir)
    if path is None:
        raise ValueError(_gone(name, data_dir))
    return _read(str(path), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _read(path: str, mtime_ns: int) -> PointSet:
    """Files are never rewritten; the mtime in the key only guards against a hand-made copy."""
    meta = _meta(path)
    try:
        points = parse_points_csv(Path(path).read_bytes(), meta["source"], scale=False)
    except PointsError as err:
        raise ValueError(f"the saved points {path} are damaged ({err}): upload or draw them again") from None
    for shared in (points.xy, points.target):  # cached and handed to every caller: read-only
        shared.flags.writeable = False
    return PointSet(points.xy, points.target, points.task, points.classes, meta["source"],
                    tuple(meta.get("centre", (0.0, 0.0))), meta.get("scale", 1.0),
                    meta.get("value_centre", 0.0), meta.get("value_scale", 1.0))


def _meta(csv_path: str) -> dict:
    """The JSON beside a saved CSV; a missing or unreadable one leaves only what the CSV says."""
    try:
        meta = json.loads(Path(csv_path).with_suffix(".json").read_text(encoding="utf-8"))
        return meta if isinstance(meta, dict) else {}
    except (OSError, ValueError):
        return {}


def _gone(name: str, data_dir=None) -> str:
    return f"the points of dataset {name!r} were removed: {_gone_hint(name, data_dir)}"


def _gone_hint(name: str, data_dir=None) -> str:
    return (f"its file {_digest(name)}.csv is no longer in {points_folder(data_dir)}; upload the CSV or "
            "draw the points again")


def saved_names(data_dir=None) -> list[str]:
    """Every saved set found, the newest first."""
    found = {}
    for folder in _folders(data_dir):
        if folder.is_dir():
            for path in folder.glob("*.csv"):
                if re.fullmatch(r"[0-9a-f]{12}", path.stem):
                    found.setdefault(PREFIX + path.stem, path.stat().st_mtime)
    return sorted(found, key=found.get, reverse=True)


# ---- the dataset family ----------------------------------------------------------------------------
def info(name: str, data_dir=None) -> DatasetInfo:
    path = _find(name, data_dir)
    if path is None:
        return DatasetInfo(name, f"Your points {_digest(name)} (removed)", "points", (2,), UNKNOWN_CLASSES,
                           "Points saved earlier and removed since.", params=OPTIONS, available=False,
                           hint=_gone_hint(name, data_dir))
    meta = _meta(str(path))
    if "points" not in meta:  # the JSON is gone: read the CSV itself
        points = load_points(name, data_dir)
        meta = {"source": points.source, "points": len(points), "task": points.task,
                "classes": list(points.classes), "class_counts": list(points.class_counts())}
    count, source, task = meta["points"], meta["source"], meta["task"]
    title = (f"Your drawn points ({count:,} points)" if source == DRAWN else f"Your points: {source} ({count:,} points)")
    how = "drawn on the plane" if source == DRAWN else "from a CSV, scaled into the [-1, 1] square"
    if task == "classification":
        what = "two classes ({} and {} points)".format(*meta.get("class_counts", ("?", "?")))
    else:
        what = "a numeric value to predict (regression)"
    classes = tuple(meta["classes"]) if task == "classification" else REGRESSION_CLASSES
    return DatasetInfo(name, title, "points", (2,), classes,
                       f"{count:,} points of your own, {how}; {what}.", params=OPTIONS, task=task)


def load(name: str, options: dict, data_dir) -> Dataset:
    """The saved points split into training and test points, by the options' seed."""
    points = load_points(name, data_dir)
    order = np.random.default_rng(options["seed"]).permutation(len(points))
    x = torch.from_numpy(points.xy[order])
    y = torch.from_numpy(points.target[order])
    cut = _cut(len(points), options)
    return Dataset(info(name, data_dir), x[:cut], y[:cut], x[cut:], y[cut:], options=options)


def _cut(n: int, options: dict) -> int:
    """Training points: at least one on each side of the cut (a set has 10 points or more)."""
    return min(max(int(round(n * options["train_fraction"])), 1), n - 1)


def train_size(name: str, options: dict, data_dir=None) -> int | None:
    path = _find(name, data_dir)
    if path is None:
        return None
    count = _meta(str(path)).get("points")
    return _cut(count if isinstance(count, int) else len(load_points(name, data_dir)), options)


register_family(PREFIX, saved_names, info, load, train_size)
