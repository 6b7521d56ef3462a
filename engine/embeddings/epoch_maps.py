"""The map of word vectors while they train: one layout per epoch, each aligned to the one before.

A projection of each epoch's vectors on its own would jump: PCA's axes come out in any sign and
order, and the cloud rotates as training goes on. Each new layout is therefore turned onto the
previous one by orthogonal Procrustes (scipy.linalg.orthogonal_procrustes: the rotation, or
reflection, that brings it closest to the previous layout over the words both share), so a word
moves only as much as its neighbourhood really changed. PCA, not UMAP: it costs milliseconds per
epoch inside the training process (UMAP would cost tens of seconds an epoch, and its layouts are
not comparable from one fit to the next without a warm start).

The layouts are stored as the run's artifacts (`map2d`, `map3d`, float16, per epoch), so the epoch
slider replays them after a restart, and a word's trajectory is its row across the epochs.
"""
from __future__ import annotations

import numpy as np

NAMES = {2: "map2d", 3: "map3d"}


def align(current: np.ndarray, previous: np.ndarray, shared: np.ndarray | None = None) -> np.ndarray:
    """`current` turned (rotated or reflected, about its centre) onto `previous`; `shared` (indices
    into both, same length) picks the rows that match, all rows when None. Both centred on the shared
    rows; the result is centred like `previous`."""
    from scipy.linalg import orthogonal_procrustes
    current = np.asarray(current, dtype=np.float64)
    previous = np.asarray(previous, dtype=np.float64)
    a = current if shared is None else current[shared]
    b = previous if shared is None else previous[shared]
    a_mean, b_mean = a.mean(0), b.mean(0)
    rotation, _ = orthogonal_procrustes(a - a_mean, b - b_mean)
    return (current - a_mean) @ rotation + b_mean


def layout(vectors: np.ndarray, dims: int, previous: np.ndarray | None = None) -> np.ndarray:
    """PCA of `vectors` to `dims`, scaled to unit RMS radius (the map keeps its size while the
    vectors grow), aligned to `previous` (the last epoch's layout of the same words) when given."""
    x = np.asarray(vectors, dtype=np.float64)
    x = x - x.mean(0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    coords = x @ vt[:dims].T
    rms = np.sqrt((coords ** 2).sum(1).mean())
    coords = coords / rms if rms > 0 else coords
    if previous is not None and len(previous) == len(coords):
        coords = align(coords, previous)
    return coords.astype(np.float32)


def save_epoch_layouts(store, run_id: int, epoch: int, vectors: np.ndarray) -> None:
    """This epoch's 2D and 3D layouts of the vocabulary, aligned to the previous epoch's, as artifacts."""
    if len(vectors) < 4 or vectors.shape[1] < 3:
        return  # too few words or dimensions for a map (the page says so)
    arrays = {}
    for dims, name in NAMES.items():
        before = store.artifact(run_id, name, epoch - 1) if epoch > 1 else None
        arrays[name] = layout(vectors, dims, None if before is None else before[1].astype(np.float32)).astype(np.float16)
    store.save_artifacts(run_id, epoch, arrays)


def epoch_layouts(store, run_id: int, dims: int) -> dict[int, np.ndarray]:
    """{epoch: coords (float32)} of every stored epoch of the run, oldest first."""
    name = NAMES[dims]
    found = {}
    for epoch in store.checkpoint_epochs(run_id):
        hit = store.artifact(run_id, name, epoch)
        if hit is not None:
            found[epoch] = hit[1].astype(np.float32)
    return dict(sorted(found.items()))
