"""A person's own photos, one folder per class: read from a zip archive (an upload) or a folder (the CLI).

Nothing is ever extracted to disk: each member of the archive is read into memory, within the stated
limits, so a member named "../../etc/x" (a "zip slip") can write nowhere; such names are skipped and
listed anyway, as a file outside any class folder would be. The limits are checked before anything
is decoded: the archive's size, the sum of its members' uncompressed sizes (a small zip that expands
to gigabytes is refused from its directory alone) and the number of images.

The layout is the one Keras' `image_dataset_from_directory` and torchvision's `ImageFolder` read:
`cats/1.jpg, dogs/a.png`, optionally under one wrapping folder (`photos/cats/1.jpg`, as zipping a
folder makes). Each image is made RGB, cropped to a centred square and resized to 224 x 224 (what the
ImageNet backbone takes). A file that cannot be read as an image is skipped and listed, never fatal;
a set with one class, or a class with fewer than two readable images (one to train, one to validate),
is an ImagesError whose message says what to change.
"""
from __future__ import annotations

import io
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from engine.core.uploads import read_limited, size_text

IMAGE_SIZE = 224
MAX_ARCHIVE_BYTES = 200 * 2**20   # the zip (or the folder's image files) as uploaded
MAX_IMAGES = 1000                 # each image is 600 KB as the float32 tensor the models take
MAX_PIXELS = 40_000_000           # one image's pixels, before resizing (a "decompression bomb" is refused)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff")
LIMITS = (f"at most {size_text(MAX_ARCHIVE_BYTES)} and {MAX_IMAGES:,} images, one folder per class "
          f"(JPEG, PNG, BMP, GIF, WebP or TIFF), two classes or more, two images or more in each")


class ImagesError(ValueError):
    """An archive or folder that cannot become a dataset; the message says what to change."""


@dataclass(frozen=True)
class ImageSet:
    images: np.ndarray           # (N, 224, 224, 3) uint8 RGB
    labels: np.ndarray           # (N,) int64 indices into classes
    classes: tuple[str, ...]     # the folder names, sorted
    skipped: tuple[str, ...]     # "path: why" for each file left out
    source: str                  # the archive's or folder's name

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> list[int]:
        return np.bincount(self.labels, minlength=len(self.classes)).tolist()


def read_archive(source, name: str = "archive.zip") -> ImageSet:
    """An ImageSet from a zip archive: a path, bytes or a file object (an upload)."""
    raw = read_limited(source, MAX_ARCHIVE_BYTES, "archive")
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile as err:
        raise ImagesError(f"{name} is not a zip archive ({err}): zip a folder with one sub-folder of "
                          f"images per class, e.g. cats/1.jpg and dogs/1.jpg ({LIMITS})") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        unpacked = sum(m.file_size for m in members)
        if unpacked > MAX_ARCHIVE_BYTES:
            raise ImagesError(f"{name} unpacks to {size_text(unpacked)}, more than the limit of "
                              f"{size_text(MAX_ARCHIVE_BYTES)} ({LIMITS})")

        def reader(member):
            return lambda: archive.open(member).read(MAX_ARCHIVE_BYTES + 1)
        return _collect([(m.filename, reader(m)) for m in members], name)


def read_folder(path: str | os.PathLike) -> ImageSet:
    """An ImageSet from a folder with one sub-folder of images per class (links are not followed)."""
    root = Path(path)
    if not root.is_dir():
        raise ImagesError(f"{path} is not a folder: give a folder with one sub-folder of images per class")
    entries, total = [], 0
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for file in sorted(files):
            full = Path(folder) / file
            if full.is_symlink() or not full.is_file():
                continue
            relative = full.relative_to(root).as_posix()
            if full.suffix.lower() in IMAGE_SUFFIXES:
                total += full.stat().st_size
            entries.append((relative, full.read_bytes))
    if total > MAX_ARCHIVE_BYTES:
        raise ImagesError(f"the images in {path} add up to {size_text(total)}, more than the limit of "
                          f"{size_text(MAX_ARCHIVE_BYTES)} ({LIMITS})")
    return _collect(entries, root.name or str(path))


# ---- from (path, bytes) pairs to an ImageSet -------------------------------------------------------------
def _ignored(parts: tuple[str, ...]) -> bool:
    """Files a zip tool adds that nobody meant as data: macOS' __MACOSX folder, hidden files."""
    return any(p == "__MACOSX" or p.startswith(".") for p in parts)


def _unsafe(name: str) -> bool:
    """A member name that would leave the folder it is extracted to (absolute, a drive, or '..')."""
    path = PurePosixPath(name.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts or ":" in (path.parts[0] if path.parts else "")


def _collect(entries: list, source: str) -> ImageSet:
    skipped: list[str] = []
    files: list[tuple[tuple[str, ...], str, object]] = []
    for name, read in entries:
        if _unsafe(name):
            skipped.append(f"{name}: a path outside the archive's folder, ignored")
            continue
        parts = tuple(p for p in PurePosixPath(name.replace("\\", "/")).parts if p)
        if parts and not _ignored(parts):
            files.append((parts, name, read))
    # One wrapping folder around the class folders (zipping "photos/" gives photos/cats/1.jpg): drop it.
    if files and len({p[0] for p, _, _ in files}) == 1 and any(len(p) >= 3 for p, _, _ in files):
        files = [(p[1:], name, read) for p, name, read in files]
    images = [(p, name, read) for p, name, read in files if Path(p[-1]).suffix.lower() in IMAGE_SUFFIXES]
    for parts, name, _ in files:
        if Path(parts[-1]).suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append(f"{name}: not an image file (expected {', '.join(IMAGE_SUFFIXES)})")
        elif len(parts) < 2:
            skipped.append(f"{name}: not inside a class folder")
    images = [(p, name, read) for p, name, read in images if len(p) >= 2]
    if len(images) > MAX_IMAGES:
        raise ImagesError(f"{source} holds {len(images):,} images, more than the limit of {MAX_IMAGES:,} "
                          f"({LIMITS})")
    decoded: dict[str, list[np.ndarray]] = {}
    for parts, name, read in images:
        try:
            decoded.setdefault(parts[0], []).append(_decode(read()))
        except Exception as err:  # any decoder failure: the file is listed, the rest go on
            skipped.append(f"{name}: cannot be read as an image ({_why(err)})"[:300])
    classes = tuple(sorted(c for c in decoded if decoded[c]))
    if not classes:
        raise ImagesError(f"{source} holds no readable images in class folders: put the images of each "
                          f"class in a folder of its own, e.g. cats/1.jpg and dogs/1.jpg ({LIMITS})"
                          + _skipped_note(skipped))
    if len(classes) == 1:
        raise ImagesError(f"{source} holds one class only ({classes[0]}): a classifier needs two or more, "
                          f"each images in a folder of its own ({LIMITS})" + _skipped_note(skipped))
    few = [c for c in classes if len(decoded[c]) < 2]
    if few:
        raise ImagesError(f"class {', '.join(few)} of {source} has fewer than two readable images: each "
                          f"class needs one to train on and one to validate with" + _skipped_note(skipped))
    labels = np.concatenate([np.full(len(decoded[c]), i, dtype=np.int64) for i, c in enumerate(classes)])
    stacked = np.stack([image for c in classes for image in decoded[c]])
    return ImageSet(stacked, labels, classes, tuple(skipped), source)


def _why(err: Exception) -> str:
    from PIL import UnidentifiedImageError
    if isinstance(err, UnidentifiedImageError):
        return "an unknown format, or a damaged file"
    return f"{type(err).__name__}: {err}"


def _skipped_note(skipped: list[str]) -> str:
    if not skipped:
        return ""
    return f"; skipped {len(skipped)} file(s): " + "; ".join(skipped[:5]) + (" ..." if len(skipped) > 5 else "")


def _decode(content: bytes) -> np.ndarray:
    """One image file as a 224 x 224 RGB uint8 array: its centred square, resized."""
    from PIL import Image, ImageOps

    if len(content) > MAX_ARCHIVE_BYTES:
        raise ValueError(f"larger than {size_text(MAX_ARCHIVE_BYTES)}")
    with Image.open(io.BytesIO(content)) as image:
        if image.width * image.height > MAX_PIXELS:
            raise ValueError(f"{image.width} x {image.height} pixels, more than {MAX_PIXELS:,}")
        rgb = ImageOps.exif_transpose(image).convert("RGB")
        return np.asarray(ImageOps.fit(rgb, (IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BILINEAR), dtype=np.uint8)
