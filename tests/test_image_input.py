"""Preparing users' pictures for a model: formats, bad files, huge, RGBA, 16-bit, MNIST-style digits."""
import io

import numpy as np
import pytest
from PIL import Image

from engine.data import image_input
from engine.data.image_input import MAX_IMAGE_BYTES, MAX_PIXELS, prepare_array, prepare_bytes


def png(image: Image.Image, fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def dark_seven_on_white(size=200) -> Image.Image:
    """A photo-like digit: dark ink on light paper, off centre."""
    a = np.full((size, size), 230, np.uint8)
    a[30:40, 20:120] = 20            # the bar of a 7
    for i in range(100):             # its stem
        a[40 + i, 110 - i // 2:118 - i // 2] = 20
    return Image.fromarray(a, "L")


def test_a_dark_on_light_digit_is_inverted_cropped_and_centred_like_mnist():
    prepared = prepare_bytes(png(dark_seven_on_white()), (1, 28, 28))
    x = prepared.tensor
    assert x.shape == (1, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert any("inverted" in n for n in prepared.notes)
    a = x[0, 0].numpy()
    ys, xs = np.nonzero(a > 0.1)
    assert ys.max() - ys.min() + 1 <= 21 and xs.max() - xs.min() + 1 <= 21  # the 20x20 box (+1 for rounding)
    cy, cx = (np.indices(a.shape) * a).reshape(2, -1).sum(1) / a.sum()
    assert abs(cy - 14) < 1.5 and abs(cx - 14) < 1.5  # centre of mass at the centre
    assert a[0].max() == 0 and a[:, 0].max() == 0     # black border, like MNIST


def test_rgba_canvas_drawing_is_flattened_on_black_and_keeps_its_ink():
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[100:180, 130:150] = (255, 255, 255, 255)  # a white stroke on a transparent canvas
    prepared = prepare_array(rgba, (1, 28, 28))
    assert "transparency flattened onto black" in prepared.notes
    assert not any("inverted" in n for n in prepared.notes)
    assert prepared.tensor.max() == pytest.approx(1.0) and prepared.tensor.mean() > 0.02


def test_16_bit_images_are_rescaled():
    a = (np.linspace(0, 60000, 64 * 64).reshape(64, 64)).astype(np.uint16)
    prepared = prepare_bytes(png(Image.fromarray(a)), (3, 32, 32))  # Pillow stores uint16 as I;16
    assert prepared.tensor.shape == (1, 3, 32, 32)
    assert any("16-bit" in n and "rescaled to 8-bit" in n for n in prepared.notes)
    assert prepared.tensor.max() > 0.9


def test_colour_photos_go_to_the_model_channels():
    rgb = Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 80, 3), dtype=np.uint8), "RGB")
    assert prepare_bytes(png(rgb, "JPEG"), (3, 32, 32)).tensor.shape == (1, 3, 32, 32)
    grey = prepare_bytes(png(rgb), (1, 28, 28))
    assert grey.tensor.shape == (1, 1, 28, 28) and any("greyscale" in n for n in grey.notes)


def test_not_an_image_corrupt_empty_and_huge_are_refused_with_a_message(monkeypatch):
    with pytest.raises(ValueError, match="notes.txt is not an image"):
        prepare_bytes(b"hello, this is text", (1, 28, 28), name="notes.txt")
    with pytest.raises(ValueError, match="is empty"):
        prepare_bytes(b"", (1, 28, 28))
    whole = png(dark_seven_on_white())
    with pytest.raises(ValueError, match="cut.png"):
        prepare_bytes(whole[: len(whole) // 2], (1, 28, 28), name="cut.png")
    monkeypatch.setattr(image_input, "MAX_PIXELS", 100 * 100)
    with pytest.raises(ValueError, match="200 x 200 = 40,000 pixels; the limit is 10,000"):
        prepare_bytes(whole, (1, 28, 28))
    assert MAX_PIXELS == 40_000_000


def test_an_upload_over_the_stated_size_limit_is_refused_before_it_is_decoded(monkeypatch):
    """Input: a 200 x 200 PNG with the limit lowered to 1 KB (the real limit is 50 MB)."""
    whole = png(dark_seven_on_white())
    monkeypatch.setattr(image_input, "MAX_IMAGE_BYTES", 1024)
    with pytest.raises(ValueError) as info:
        prepare_bytes(whole + bytes(1024), (1, 28, 28), name="photo.png")
    assert str(info.value) == f"photo.png is {round((len(whole) + 1024) / 1024)} KB; the limit for an image is 1 KB"
    assert image_input.MAX_IMAGE_BYTES == 1024 and MAX_IMAGE_BYTES == 50 * 2**20


def test_large_images_are_downscaled_with_a_note():
    big = Image.new("L", (3000, 1500), 255)
    prepared = prepare_bytes(png(big), (1, 28, 28))
    assert "downscaled from 3000 x 1500 to 1024 x 512" in prepared.notes
    assert "no ink found: the input is blank" in prepared.notes and prepared.tensor.sum() == 0
