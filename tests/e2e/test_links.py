"""Links in a real browser (issue #13): a markdown link pasted into ?run= is shown as text in the
page's own box, never as a link (Streamlit's renderer links a bare URL even when its markdown is
escaped: pages/_ui/safe_markdown.py); Home's recent runs link to the page that shows each run."""
from urllib.parse import quote

import pytest

import engine.models  # noqa: F401  (registers the built-in models)
from engine.core.registry import validate
from engine.core.runs import RunStore
from tests.e2e.helpers import heading, screenshot

LINK = "[text](http://evil.example)"


@pytest.mark.parametrize("path, title, box", [
    ("latent-space", "Latent space", "Cannot open the run named in the link"),
    ("training", "Training", "Cannot open the run named in the link"),
    ("saliency", "Saliency", "from the link cannot be opened here"),
])
def test_a_markdown_link_in_the_url_is_shown_as_text(page, app_url, path, title, box):
    page.goto(f"{app_url}/{path}?run={quote(LINK)}")
    heading(page, title).wait_for(state="visible", timeout=60_000)
    alert = page.get_by_test_id("stAlert").filter(has_text=box)
    alert.wait_for(state="visible")
    assert LINK in alert.inner_text().replace("\u2060", "")  # the characters, as typed
    assert alert.locator("a").count() == 0
    assert page.locator("a[href*='evil.example']").count() == 0


def test_home_links_a_run_to_its_page(page, app_url, app_data_dir, screenshots):
    store = RunStore(app_data_dir / "runs")
    run_id = store.create_run("vae", "digits", validate("vae", "digits", {"epochs": 1}).as_dict())
    store.set_status(run_id, "completed", final={"val_loss": 30.5})

    page.goto(app_url)
    heading(page, "Recent runs").wait_for(state="visible", timeout=60_000)
    runs = page.get_by_test_id("stDataFrame")
    # The grid's hidden cells (for screen readers) hold the values; it draws "latent-space" and a dash.
    runs.get_by_role("gridcell", name=f"latent-space?run={run_id}", exact=True,
                     include_hidden=True).first.wait_for(state="attached")
    runs.scroll_into_view_if_needed()
    screenshot(page, screenshots / "home-run-links.png")
    # Click the newest run's link cell, as a person would: the grid is a canvas, so by position (the
    # second column, past the narrow id column; the first row, under the 35 px header).
    box = runs.bounding_box()
    x, y = box["x"] + 120, box["y"] + 35 + 17
    page.mouse.move(x, y)
    with page.context.expect_page() as opened:  # a link cell opens in a new tab
        page.mouse.click(x, y)
    run_page = opened.value
    run_page.wait_for_load_state()
    assert run_page.url == f"{app_url}/latent-space?run={run_id}"
    heading(run_page, "Latent space").wait_for(state="visible", timeout=60_000)
    run_page.get_by_text(f"Run {run_id}").first.wait_for(state="visible")
    assert run_page.get_by_test_id("stAlert").filter(has_text="Cannot open").count() == 0
