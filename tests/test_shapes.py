"""The `shapes` dataset: determinism by seed, shapes and channels, masks that match the drawn object."""
import numpy as np
import pytest
import torch

from engine.core.params import ParamError
from engine.data import get_info, load_dataset, train_size
from engine.data import shapes

SMALL = {"n_train": 200, "n_val": 100}


def test_registered_with_its_params_and_colour_shape():
    info = get_info("shapes")
    assert info.kind == "image" and info.input_shape == (3, 32, 32) and info.classes == shapes.CLASSES
    assert len(info.classes) == 10 and {p.name for p in info.params} == {"size", "n_train", "n_val", "noise",
                                                                          "clutter", "seed"}
    assert train_size("shapes", SMALL) == 200
    with pytest.raises(ParamError, match="size must be between 16 and 256"):
        load_dataset("shapes", {"size": 8})


@pytest.mark.parametrize("size", [32, 64])
def test_loaded_tensors_shapes_ranges_and_balanced_classes(size):
    d = load_dataset("shapes", {**SMALL, "size": size})
    assert d.x_train.shape == (200, 3, size, size) and d.x_val.shape == (100, 3, size, size)
    assert d.info.input_shape == (3, size, size)
    assert d.x_train.dtype == torch.float32 and d.y_train.dtype == torch.int64
    assert 0.0 <= float(d.x_train.min()) and float(d.x_train.max()) <= 1.0
    assert torch.bincount(d.y_train, minlength=10).tolist() == [20] * 10
    assert torch.bincount(d.y_val, minlength=10).tolist() == [10] * 10
    assert shapes.masks(d.options).shape == (100, size, size)
    assert shapes.masks(d.options, "train").shape == (200, size, size)


def test_same_seed_same_images_other_seed_other_images():
    a = shapes.generate(50, 32, 0.1, 1.0, [3, 0])
    b = shapes.generate(50, 32, 0.1, 1.0, [3, 0])
    c = shapes.generate(50, 32, 0.1, 1.0, [4, 0])
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)
    assert np.array_equal(a.labels, b.labels)
    assert not np.array_equal(a.images, c.images)
    # The validation split is its own stream: a larger training set leaves it unchanged.
    small, large = load_dataset("shapes", SMALL), load_dataset("shapes", {**SMALL, "n_train": 300})
    assert torch.equal(small.x_val, large.x_val) and not torch.equal(small.x_train, large.x_train[:200])


def test_chunked_generation_is_deterministic_across_chunk_sizes(monkeypatch):
    whole = shapes.generate(30, 32, 0.0, 0.5, 7)
    monkeypatch.setattr(shapes, "PIXELS_PER_CHUNK", 32 * 32 * 7)  # chunks of 7 images
    chunked = shapes.generate(30, 32, 0.0, 0.5, 7)
    assert chunked.images.shape == whole.images.shape and np.array_equal(chunked.labels, whole.labels)


def test_masks_match_the_drawn_object():
    """Without noise every mask pixel has exactly the object's colour and every pixel outside it
    (background and distractors behind it aside) is not that colour: the mask is the object."""
    drawn = shapes.generate(200, 32, 0.0, 0.0, 1)
    colour_match = np.all(np.abs(drawn.images - drawn.colours[:, :, None, None]) < 1e-6, axis=1)
    assert colour_match[drawn.masks].all()
    assert not colour_match[~drawn.masks].any()
    area = drawn.masks.mean(axis=(1, 2))
    assert area.min() > 0.04 and area.max() < 0.4  # the object is big, and never fills the image


def test_distractors_are_drawn_behind_the_object_and_not_of_its_class():
    clean, cluttered = shapes.generate(100, 32, 0.0, 0.0, 5), shapes.generate(100, 32, 0.0, 1.0, 5)
    assert np.array_equal(clean.labels, cluttered.labels)
    colour_match = np.all(np.abs(cluttered.images - cluttered.colours[:, :, None, None]) < 1e-6, axis=1)
    assert colour_match[cluttered.masks].all()  # nothing is drawn over the object


def test_each_class_mask_is_its_shape():
    """Hand-placed shapes at the centre of a 64 px image, radius 24, no rotation: areas as the
    geometry says (circle pi r^2, square (1.5 r)^2, ring pi r^2 (1 - 0.55^2), hexagon 3 sqrt(3)/2 r^2)."""
    labels = np.arange(10)
    m = shapes.shape_masks(labels, 64, [32] * 10, [32] * 10, [24] * 10, [0.0] * 10)
    area = dict(zip(shapes.CLASSES, m.sum(axis=(1, 2)) / 24 ** 2))
    assert area["circle"] == pytest.approx(np.pi, rel=0.02)
    assert area["square"] == pytest.approx(1.5 ** 2, rel=0.02)
    assert area["ring"] == pytest.approx(np.pi * (1 - 0.55 ** 2), rel=0.03)
    assert area["hexagon"] == pytest.approx(3 * np.sqrt(3) / 2, rel=0.03)
    assert area["triangle"] == pytest.approx(3 * np.sqrt(3) / 4, rel=0.03)
    assert area["ellipse"] == pytest.approx(np.pi * 0.55, rel=0.03)
    assert area["ring"] < area["circle"] and m[6, 32, 32] == 0 and m[0, 32, 32] == 1  # a ring's hole
    assert m[2, 10, 32] and not m[2, 54, 32]  # the triangle points up: its apex row is filled, the row below not


def test_224_pixels_for_the_transfer_example():
    drawn = shapes.generate(12, 224, 0.05, 0.5, 0)
    assert drawn.images.shape == (12, 3, 224, 224) and drawn.masks.shape == (12, 224, 224)
