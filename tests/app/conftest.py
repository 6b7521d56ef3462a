"""Fixtures shared by the page tests."""
import pytest


@pytest.fixture
def fresh_data_dir(tmp_path, monkeypatch):
    """A fresh data dir per test (never the user's cache) and the automatic device choice."""
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(tmp_path))
    monkeypatch.delenv("DEEP_PLAYGROUND_DEVICE", raising=False)
    return tmp_path
