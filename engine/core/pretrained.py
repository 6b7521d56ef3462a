"""The default checkpoints that ship in assets/, made by the project's own `python -m engine pretrain`.

The saliency page opens on the default MNIST CNN, and the latent page scores GAN samples with it,
so both work on first launch with no training and no download. The checkpoint is one safetensors
file: the state_dict, with the run config and the measured test accuracy in its metadata. It opens
like a run: `engine.core.loading.load_run(None, "default")`.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DEFAULT_CNN = ASSETS / "mnist-cnn.safetensors"
# Small but accurate: 16 then 32 channels and a 64-wide dense layer (about 100k parameters,
# 0.4 MB); >= 98% test accuracy after three epochs. The two conv layers stay at 28x28 and 14x14,
# fine enough for Grad-CAM maps.
DEFAULT_CNN_SETTINGS = {"channels": 16, "dense": 64, "epochs": 3, "batch_size": 64, "lr": 1e-3, "seed": 0}
MIN_TEST_ACCURACY = 0.98


def save_pretrained(path: Path, state_dict: dict[str, torch.Tensor], config: dict, test_acc: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state_dict.items()}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata={"config": json.dumps(config), "test_acc": f"{test_acc:.6f}"})
    tmp.replace(path)
    return path


def read_metadata(path: Path = DEFAULT_CNN) -> dict:
    """{"config": run params as stored with a run, "test_acc": float}."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: create it with `python -m engine pretrain`")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as err:  # safetensors' own error types: say which file and what to do
        raise ValueError(f"{path} is damaged ({err}): recreate it with `python -m engine pretrain`") from None
    if "config" not in meta:
        raise ValueError(f"{path} has no run config in its metadata: recreate it with `python -m engine pretrain`")
    return {"config": json.loads(meta["config"]), "test_acc": float(meta.get("test_acc", "nan"))}
