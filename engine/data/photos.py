"""Photos for the ImageNet CNN: a gallery of sample photos that ship inside installed packages, and
any picture a person uploads, each turned into the model's 224 x 224 input.

Gallery: scikit-learn's china.jpg and flower.jpg, matplotlib's grace_hopper.jpg, scikit-image's
chelsea (a cat), coffee, astronaut and rocket, and foolbox's 20 labelled ImageNet validation photos
(read by path, with the label in their file name imagenet_NN_LABEL.jpg; foolbox itself is never
imported). Uploads go through engine.data.image_input.open_image, the same checks as every upload.

The model sees the photo's centred square, resized to 224 x 224; the page draws the maps over that
square at the photo's own resolution (upsample_map).
"""
from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from engine.data.image_input import _to_8bit, open_image
from engine.models.imagenet import IMAGE_SIZE, to_input


@dataclass(frozen=True)
class Photo:
    name: str              # shown in the gallery, e.g. "chelsea (a cat)"
    path: Path
    label: int | None = None   # the ImageNet class, where the photo is labelled (foolbox's)


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    return Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None


@functools.cache
def gallery() -> tuple[Photo, ...]:
    """Every sample photo found in the installed packages (a missing package leaves its photos out)."""
    photos = []
    places = [("sklearn", "datasets/images", [("china.jpg", "china (a temple)"), ("flower.jpg", "flower")]),
              ("matplotlib", "mpl-data/sample_data", [("grace_hopper.jpg", "grace hopper")]),
              ("skimage", "data", [("chelsea.png", "chelsea (a cat)"), ("coffee.png", "coffee"),
                                   ("astronaut.png", "astronaut"), ("rocket.jpg", "rocket")])]
    for package, folder, files in places:
        root = _package_dir(package)
        for file, name in files:
            if root and (root / folder / file).is_file():
                photos.append(Photo(name, root / folder / file))
    photos += labelled_photos()
    return tuple(photos)


@functools.cache
def labelled_photos() -> tuple[Photo, ...]:
    """foolbox's 20 ImageNet validation photos with their labels (empty when foolbox is not installed)."""
    from engine.models.imagenet import class_names
    root = _package_dir("foolbox")
    if root is None:
        return ()
    photos = []
    for path in sorted((root / "data").glob("imagenet_*_*.jpg")):
        label = int(path.stem.split("_")[2])
        photos.append(Photo(f"imagenet {path.stem.split('_')[1]}: {class_names()[label]}", path, label))
    return tuple(photos)


def photo_named(name: str) -> Photo:
    for photo in gallery():
        if photo.name == name:
            return photo
    raise ValueError(f"no sample photo {name!r}; choose one of {', '.join(p.name for p in gallery())}")


@dataclass
class PhotoInput:
    square: np.ndarray       # (S, S, 3) uint8: the centred square the model sees, at the photo's resolution
    x: torch.Tensor          # (1, 3, 224, 224), normalised as the model wants
    notes: list[str]


def read_photo(source: bytes | str | Path, name: str | None = None) -> PhotoInput:
    """A photo from bytes (an upload) or a path, checked like every upload; ValueError says what is wrong."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        name = name or path.name
        try:
            source = path.read_bytes()
        except OSError as err:
            raise ValueError(f"cannot read {name}: {err.strerror or err}") from None
    image, notes = open_image(source, name or "the file")
    return model_view(image, notes)


def model_view(image: Image.Image, notes: list[str] | None = None) -> PhotoInput:
    """The photo's centred square (at its own resolution) and the model's 224 x 224 input made from it."""
    notes = list(notes or [])
    image = _to_8bit(ImageOps.exif_transpose(image) or image, notes).convert("RGB")
    width, height = image.size
    side = min(width, height)
    if width != height:
        notes.append(f"the centred {side} x {side} square of the {width} x {height} photo is used")
    square = np.asarray(ImageOps.fit(image, (side, side)))
    small = np.asarray(Image.fromarray(square).resize((IMAGE_SIZE, IMAGE_SIZE), Image.BILINEAR))
    return PhotoInput(square, to_input(small), notes)


# Pictures of a photo's maps are drawn at the photo's own resolution up to this many pixels a side
# (the sample photos are at most 512 px; a larger upload is drawn at 512, which is what a screen shows).
MAX_SHOWN = 512


def shown_square(square: np.ndarray, max_side: int = MAX_SHOWN) -> np.ndarray:
    """The photo's square at its own resolution, or reduced to max_side when larger."""
    if len(square) <= max_side:
        return square
    return np.asarray(Image.fromarray(square).resize((max_side, max_side), Image.BILINEAR))


def upsample_map(values: np.ndarray | torch.Tensor, side: int) -> np.ndarray:
    """A (224, 224) map resized (bilinear) to side x side, to lie over the photo's square."""
    m = torch.as_tensor(np.asarray(values, dtype=np.float32))[None, None]
    if m.shape[-1] == side:
        return m[0, 0].numpy()
    return torch.nn.functional.interpolate(m, size=(side, side), mode="bilinear", align_corners=False)[0, 0].numpy()
