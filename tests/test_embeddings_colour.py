"""How the Embeddings page colours its points (engine.embeddings.colour): k-means clusters,
frequency rank, word-group membership."""
import math

import numpy as np

from engine.embeddings.colour import cluster_labels, group_members, rank_values


def blobs() -> np.ndarray:
    """Three tight groups of 50 points, far apart."""
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0, 0], [100, 0, 0], [0, 100, 0]], dtype=np.float32)
    return np.concatenate([c + rng.normal(scale=0.1, size=(50, 3)) for c in centres]).astype(np.float32)


def test_kmeans_finds_three_far_apart_groups():
    labels = cluster_labels(blobs(), 3, seed=0)
    assert labels.shape == (150,)
    groups = [set(labels[i * 50:(i + 1) * 50].tolist()) for i in range(3)]
    assert all(len(g) == 1 for g in groups)                  # each group is one cluster
    assert set().union(*groups) == {0, 1, 2}                  # and the three are different


def test_kmeans_is_the_same_for_the_same_seed():
    x = np.random.default_rng(1).normal(size=(300, 5)).astype(np.float32)
    assert np.array_equal(cluster_labels(x, 7, seed=3), cluster_labels(x, 7, seed=3))


def test_never_more_clusters_than_points():
    x = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], dtype=np.float32)
    assert sorted(cluster_labels(x, 30).tolist()) == [0, 1, 2, 3]


def test_rank_values_are_log10_of_the_rank():
    values = rank_values(1000)
    assert values.shape == (1000,)
    assert values[0] == 0 and values[9] == 1 and values[99] == 2 and values[999] == 3
    assert values[1] == math.log10(2)


def test_group_members_marks_the_words_of_the_group():
    assert group_members(["red", "king", "blue", "green"], {"blue", "red", "absent"}).tolist() == [1, 0, 1, 0]
