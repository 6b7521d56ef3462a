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


def place(at: AppTest, kind: str, text: str) -> tuple[int, ...]:
    """Where the first element of this kind whose label (or value) starts with `text` sits on the
    page: the indices of the blocks from the page's main block down to it (columns and expanders
    are blocks), so a test can say what is drawn next to what."""
    def walk(node, path):
        words = getattr(node, "label", None) or getattr(node, "value", None)
        if getattr(node, "type", None) == kind and isinstance(words, str) and words.startswith(text):
            return path
        for i, child in (getattr(node, "children", None) or {}).items():
            found = walk(child, path + (i,))
            if found is not None:
                return found
        return None

    found = walk(at.main, ())
    if found is None:
        raise KeyError(f"no {kind} starting with {text!r}")
    return found


def chart_rows(at: AppTest, title: str):
    """The rows (a DataFrame: x, y, series...) of the Vega-Lite chart with this title
    (pages/_ui/training_charts.py: the curves)."""
    import json

    import pyarrow as pa

    titles = []
    for element in at.get("vega_lite_chart"):
        spec = json.loads(element.proto.spec)
        titles.append(spec.get("title"))
        if spec.get("title") == title:
            return pa.ipc.open_stream(element.proto.data.data).read_all().to_pandas()
    raise KeyError(f"no chart {title!r} among {titles}")
