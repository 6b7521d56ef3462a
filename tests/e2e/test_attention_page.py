"""The Attention page in a real browser: train a small reverse transformer from the page, watch the
probe heatmaps, type an input and read its cross-attention; then the other views draw.

The server's data dir is shared by every browser test and this file runs before test_browser.py
(which expects no runs): the run trained here is deleted at the end, once it has finished.
"""
import time

import pytest

from engine.core.runs import RunStore
from tests.e2e.helpers import heading, settled

# Heatmap traces drawn by plotly on the page, with the number of cells of the largest one.
HEATMAPS = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .flatMap(gd => (gd._fullData || []).filter(t => t.type === 'heatmap'))
  .map(t => (t._z || t.z || []).length)"""
SMALL = ("att.transformer.d_model=32&att.transformer.d_ff=64&att.transformer.layers=1&att.transformer.heads=2"
         "&att.reverse.n_samples=2000&att.reverse.length=5&att.reverse.vocab=6&att.train.epochs=3")


def screenshot(page, path):
    """The whole main column. (helpers.screenshot sizes the page by the tallest element, and a
    plotly heatmap holds an svg that reports a 9000 px scrollHeight: the shot came out mostly blank.)"""
    settled(page)
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], min(height, 6000))})
    page.wait_for_timeout(1000)
    page.screenshot(path=path, full_page=True)
    page.set_viewport_size(size)


def open_attention(page, app_url, query=""):
    page.goto(app_url)  # a fresh server registers its pages on the first session: Home first
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/attention{'?' + query if query else ''}")
    heading(page, "Attention").wait_for(state="visible", timeout=60_000)


@pytest.fixture
def own_runs(app_data_dir):
    """Delete the runs a test made in the server's store (after they stop training)."""
    store = RunStore(app_data_dir / "runs")
    before = {r.id for r in store.list_runs()}
    yield store
    deadline = time.monotonic() + 60
    while any(r.status == "running" for r in store.list_runs()) and time.monotonic() < deadline:
        time.sleep(0.5)
    for run in store.list_runs():
        if run.id not in before and run.status != "running":
            store.delete_run(run.id)


def test_train_reverse_then_type_an_input(page, app_url, screenshots, own_runs):
    open_attention(page, app_url, f"att.task=reverse&{SMALL}")
    # Step: one epoch, then the run pauses with the probe's heatmaps of that epoch on screen.
    page.get_by_role("button", name="Step", exact=True).click()
    page.get_by_text("paused: after epoch 1 of 3").wait_for(state="visible", timeout=90_000)
    page.wait_for_function(f"({HEATMAPS})().includes(6)")  # the probe's 5 letters + EOS
    page.wait_for_timeout(800)
    page.screenshot(path=screenshots / "attention-live.png")
    # Next epoch: the heatmaps refresh from the new checkpoint (the fragment polls while it runs).
    page.get_by_role("button", name="Next epoch").click()
    page.get_by_text("paused: after epoch 2 of 3").wait_for(state="visible", timeout=90_000)
    page.get_by_role("button", name="Resume").click()
    page.get_by_text("Epoch", exact=True).wait_for(state="visible", timeout=90_000)
    # Ended: the picker's label says so (the page reran when the run completed), Stop is gone.
    page.wait_for_function("() => [...document.querySelectorAll('input[role=combobox][aria-label=Run]')]"
                           ".some(i => i.value.includes('transformer on reverse (completed'))")
    assert page.get_by_role("button", name="Stop training").count() == 0
    page.get_by_text("Probe abcde").first.wait_for(state="visible")
    page.get_by_text("What to expect on reverse").wait_for(state="visible")

    box = page.get_by_label("Input sequence", exact=True).and_(page.get_by_role("textbox"))
    box.fill("fedab")
    box.press("Enter")
    page.get_by_text("Output (epoch 3)").wait_for(state="visible")
    page.wait_for_function(f"({HEATMAPS})().includes(6)")  # 5 letters + EOS rows of cross-attention
    screenshot(page, screenshots / "attention-reverse.png")

    # Characters outside the vocabulary: named in a message, no traceback.
    box.fill("abz!")
    box.press("Enter")
    page.get_by_text("'z', '!' are not in this task's vocabulary").wait_for(state="visible")
    assert page.get_by_test_id("stException").count() == 0


def test_other_views_draw(page, app_url, screenshots, own_runs):
    open_attention(page, app_url, "view=Positional+encodings")
    page.wait_for_function(f"({HEATMAPS})().length >= 2")
    screenshot(page, screenshots / "attention-positions.png")

    page.get_by_text("Recurrent", exact=True).click()
    heading(page, "Vanishing and exploding gradients").wait_for(state="visible")
    page.get_by_text("going back 50 steps the gradient explodes").wait_for(state="visible")
    screenshot(page, screenshots / "attention-recurrent.png")

    # The linear-RNN demo trains as a job (its own process): its curve and verdict come from the store.
    page.get_by_text("Train the linear RNN on counting").click()
    page.locator(".st-key-lr_go button").click()
    page.get_by_text("the loss became inf at epoch 29").wait_for(state="visible", timeout=90_000)
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')]"
                           ".some(gd => (gd._fullData || []).some(t => t.name === 'w'))")
    assert page.get_by_test_id("stException").count() == 0
    page.get_by_text("Train the linear RNN on counting").scroll_into_view_if_needed()
    screenshot(page, screenshots / "attention-linear-rnn.png")

    page.get_by_text("MiniLM (pretrained)", exact=True).click()
    page.wait_for_function(f"({HEATMAPS})().includes(9)", timeout=90_000)  # [CLS] the cat sat on the mat . [SEP]
    screenshot(page, screenshots / "attention-minilm.png")
