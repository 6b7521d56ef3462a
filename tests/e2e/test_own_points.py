"""Your own points in a real browser: a CSV uploaded trains to the end; points drawn by clicking on the
plane (clicks AppTest cannot make) become a dataset."""
import re
from urllib.parse import quote

import numpy as np

from engine.core.runs import RunStore
from engine.data.saved_points import load_points
from pages._ui.points_input import OWN_POINTS
from tests.e2e.helpers import heading, screenshot, settled


# The decision boundary's canvas (pages/_ui/canvas/plane.js), once it has drawn a frame of the run.
BOUNDARY = """() => [...document.querySelectorAll('.dp-plane')].some(e => +e.dataset.step > 0)"""


def open_own_points(page, app_url, query: str = ""):
    page.goto(app_url)  # a first visit straight to a page's URL finds no page before app.py has run once
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/training?model=mlp&dataset={quote(OWN_POINTS)}{query}")
    heading(page, "Training").wait_for(state="visible", timeout=60_000)
    page.get_by_text("Or draw them").wait_for(state="visible")
    settled(page)


def blobs_csv(path):
    """Two separable blobs, 100 points each, in [-6, 6]^2, labelled 'north' and 'south'."""
    rng = np.random.default_rng(0)
    rows = [f"{x:.3f},{y:.3f},{'north' if y > 0 else 'south'}"
            for x, y in np.concatenate([rng.normal((1, 3), 1, (100, 2)), rng.normal((-1, -3), 1, (100, 2))])]
    path.write_text("x,y,label\n" + "\n".join(rows) + "\n")
    return path


def test_upload_a_csv_then_start_trains_it_to_the_end(page, app_url, app_data_dir, tmp_path, screenshots):
    """Input: 200 points in two blobs uploaded as blobs.csv; 30 epochs, learning rate 0.03 from the URL."""
    open_own_points(page, app_url, "&epochs=30&lr=0.03")
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(blobs_csv(tmp_path / "blobs.csv")))
    page.get_by_text("Saved and selected: Your points: blobs.csv (200 points)").wait_for(state="visible")
    settled(page)
    screenshot(page, screenshots / "own-points-uploaded.png")
    page.get_by_role("button", name="Start").click()
    page.get_by_text(re.compile(r"on points-[0-9a-f]{12} · cpu · completed")).wait_for(state="visible", timeout=240_000)
    run = RunStore(app_data_dir / "runs").list_runs(limit=1)[0]
    assert run.status == "completed" and run.dataset.startswith("points-") and run.final["epochs"] == 30
    assert run.final["val_acc"] >= 0.9, run.final
    # The boundary over the uploaded points (the plane's canvas). The hidden Model tab's table never
    # draws, so the page never "settles": a plain shot of a tall viewport, after a moment to draw.
    page.wait_for_function(BOUNDARY, timeout=60_000)
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.wait_for_timeout(1500)
    page.screenshot(path=screenshots / "own-points-trained.png")


def click_plane(page, fx: float, fy: float, expect: str) -> None:
    """Click at a fraction of the plane's width and height (from its top left); wait for the count."""
    # Keyed by its version: on a busy machine the previous plane may still be in the page for a moment
    # while the new one mounts; the newest is the last.
    plot = page.locator("[class*='st-key-own_points_plane_'] .js-plotly-plot").last
    plot.scroll_into_view_if_needed()
    box = plot.locator(".nsewdrag").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
    page.get_by_text(expect).wait_for(state="visible")
    settled(page)


def test_draw_points_by_clicking_undo_and_use_them(page, app_url, app_data_dir, screenshots):
    """Input: 6 blue clicks on the left half, 7 orange on the right, Undo (12 left), Use these points."""
    from playwright.sync_api import expect  # the fixtures skip without playwright
    open_own_points(page, app_url)
    for i in range(6):
        click_plane(page, 0.15 + 0.04 * i, 0.2 + 0.1 * i, f"{i + 1} point{'s' * (i > 0)}: {i + 1} blue, 0 orange")
    page.get_by_text("orange", exact=True).click()
    expect(page.get_by_role("radio", name="orange")).to_be_checked()  # picked before the next click
    settled(page)
    for i in range(7):
        click_plane(page, 0.7 + 0.03 * i, 0.15 + 0.1 * i, f"{7 + i} points: 6 blue, {i + 1} orange")
    page.get_by_role("button", name="Undo").click()
    page.get_by_text("12 points: 6 blue, 6 orange").wait_for(state="visible")
    heading(page, "Training").scroll_into_view_if_needed()  # the whole page, from its top
    screenshot(page, screenshots / "own-points-drawn.png")
    page.get_by_role("button", name="Use these points").click()
    page.get_by_text("Saved and selected: Your drawn points (12 points)").wait_for(state="visible")
    name = re.search(r"points-[0-9a-f]{12}", page.get_by_text("Saved and selected").inner_text()).group(0)
    points = load_points(name, app_data_dir)
    blue, orange = points.xy[points.target == 0], points.xy[points.target == 1]
    assert len(blue) == len(orange) == 6 and (blue[:, 0] < 0).all() and (orange[:, 0] > 0).all()
    assert np.abs(points.xy).max() <= 1
    assert page.get_by_text("Batch size set to 4 to fit its 6 training points.").is_visible()
    heading(page, "Training").scroll_into_view_if_needed()
    screenshot(page, screenshots / "own-points-drawn-saved.png")
