"""A person's own image folders kept as datasets: saved by content hash, found by name in any process.

As engine/data/saved_points.py does for points: `save_images` writes <data dir>/images/<sha12>.npz
(the 224 x 224 RGB images as uint8, their labels, the class names) and <sha12>.json (where they came
from, counts, the files skipped), atomically and never overwritten; the same images saved twice are
one dataset, "images-<sha12>". Nothing deletes them, so a run trained on them opens again later.

They register as a family of image datasets with a stratified train/validation split and its seed
as options: every class keeps at least one image on each side.
"""
from __future__ import annotations

import functools
import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import torch

from engine.core.params import Param
from engine.core.paths import data_dir as default_data_dir, write_once
from engine.data.base import Dataset, DatasetInfo, register_family
from engine.core.uploads import UploadError
from engine.data.image_folders import IMAGE_SIZE, ImageSet, ImagesError, read_archive, read_folder

PREFIX = "images-"
FOLDER = "images"
_NAME = re.compile(r"images-([0-9a-f]{12})")
INPUT_SHAPE = (3, IMAGE_SIZE, IMAGE_SIZE)
OPTIONS = (
    Param("val_fraction", "float", 0.2, "share of each class's images kept for validation (at least one)",
          low=0.1, high=0.5),
    Param("seed", "int", 0, "random seed of the train/validation split", low=0, high=2**31 - 1, label="data seed"),
)

_OTHER_DIRS: list[str] = []  # data dirs besides the default that this process saved into


def look_in(data_dir) -> None:
    """Also find saved image sets in this data dir (the default one is always searched)."""
    if data_dir is not None and str(data_dir) not in _OTHER_DIRS:
        _OTHER_DIRS.append(str(data_dir))


def images_folder(data_dir=None) -> Path:
    return default_data_dir(data_dir) / FOLDER


def _folders(data_dir=None) -> list[Path]:
    """Where to look: the given data dir's folder first, then the default one, then the others."""
    return list(dict.fromkeys(images_folder(d) for d in (data_dir, None, *_OTHER_DIRS)))


def _digest(name: str) -> str:
    match = _NAME.fullmatch(name)
    if match is None:
        raise ValueError(f"unknown dataset {name!r}: saved image sets are named {PREFIX} and 12 hex digits")
    return match.group(1)


def _find(name: str, data_dir=None) -> Path | None:
    digest = _digest(name)
    return next((f / f"{digest}.npz" for f in _folders(data_dir) if (f / f"{digest}.npz").is_file()), None)


# ---- saving ----------------------------------------------------------------------------------------------
def save_images(images: ImageSet, data_dir=None) -> str:
    """Keep the images as a dataset; returns its name. Saving the same images again changes nothing."""
    look_in(data_dir)
    buffer = io.BytesIO()
    np.savez(buffer, images=images.images, labels=images.labels, classes=np.array(images.classes))
    content = buffer.getvalue()
    digest = hashlib.sha256(content).hexdigest()[:12]
    folder = images_folder(data_dir)
    folder.mkdir(exist_ok=True)
    write_once(folder / f"{digest}.npz", content)
    meta = {"source": images.source, "images": len(images), "classes": list(images.classes),
            "class_counts": images.class_counts(), "skipped": list(images.skipped)}
    write_once(folder / f"{digest}.json", json.dumps(meta, indent=1).encode("utf-8"))
    return PREFIX + digest


def save_source(path: str, data_dir=None, log=print) -> str:
    """A folder (or a .zip) of images, one sub-folder per class, read and saved as a dataset; its name.
    A bad one: ValueError naming it (the skipped files are logged, not fatal)."""
    try:
        images = read_folder(path) if Path(path).is_dir() else read_archive(path, Path(path).name)
    except (ImagesError, UploadError) as err:
        raise ValueError(f"{path}: {err}") from None
    except OSError as err:
        raise ValueError(f"{path}: cannot be read ({err.strerror or err})") from None
    for line in images.skipped:
        log(f"skipped {line}")
    name = save_images(images, data_dir)
    counts = ", ".join(f"{c} {n}" for c, n in zip(images.classes, images.class_counts()))
    log(f"{path}: {len(images):,} images in {len(images.classes)} classes ({counts}), "
        f"{len(images.skipped)} file(s) skipped, saved as dataset {name}")
    return name


def saved_names(data_dir=None) -> list[str]:
    """Every saved image set found, the newest first."""
    found = {}
    for folder in _folders(data_dir):
        for path in folder.glob("*.npz") if folder.is_dir() else ():
            if re.fullmatch(r"[0-9a-f]{12}", path.stem):
                found.setdefault(PREFIX + path.stem, path.stat().st_mtime)
    return sorted(found, key=found.get, reverse=True)


def meta(name: str, data_dir=None) -> dict:
    """What the JSON beside a saved set says (source, counts, skipped files); {} when it is gone."""
    path = _find(name, data_dir)
    try:
        return json.loads(path.with_suffix(".json").read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return {}


# ---- reading ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _arrays(path: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    with np.load(path) as f:
        return f["images"], f["labels"], tuple(str(c) for c in f["classes"])


def _split(labels: np.ndarray, options: dict) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and validation images: per class a seeded shuffle, the first
    round(n x val_fraction) (at least 1, at most n - 1) to validation."""
    rng = np.random.default_rng(options["seed"])
    train, val = [], []
    for c in range(int(labels.max()) + 1):
        members = rng.permutation(np.flatnonzero(labels == c))
        cut = min(max(int(round(len(members) * options["val_fraction"])), 1), len(members) - 1)
        val.append(members[:cut])
        train.append(members[cut:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def info(name: str, data_dir=None) -> DatasetInfo:
    path = _find(name, data_dir)
    if path is None:
        return DatasetInfo(name, f"Your images {_digest(name)} (removed)", "image", INPUT_SHAPE, ("class 0", "class 1"),
                           "Images saved earlier and removed since.", params=OPTIONS, available=False,
                           hint=f"its file {_digest(name)}.npz is no longer in {images_folder(data_dir)}: "
                                "upload the archive again")
    about = meta(name, data_dir)
    if "classes" not in about:
        _, labels, classes = _arrays(str(path))
        about = {"source": "images", "images": len(labels), "classes": classes,
                 "class_counts": np.bincount(labels).tolist()}
    counts = ", ".join(f"{c} {n}" for c, n in zip(about["classes"], about["class_counts"]))
    return DatasetInfo(name, f"Your images: {about['source']} ({about['images']:,} images, "
                             f"{len(about['classes'])} classes)", "image", INPUT_SHAPE, tuple(about["classes"]),
                       f"{about['images']:,} photos of your own at 224 x 224 ({counts}).", params=OPTIONS)


def load(name: str, options: dict, data_dir) -> Dataset:
    path = _find(name, data_dir)
    if path is None:
        raise ValueError(info(name, data_dir).hint)
    images, labels, _ = _arrays(str(path))
    train, val = _split(labels, options)

    def tensors(index):
        x = torch.from_numpy(images[index]).permute(0, 3, 1, 2).float().div_(255.0)
        return x.contiguous(), torch.from_numpy(labels[index])
    return Dataset(info(name, data_dir), *tensors(train), *tensors(val), options=options)


def train_size(name: str, options: dict, data_dir=None) -> int | None:
    path = _find(name, data_dir)
    if path is None:
        return None
    counts = meta(name, data_dir).get("class_counts") or np.bincount(_arrays(str(path))[1]).tolist()
    return sum(n - min(max(int(round(n * options["val_fraction"])), 1), n - 1) for n in counts)


register_family(PREFIX, saved_names, info, load, train_size)
