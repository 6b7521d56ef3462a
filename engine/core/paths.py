"""Where the engine keeps its files: one data dir, a user cache folder unless overridden."""
from __future__ import annotations

import os
from pathlib import Path

ENV_DATA_DIR = "DEEP_PLAYGROUND_DATA"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """The data dir: `override`, else $DEEP_PLAYGROUND_DATA, else ~/.cache/deep-playground."""
    if override:
        root = Path(override)
    elif os.environ.get(ENV_DATA_DIR):
        root = Path(os.environ[ENV_DATA_DIR])
    else:
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(cache) / "deep-playground"
    root = root.expanduser()
    _make_folder(root, "the data dir")
    return root


def runs_dir(override: str | os.PathLike | None = None) -> Path:
    path = data_dir(override) / "runs"
    _make_folder(path, "the runs folder")
    return path


def _make_folder(path: Path, what: str) -> None:
    """Create `path` if needed; a file in its place is a clear error (ValueError), not FileExistsError."""
    if path.exists() and not path.is_dir():
        raise ValueError(f"{what} {path} is a file, not a folder: give another --data-dir "
                         f"(or ${ENV_DATA_DIR}), or move the file away")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):  # a parent is a file
        raise ValueError(f"cannot create {what} {path}: part of that path is a file, not a folder") from None
    except PermissionError:
        raise ValueError(f"cannot create {what} {path}: permission denied; give a --data-dir "
                         f"(or ${ENV_DATA_DIR}) you can write to") from None


def write_once(path: Path, content: bytes) -> None:
    """Write atomically unless the file is there (content-addressed files never change): a kill
    mid-write never leaves a torn file, only a stray temp file beside it."""
    if path.exists():
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)
