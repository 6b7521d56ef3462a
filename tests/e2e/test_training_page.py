"""The training page in a real browser: a run's curves grow live, Stop stops it, runs compare.

Runs after test_browser.py (file order): it leaves runs in the server's data dir.
"""
import time

from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob
from tests.e2e.helpers import DRAWN_LINES, heading, screenshot, settled

# The points of the smoothed step-loss line (Vega-Lite's SVG: helpers.DRAWN_LINES), and the number of
# runs on the comparison's step-loss chart.
POINTS = f"""() => ({DRAWN_LINES})().filter(l => /^run \\d+ loss$/.test(l.series) && l.kind === 'smoothed')
  .reduce((n, l) => n + l.n, 0)"""
COMPARED = f"""() => ({DRAWN_LINES})().filter(l => /^#\\d+ loss$/.test(l.series) && l.kind === 'smoothed').length"""

# The tick labels plotly drew on the confusion matrix's axes (null before it is drawn).
CONFUSION_TICKS = """() => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')]
    .find(gd => (gd.data || []).some(t => t.type === 'heatmap' && (t.hovertemplate || '').includes('predicted')));
  if (!gd) return null;
  const ticks = axis => [...gd.querySelectorAll(`.${axis}tick text`)].map(t => t.textContent);
  return {x: ticks('x'), y: ticks('y')};
}"""
# The widget labels and the selectboxes' values drawn cut short: an element narrower than its text
# ("batchn...", or "momentum" in a box that shows "momentun").
CUT_LABELS = """() => [...document.querySelectorAll('[data-testid=stWidgetLabel] *, [data-testid=stSelectbox] input')]
  .filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.value || e.innerText.trim())"""


def test_labels_show_whole_and_why_a_run_cannot_start_sits_under_start(page, app_url, screenshots):
    """Input: links to a CNN on digits with 4 pooling blocks, then to an MLP on spiral (momentum,
    leaky ReLU) with its Data open. Switch labels were cut ("batchn...", "conv p..."), so was the
    optimiser "momentum" in its box, and the reason sat some 1,270 px below Start."""
    page.goto(app_url)
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/training?model=cnn&dataset=digits&cnn.blocks=4")
    heading(page, "Training").wait_for(state="visible", timeout=60_000)
    page.get_by_text("dense", exact=True).wait_for(state="visible")
    settled(page)
    assert page.evaluate(CUT_LABELS) == []
    start = page.get_by_role("button", name="Start").bounding_box()
    reason = page.get_by_test_id("stAlert").filter(has_text="Cannot start a run: 4 pooling blocks").bounding_box()
    assert 0 <= reason["y"] - (start["y"] + start["height"]) < 40, (start, reason)
    page.screenshot(path=screenshots / "training-cannot-start.png")

    page.goto(f"{app_url}/training?model=mlp&dataset=spiral&optimizer=momentum&mlp.activation=leaky_relu")
    heading(page, "Training").wait_for(state="visible", timeout=60_000)
    page.get_by_text("Data", exact=True).click()
    page.get_by_text("data seed", exact=True).wait_for(state="visible")
    settled(page)
    assert page.evaluate(CUT_LABELS) == []
    page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollTo(0, 0)")
    screenshot(page, screenshots / "training-settings.png")


def test_live_curves_grow_then_stop_then_compare(page, app_url, app_data_dir, screenshots, monkeypatch):
    # A finished run to compare with, trained the way the CLI does, into the server's store.
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(app_data_dir))
    store = RunStore(app_data_dir / "runs")
    other = TrainingJob(validate("mlp", "digits", {"epochs": 3}), store, device="cpu")
    assert other.run() == "completed"

    # The first session of a fresh server registers the pages: open Home once before a deep link.
    page.goto(app_url)
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    # Settings come from the URL (a shared link): a CNN on digits, one image per step, 5 epochs so
    # that it is still running when Stop is pressed.
    page.goto(f"{app_url}/training?model=cnn&dataset=digits&epochs=5&batch_size=1")
    heading(page, "Training").wait_for(state="visible", timeout=60_000)
    page.get_by_role("button", name="Start").click()
    page.get_by_text("running").first.wait_for(state="visible")

    page.wait_for_function(f"({POINTS})() > 20")  # a line worth drawing (one point draws nothing)
    first = page.evaluate(POINTS)
    # While the run is live the page never "settles" (the fragment reruns each second): plain shots,
    # after a moment for the chart to draw the data it already holds.
    page.wait_for_timeout(800)
    page.screenshot(path=screenshots / "training-live-1.png")
    page.wait_for_function(f"({POINTS})() > {first}", timeout=30_000)
    second = page.evaluate(POINTS)
    page.screenshot(path=screenshots / "training-live-2.png")
    assert second > first

    page.get_by_role("button", name="Stop").click()
    page.get_by_text("stopped by the user").wait_for(state="visible")
    # This test's run (an earlier test's run on the same server may still be training on a busy machine)
    assert [r.status for r in store.list_runs() if r.id > other.run_id] == ["stopped"]

    # Compare: add the MLP run to the overlay.
    box = page.get_by_test_id("stMultiSelect").locator("input")
    page.get_by_test_id("stStatusWidget").wait_for(state="detached")  # the rerun after Stop is over
    page.get_by_test_id("stMultiSelect").get_by_text("cnn on digits").wait_for(state="visible")
    box.click()
    box.press_sequentially(f"#{other.run_id} mlp")
    # Click the option the typed text leaves, as a person does (Enter raced the list's filtering).
    page.get_by_role("option", name=f"#{other.run_id} mlp on digits").click()
    page.keyboard.press("Escape")
    page.wait_for_function(f"({COMPARED})() === 2")
    # (The hidden "Model" tab's table never draws, so the settle-then-grow helper would wait forever.)
    page.get_by_role("heading", name="Compare runs").scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    page.screenshot(path=screenshots / "training-compare.png")

    # The confusion matrix names every digit on both axes (the y axis named only the even ones). Shown
    # on the finished MLP run: the CNN above may be stopped before its first checkpoint on a busy machine.
    page.goto(f"{app_url}/training?run={other.run_id}")
    page.wait_for_function(f"({CONFUSION_TICKS})() !== null", timeout=60_000, polling=250)
    assert page.evaluate(CONFUSION_TICKS) == {"x": [str(d) for d in range(10)], "y": [str(d) for d in range(10)]}


def _training_pid(store: RunStore, run_id: int) -> int:
    """The pid of the process training the run (its owner, as the store records it)."""
    import sqlite3
    with sqlite3.connect(store.db_path) as conn:
        owner = conn.execute("SELECT owner FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    return int(owner.rsplit(":", 2)[1])


def test_step_pauses_visibly_then_a_killed_run_leaves_the_app_serving(page, app_url, app_data_dir, screenshots):
    import os
    import signal

    store = RunStore(app_data_dir / "runs")
    before = {r.id for r in store.list_runs()}
    page.goto(app_url)
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/training?model=mlp&dataset=spiral&epochs=1000&batch_size=8")
    heading(page, "Training").wait_for(state="visible", timeout=60_000)
    page.get_by_role("button", name="Step").click()
    # However slow the machine, the pause is stored with the epoch it follows: the page shows it.
    page.get_by_text("(paused after epoch 1)").wait_for(state="visible", timeout=90_000)
    page.get_by_role("button", name="Resume").wait_for(state="visible")
    (run_id,) = {r.id for r in store.list_runs()} - before
    assert store.checkpoint_epochs(run_id) == [1]
    page.screenshot(path=screenshots / "training-paused.png")

    page.get_by_role("button", name="Resume").click()
    page.wait_for_function(f"({POINTS})() > 0")
    deadline = time.monotonic() + 60
    while store.get_run(run_id).progress.get("epoch", 0) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    os.kill(_training_pid(store, run_id), signal.SIGKILL)  # the OOM killer, or a user's kill -9
    page.get_by_text("the training process was killed").wait_for(state="visible", timeout=30_000)
    assert store.get_run(run_id).status == "interrupted"
    page.screenshot(path=screenshots / "training-killed.png")
    # The app goes on serving: another page, and a new run.
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Home").click()
    heading(page, "Deep Playground").wait_for(state="visible")
    store.delete_run(run_id)
