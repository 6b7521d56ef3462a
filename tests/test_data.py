"""Offline datasets: shapes, class counts, determinism, availability and option validation."""
import gzip
import struct

import numpy as np
import pytest
import torch

from engine.data import get_info, list_datasets, load_dataset, train_size
from engine.core.params import ParamError

POINT_SETS = ["circle", "xor", "gaussians", "spiral"]


def test_listing_hides_unavailable_fashion(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEP_PLAYGROUND_FASHION_DIR", str(tmp_path / "absent"))
    names = [i.name for i in list_datasets()]
    assert names[:6] == ["mnist", "digits", "circle", "xor", "gaussians", "spiral"] and "fashion-mnist" not in names
    fashion = get_info("fashion-mnist")
    assert not fashion.available and fashion.hint == "sudo apt-get install dataset-fashion-mnist"
    assert "fashion-mnist" in [i.name for i in list_datasets(include_unavailable=True)]
    with pytest.raises(ValueError, match="not installed here: sudo apt-get install dataset-fashion-mnist"):
        load_dataset("fashion-mnist")


def test_mnist_from_package_converted_once(data_env):
    d = load_dataset("mnist")
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_val.shape == (10000, 1, 28, 28)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert 0.0 <= d.x_train.min() and d.x_train.max() == 1.0
    counts = torch.bincount(d.y_train, minlength=10)
    assert len(counts) == 10 and (counts > 0).all()
    assert counts[1] == 6742 and counts[5] == 5421 and counts.sum() == 60000
    assert torch.bincount(d.y_val).tolist()[:2] == [980, 1135]
    assert (data_env / "mnist.npz").exists()
    assert d.info.classes == tuple("0123456789") and train_size("mnist") == 60000
    assert load_dataset("mnist").x_train is d.x_train  # cached in-process: the second load is instant


def test_digits():
    d = load_dataset("digits")
    assert d.x_train.shape[1:] == (1, 8, 8) and d.train_size + d.val_size == 1797
    assert d.train_size == train_size("digits") == 1437
    assert set(d.y_train.tolist()) == set(range(10)) and set(d.y_val.tolist()) == set(range(10))
    assert float(d.x_train.max()) == 1.0


@pytest.mark.parametrize("name", POINT_SETS)
def test_point_sets_shapes_split_and_seed(name):
    d = load_dataset(name, {"n_samples": 400, "train_fraction": 0.75})
    assert d.x_train.shape == (300, 2) and d.x_val.shape == (100, 2)
    assert train_size(name, {"n_samples": 400, "train_fraction": 0.75}) == 300
    assert set(d.y_train.tolist()) == {0, 1}
    assert d.info.classes == ("blue", "orange") and d.info.kind == "points"
    again = load_dataset(name, {"n_samples": 400, "train_fraction": 0.75})
    other = load_dataset(name, {"n_samples": 400, "train_fraction": 0.75, "seed": 1})
    assert torch.equal(d.x_train, again.x_train) and torch.equal(d.y_train, again.y_train)
    assert not torch.equal(d.x_train, other.x_train)
    assert d.x_train.abs().max() < 3


def test_circle_inside_is_blue():
    d = load_dataset("circle", {"noise": 0.0})
    x = torch.cat([d.x_train, d.x_val])
    y = torch.cat([d.y_train, d.y_val])
    radius = x.norm(dim=1)
    assert (y[radius < 0.5] == 0).all() and (y[radius > 0.69] == 1).all()


def test_xor_label_is_sign_of_product():
    d = load_dataset("xor", {"noise": 0.0})
    expected = (d.x_train[:, 0] * d.x_train[:, 1] < 0).long()
    assert torch.equal(d.y_train, expected)


def test_bad_options_and_names():
    with pytest.raises(ParamError, match="noise must be between 0 and 0.5; got 2"):
        load_dataset("spiral", {"noise": 2.0})
    with pytest.raises(ParamError, match="unknown setting"):
        load_dataset("spiral", {"points": 3})
    with pytest.raises(ValueError, match="unknown dataset 'cifar'; choose one of mnist, digits"):
        load_dataset("cifar")


def _idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def test_fashion_from_idx_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    train_x, test_x = rng.integers(0, 256, (6, 28, 28)), rng.integers(0, 256, (4, 28, 28))
    train_y, test_y = np.array([0, 1, 2, 9, 9, 3]), np.array([5, 6, 7, 8])
    _idx(tmp_path / "train-images-idx3-ubyte.gz", train_x)
    _idx(tmp_path / "train-labels-idx1-ubyte.gz", train_y)
    _idx(tmp_path / "t10k-images-idx3-ubyte.gz", test_x)
    _idx(tmp_path / "t10k-labels-idx1-ubyte.gz", test_y)
    monkeypatch.setenv("DEEP_PLAYGROUND_FASHION_DIR", str(tmp_path))
    assert "fashion-mnist" in [i.name for i in list_datasets()]
    d = load_dataset("fashion-mnist")
    assert d.x_train.shape == (6, 1, 28, 28) and d.x_val.shape == (4, 1, 28, 28)
    assert d.y_train.tolist() == [0, 1, 2, 9, 9, 3] and d.y_val.tolist() == [5, 6, 7, 8]
    assert torch.allclose(d.x_train[2, 0] * 255, torch.from_numpy(train_x[2]).float())
    assert d.info.classes[9] == "Ankle boot"


def test_debians_fashion_mnist_when_installed_is_listed_and_loads(monkeypatch):
    """Input: the real set from Debian's dataset-fashion-mnist (./run.sh app installs it when root);
    skipped where it is not installed. Its 88 % check trains for minutes: tests/test_suggested.py, -m full."""
    from engine.data.images import FASHION_DEFAULT_DIR, FASHION_DIR_ENV
    monkeypatch.delenv(FASHION_DIR_ENV, raising=False)
    if not get_info("fashion-mnist").available:
        pytest.skip(f"Debian's dataset-fashion-mnist is not installed ({FASHION_DEFAULT_DIR})")
    assert "fashion-mnist" in [i.name for i in list_datasets()]
    d = load_dataset("fashion-mnist")
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_val.shape == (10000, 1, 28, 28)
    assert torch.bincount(d.y_train).tolist() == [6000] * 10 and torch.bincount(d.y_val).tolist() == [1000] * 10
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
