"""AppTest helpers shared by the page tests: open a page (with query params), find widgets."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest


def open_page(path: str, timeout: int = 60, **query) -> AppTest:
    """Run a page script once, with these query params, and fail on any exception."""
    at = AppTest.from_file(path, default_timeout=timeout)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def widget(at: AppTest, key: str):
    for kind in ("selectbox", "select_slider", "slider", "toggle", "number_input"):
        for w in getattr(at, kind):
            if w.key == key:
                return w
    raise KeyError(key)
