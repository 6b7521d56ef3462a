"""A link's query values reach every page as typed text (issue #13): a 20-digit run id, a Unicode
digit or a markdown link in ?run= is a clear message in the page's own box, never a traceback, and
never markup: the box shows the characters, it does not turn them into a link."""
from pathlib import Path

import pytest

from tests.app.helpers import open_page

ROOT = Path(__file__).resolve().parents[2]
BIG = "99999999999999999999"  # 20 digits: more than SQLite's INTEGER holds
LINK = "[text](http://evil.example)"
# The link as the page puts it into markdown: brackets and colon escaped, and a WORD JOINER (U+2060)
# before "http", or the renderer links the bare URL (tests/e2e/test_links.py checks it in chromium).
LINK_SHOWN = "\\[text\\](\u2060http\\://evil.example)"
RANGE = "between 1 and 9223372036854775807"
NO_RUN = "Cannot open the run named in the link: "


pytestmark = pytest.mark.usefixtures("fresh_data_dir")


@pytest.mark.parametrize("page", ["train.py", "attention.py", "latent.py"])
@pytest.mark.parametrize("value, message", [
    (BIG, f"{NO_RUN}a run id must be {RANGE}; got {BIG}."),  # was OverflowError in runs.py
    ("²", f"{NO_RUN}'²' is not a run id."),  # was "invalid literal for int()": "²".isdigit() is True
    ("٣", f"{NO_RUN}'٣' is not a run id."),  # was run 3: int() reads Arabic-Indic digits
    ("0", f"{NO_RUN}a run id must be at least 1; got 0."),
    (LINK, f"{NO_RUN}'{LINK_SHOWN}' is not a run id."),  # was silently ignored (train, attention)
])
def test_a_bad_run_in_the_link_is_an_error_box(page, value, message):
    at = open_page(str(ROOT / "pages" / page), run=value)  # fails on any exception
    assert [e.value for e in at.error] == [message]


@pytest.mark.parametrize("value, problem", [
    (BIG, f"there is no run {BIG}; \\`python -m engine runs list\\` lists the runs"),  # was OverflowError
    ("²", "'²' is neither a run id nor 'default'"),
    (LINK, f"'{LINK_SHOWN}' is neither a run id nor 'default'"),  # was a live link in the warning box
])
def test_saliency_says_why_the_linked_run_is_not_shown(value, problem):
    at = open_page(str(ROOT / "pages" / "saliency.py"), run=value)
    shown = LINK_SHOWN if value == LINK else value
    assert [w.value for w in at.warning][:1] == [
        f"Run {shown} from the link cannot be opened here: {problem}. Showing the default CNN instead."]
    assert all("](http" not in m.value for m in at.warning)


def test_latent_names_a_missing_run_with_its_escaped_reason(tmp_path):
    """?run=5 with no run 5: the engine's reason, its backticks shown as backticks."""
    at = open_page(str(ROOT / "pages" / "latent.py"), run="5")
    assert [e.value for e in at.error] == [
        "Cannot open that run: there is no run 5; \\`python -m engine runs list\\` lists the runs."]


@pytest.mark.parametrize("top, points", [
    ("²", 10_000),  # was "invalid literal for int()"; the default instead
    ("3", 10),  # below the slider's minimum: its minimum
    (BIG, 400_000),  # more than the vocabulary: all of it
    ("-5", 10),
])
def test_embeddings_top_in_the_link_is_read_as_ascii_digits(monkeypatch, top, points):
    monkeypatch.setenv("DEEP_PLAYGROUND_DEVICE", "cpu")
    monkeypatch.setenv("DEEP_PLAYGROUND_NO_UMAP_WARMUP", "1")
    # t-SNE waits for its button, PCA of the same points on screen meanwhile (coloured by rank: no
    # k-means over 400k words).
    at = open_page(str(ROOT / "pages" / "embeddings.py"), timeout=180, top=top, method="tsne", colour="rank")
    slider = next(s for s in at.slider if s.key.startswith("top_n:"))
    assert slider.value == points
