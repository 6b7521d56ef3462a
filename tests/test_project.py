"""Projections: PCA / t-SNE / UMAP through one fit_transform, the on-disk cache, bad parameters."""
import numpy as np
import pytest

from engine.embeddings import project


@pytest.fixture
def points(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(tmp_path))
    rng = np.random.default_rng(0)
    # Three well separated blobs in 20-d.
    centres = rng.normal(scale=10, size=(3, 20))
    return (centres[np.repeat(np.arange(3), 40)] + rng.normal(size=(120, 20))).astype(np.float32)


def test_pca_gives_finite_coords_and_variance_explained(points):
    result = project.fit_transform(points, "pca", 3)
    assert result.coords.shape == (120, 3) and np.isfinite(result.coords).all()
    assert len(result.explained_variance) == 3
    assert result.explained_variance == sorted(result.explained_variance, reverse=True)
    assert 0.9 < sum(result.explained_variance) <= 1.0  # three blobs: two axes carry nearly everything
    # Centred projection onto the top principal directions (checked against numpy's SVD).
    centred = points - points.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    np.testing.assert_allclose(np.abs(result.coords), np.abs(centred @ vt[:3].T), rtol=1e-3, atol=1e-3)


def test_results_are_cached_by_content_and_params(points):
    first = project.fit_transform(points, "pca", 2)
    assert not first.cached and project.cached(points, "pca", 2) is not None
    again = project.fit_transform(points, "pca", 2)
    assert again.cached
    np.testing.assert_array_equal(again.coords, first.coords)
    assert project.cached(points, "pca", 3) is None  # other params: another entry
    changed = points.copy()
    changed[0, 0] += 1
    assert project.cached(changed, "pca", 2) is None  # other content: another entry
    assert len(list(project.cache_dir().glob("*.npz"))) == 1


def test_tsne_3d_keeps_blobs_apart_and_reports_progress(points):
    seen = []
    result = project.fit_transform(points, "tsne", 3, progress=lambda f, m: seen.append(f), perplexity=10, n_iter=250)
    assert result.coords.shape == (120, 3) and np.isfinite(result.coords).all()
    assert seen and seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)
    labels = np.repeat(np.arange(3), 40)
    centres = np.array([result.coords[labels == c].mean(0) for c in range(3)])
    spread = max(np.linalg.norm(result.coords[labels == c] - centres[c], axis=1).mean() for c in range(3))
    gaps = min(np.linalg.norm(centres[a] - centres[b]) for a, b in ((0, 1), (0, 2), (1, 2)))
    assert gaps > 2 * spread


@pytest.mark.slow
def test_umap_3d_after_warm_up(points, monkeypatch):
    monkeypatch.delenv("DEEP_PLAYGROUND_NO_UMAP_WARMUP", raising=False)  # tests/conftest.py turns it off
    # The one UMAP test (numba compiles once per process): warm-up then a real 3D map.
    thread = project.warm_up(precompute_glove=False)  # the page also maps GloVe's 10k words: not here
    assert project.warm_up() is thread  # once per process
    thread.join(300)
    assert project.umap_ready() and not project.umap_warming() and not project.default_map_pending()
    result = project.fit_transform(points, "umap", 3, n_neighbors=10)
    assert result.coords.shape == (120, 3) and np.isfinite(result.coords).all()


@pytest.mark.parametrize("method, dims, params, message", [
    ("mds", 3, {}, "unknown projection 'mds'"),
    ("pca", 4, {}, "dims must be 2 or 3"),
    ("tsne", 2, {"perplexity": 500}, "perplexity must be between 1 and the number of points (120)"),
    ("umap", 3, {"n_neighbors": 1}, "n_neighbors must be between 2"),
    ("umap", 3, {"metric": "hamming"}, "unknown UMAP metric 'hamming'"),
    ("pca", 3, {"perplexity": 5}, "pca has no parameter(s) perplexity"),
])
def test_bad_parameters_are_refused_with_a_message(points, method, dims, params, message):
    with pytest.raises(ValueError) as info:
        project.fit_transform(points, method, dims, **params)
    assert message in str(info.value)


def test_non_finite_vectors_are_refused(points):
    points[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        project.fit_transform(points, "pca", 3)


@pytest.mark.parametrize("method", ["pca", "tsne", "umap"])
def test_a_3d_map_of_2_dimensional_vectors_is_refused_with_a_message(points, method):
    """Input: 120 vectors of 2 dimensions asked for a 3D map (PCA failed inside sklearn with
    "n_components=3 must be between 0 and min(n_samples, n_features)=2")."""
    with pytest.raises(ValueError) as info:
        project.fit_transform(points[:, :2], method, 3)
    assert str(info.value) == "2-dimensional vectors cannot be projected to 3D: a 3D map needs vectors of at least " \
                              "3 dimensions"
    assert project.fit_transform(points[:, :2], "pca", 2).coords.shape == (120, 2)
