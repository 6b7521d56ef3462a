"""The Saliency page's pointing game in a real browser, on a CNN trained on the colour shapes."""
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob
from tests.e2e.helpers import heading, screenshot, settled
from tests.e2e.test_saliency_page import wait_for_images


def test_pointing_game_on_a_shapes_run(page, app_url, app_data_dir, screenshots, monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(app_data_dir))
    config = validate("cnn", "shapes", {"epochs": 1, "channels": 8, "blocks": 3, "dense": 32, "batchnorm": True},
                      {"n_train": 500, "n_val": 100, "clutter": 0.3})
    job = TrainingJob(config, RunStore(app_data_dir / "runs"), device="cpu")
    assert job.run() == "completed"
    page.goto(app_url)
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/saliency?run={job.run_id}")
    heading(page, "Saliency").wait_for(state="visible")
    page.get_by_text(f"Run {job.run_id}: cnn on shapes").first.wait_for(state="visible")
    settled(page)
    page.get_by_role("radio", name="Pointing game").click()
    page.get_by_text("Pointing game over 100 test images").wait_for(state="visible", timeout=180_000)
    settled(page)
    table = page.get_by_test_id("stDataFrame").first
    table.wait_for(state="visible")
    page.get_by_text("Hit rates of the baselines: random map").wait_for(state="visible")
    wait_for_images(page, 1 + 6 * 6)  # the input, then six example tiles per method
    screenshot(page, screenshots / "saliency-pointing-game.png")
