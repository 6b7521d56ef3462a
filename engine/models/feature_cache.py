"""A frozen backbone's features, computed once per dataset and cached by content hash in the data dir.

With the backbone frozen, its output for an image never changes: computing it every epoch would
spend nearly all the training time on the same numbers. The key is the SHA-256 of the images and
labels themselves, the backbone's name and the augmentation settings, so any run on the same data
(a rerun, another learning rate, another head) finds the features at once, and changed data can
never match a stale file. Files are `<data dir>/features/<key>.pt`, written atomically; deleting
the folder only costs the time to compute them again.
"""
from __future__ import annotations

import hashlib
import json
import os

import torch

from engine.core.paths import data_dir as default_data_dir
from engine.data.augment import augment
from engine.data.base import Dataset
from engine.models import imagenet

FOLDER = "features"
BATCH = 32  # images through the backbone at a time
VERSION = 1  # bump when the way features are computed changes: old files are then never read


def cache_key(model, data: Dataset) -> str:
    digest = hashlib.sha256()
    settings = {"backbone": imagenet.NAME, "version": VERSION, "copies": model.aug_copies,
                "flip": model.flips, "crop": model.crops, "jitter": model.jitter}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for tensor in (data.x_train, data.y_train, data.x_val, data.y_val):
        digest.update(str((tuple(tensor.shape), tensor.dtype)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


@torch.inference_mode()
def compute_features(model, images: torch.Tensor, device: torch.device, copy: int | None = None) -> torch.Tensor:
    """The backbone's features of `images` (on the CPU), BATCH at a time; with `copy`, of an augmented
    copy of them drawn from a generator seeded by the copy's number (the same copy every time)."""
    generator = torch.Generator().manual_seed(copy) if copy is not None else None
    was_training = model.training
    model.eval()
    try:
        out = []
        for start in range(0, len(images), BATCH):
            x = images[start:start + BATCH].to(device)
            if generator is not None:
                x = augment(x, model.flips, model.crops, model.jitter, generator)
            out.append(model.features(x).float().cpu())
        return torch.cat(out) if out else torch.zeros(0, 1280)
    finally:
        model.train(was_training)


def feature_dataset(model, data: Dataset, device: torch.device, data_dir=None) -> Dataset:
    """`data` with each image replaced by its features: the training images, then `aug_copies`
    augmented copies of them (labels repeated), and the validation images (never augmented)."""
    folder = default_data_dir(data_dir) / FOLDER
    path = folder / f"{cache_key(model, data)}.pt"
    if path.is_file():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            return Dataset(data.info, saved["x_train"], saved["y_train"], saved["x_val"], data.y_val,
                           options=data.options)
        except Exception:  # a damaged file: compute again and replace it
            pass
    x_train = [compute_features(model, data.x_train, device)]
    x_train += [compute_features(model, data.x_train, device, copy) for copy in range(1, model.aug_copies + 1)]
    saved = {"x_train": torch.cat(x_train), "y_train": data.y_train.repeat(1 + model.aug_copies),
             "x_val": compute_features(model, data.x_val, device)}
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(saved, tmp)
    os.replace(tmp, path)
    return Dataset(data.info, saved["x_train"], saved["y_train"], saved["x_val"], data.y_val, options=data.options)
