"""Waiting for a job in another process, the one way every test does it: poll with a deadline.

No fixed sleeps: on a busy machine a job only gets slower, so a test waits for the state it needs
(up to a generous deadline) and fails with what it was waiting for.
"""
from __future__ import annotations

import time

import pytest


def wait_for(predicate, timeout: float = 120.0, what: str = "the condition"):
    """Poll `predicate` every 20 ms until it returns something true; return that."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)
    return value


def gan_idle_after(store, run_id: int, commands: int):
    """A predicate for wait_for: the hand-stepped GAN's job has done `commands` stepping commands
    and waits for the next click (its run still running)."""
    from engine.latent import gan_session
    
    from engine.core.jobs import RunControl

    def check():
        progress = RunControl(store, run_id).progress()
        assert progress.status == "running", progress.message
        state = gan_session.hand_gan_state(store, progress)
        return state.commands == commands and not state.busy
    return check


def projected(at, timeout: float = 120.0):
    """An AppTest after its projection job (UMAP / t-SNE, in its own process) has ended: the page
    run again, now drawing the map from the cache. Fails if the job did not complete."""
    from engine.embeddings.projection_job import JOB_MODEL, job_store
    store = job_store()
    wait_for(lambda: all(r.status != "running" for r in store.list_runs() if r.model == JOB_MODEL), timeout,
             "the projection job to end")
    assert all(r.status == "completed" for r in store.list_runs()), [(r.status, r.message) for r in store.list_runs()]
    return at.run()
