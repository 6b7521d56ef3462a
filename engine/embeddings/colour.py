"""What colours the points of an embedding map: k-means clusters, frequency rank, a word group.

Each function takes the map's points (vectors or words, most frequent first, as the map shows them)
and returns one value per point: a cluster number, a colour-scale value, or 0/1 membership.
"""
from __future__ import annotations

import numpy as np


def cluster_labels(x: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means cluster (0 .. k-1) of each row of x, the same for the same seed. Mini-batch k-means:
    one pass over 400k GloVe words takes about a second. Never more clusters than points (a map
    of 10 points asked for 30 clusters gets 10)."""
    from sklearn.cluster import MiniBatchKMeans
    k = min(int(k), len(x))
    return MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=2048).fit_predict(x)


def rank_values(n: int) -> np.ndarray:
    """log10 of each point's frequency rank (1 for the most frequent word): a colour scale on which
    the first hundred words are as far apart as the next thousand."""
    return np.log10(np.arange(1, n + 1))


def group_members(words: list[str], group: set[str]) -> np.ndarray:
    """1 for each word in the group, 0 for the others."""
    return np.array([1 if w in group else 0 for w in words])
