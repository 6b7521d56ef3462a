import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# app.py starts the UMAP warm-up (a minute or two of a core); tests that want it unset this.
os.environ.setdefault("DEEP_PLAYGROUND_NO_UMAP_WARMUP", "1")


@pytest.fixture(scope="session")
def shared_data_dir(tmp_path_factory):
    """One data dir for the session, so MNIST is converted to .npz once, not per test.
    $DEEP_PLAYGROUND_TEST_MNIST names a converted mnist.npz to start it with (the GPU machine has
    no zarr to convert one)."""
    root = tmp_path_factory.mktemp("data")
    if os.environ.get("DEEP_PLAYGROUND_TEST_MNIST"):
        shutil.copy(os.environ["DEEP_PLAYGROUND_TEST_MNIST"], root / "mnist.npz")
    return root


def _project_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("DEEP_PLAYGROUND_")}


@pytest.fixture(autouse=True, scope="module")
def project_env_restored():
    """Each test module leaves the DEEP_PLAYGROUND_* settings as it found them, or results depend on
    the order tests run in. Set them with `monkeypatch.setenv`, or in a module-scoped fixture with
    `pytest.MonkeyPatch.context()`. Autouse and module-scoped, so this runs its check after every
    module fixture has been torn down."""
    before = _project_env()
    yield
    after = _project_env()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"this module left {', '.join(changed)} changed: {before=} {after=}"


@pytest.fixture
def data_env(shared_data_dir, monkeypatch):
    """Point the engine's data dir at the session folder (never the user's real cache)."""
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(shared_data_dir))
    return shared_data_dir


@pytest.fixture
def one_thread():
    """Toy models and MiniLM on a few tokens run fastest on one torch thread: on a busy 2-core
    machine two OpenMP threads that wait on each other made runs 10x slower (3 s vs 40 s, LSTM)."""
    import torch
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
