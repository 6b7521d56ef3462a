"""Projections as background jobs (progress, the live t-SNE layout, cancel) and the per-epoch maps
of word vectors (Procrustes alignment, layouts stored per epoch)."""
import time

import numpy as np
import pytest

from engine.core.jobs import RunControl, children
from engine.core.runs import RunStore
from engine.embeddings import epoch_maps, project
from engine.embeddings.projection_job import ProjectionJob, latest_layout, running_job


@pytest.fixture
def blobs(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(tmp_path))
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10, size=(3, 20))
    return (centres[np.repeat(np.arange(3), 40)] + rng.normal(size=(120, 20))).astype(np.float32)


def test_tsne_job_progress_is_monotone_reaches_one_and_fills_the_cache(blobs):
    job = ProjectionJob(blobs, "tsne", 2, {"perplexity": 10, "n_iter": 100})
    seen, layouts = [], []
    write, layout = job.write_progress, job._layout
    job.write_progress = lambda rows=None: (seen.append(job.progress.fraction), write(rows))
    job._layout = lambda step, coords: (layouts.append(job.store.frame_step(job.run_id)), layout(step, coords))
    assert job.run() == "completed"
    assert seen[-1] == 1.0 and seen == sorted(seen) and len(seen) >= 2
    assert job.store.get_run(job.run_id).progress["note"].startswith("tsne done in")
    hit = project.cached(blobs, "tsne", 2, perplexity=10, n_iter=100)
    assert hit is not None and hit.coords.shape == (120, 2)
    # The animation's frames, every 10 iterations, each replacing the last; none once it is done.
    assert layouts == [None] + list(range(10, project.TSNE_EARLY_ITERATIONS + 100, 10))
    assert latest_layout(job.store, job.run_id) is None
    assert not job.input.exists() and running_job(job.key) is None


def test_tsne_notes_count_the_asked_iterations(blobs):
    notes = []
    project.fit_transform(blobs, "tsne", 2, progress=lambda f, m: notes.append(m), use_cache=False,
                          perplexity=10, n_iter=100)
    assert "t-SNE: early exaggeration, iteration 10 of 250" in notes
    assert "t-SNE: iteration 100 of 100" in notes and not any("of 350" in n for n in notes)


def test_cancel_stops_the_process_and_caches_nothing(blobs):
    previous = project.fit_transform(blobs, "pca", 2)  # the map on screen before
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3000, 20)).astype(np.float32)
    job = ProjectionJob(x, "tsne", 2, {"n_iter": 2000}).start()
    control = RunControl(job.store, job.run_id)
    deadline = time.monotonic() + 120
    while (control.progress().fraction or 0) <= 0.0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert running_job(job.key) == job.run_id
    assert control.stop(wait=30) == "stopped"
    assert job.run_id not in children()
    assert "previous map stays" in control.progress().message
    assert project.cached(x, "tsne", 2, n_iter=2000) is None
    assert project.cached(blobs, "pca", 2).coords.tobytes() == previous.coords.tobytes()
    assert not job.input.exists() and running_job(job.key) is None
    # A job killed before it could remove its input: the next job does.
    orphan = project.cache_dir() / f".{job.key}.999.input.npy"
    orphan.write_bytes(b"x")
    ProjectionJob(blobs, "umap", 2, {})
    assert not orphan.exists()


def test_umap_reports_each_layout_epoch(monkeypatch):
    # umap-learn's loop iterates tqdm(range(n_epochs)): the pass-through reports each epoch.
    seen = []
    monkeypatch.setattr(project._epoch_reporter, "report", lambda n, total: seen.append((n, total)), raising=False)
    assert list(project._reporting_tqdm(range(3), disable=True)) == [0, 1, 2]
    assert seen == [(0, 3), (1, 3), (2, 3)]


def test_procrustes_recovers_a_known_rotation_exactly():
    rng = np.random.default_rng(2)
    before = rng.normal(size=(50, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))  # a random orthogonal matrix (maybe a reflection)
    after = before @ q + np.array([5.0, -2.0, 1.0])
    np.testing.assert_allclose(epoch_maps.align(after, before), before, atol=1e-10)
    # Only the shared rows decide the rotation; the others follow it.
    shared = np.arange(0, 50, 2)
    np.testing.assert_allclose(epoch_maps.align(after, before, shared), before, atol=1e-10)


def test_word2vec_stores_an_aligned_layout_per_epoch(tmp_path):
    from engine.embeddings.word2vec import train_vectors
    store = RunStore(tmp_path / "runs")
    job = train_vectors("word2vec", "lee", {"epochs": 3, "vector_size": 20, "min_count": 5}, store)
    vocabulary = len(job.model.wv)
    for dims in (2, 3):
        layouts = epoch_maps.epoch_layouts(store, job.run_id, dims)
        assert list(layouts) == [1, 2, 3]
        assert all(c.shape == (vocabulary, dims) and np.isfinite(c).all() for c in layouts.values())
    # Each epoch is turned onto the one before: nothing left to rotate away.
    three = epoch_maps.epoch_layouts(store, job.run_id, 3)
    again = epoch_maps.align(three[3], three[2])
    np.testing.assert_allclose(again, three[3], atol=2e-2)
