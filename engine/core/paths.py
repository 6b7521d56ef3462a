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
    root.mkdir(parents=True, exist_ok=True)
    return root


def runs_dir(override: str | os.PathLike | None = None) -> Path:
    path = data_dir(override) / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path
