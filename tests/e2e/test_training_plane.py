"""The Training page's plane in a real browser: the spiral shown before any run, the boundary moving
while a run trains, and a network drawn from a frame. The plane and the network are canvases
(pages/_ui/canvas): these tests read their pixels and the step each one shows."""
import engine.models  # noqa: F401  (registers the models validate needs)
from engine.core.registry import validate
from engine.core.runs import RunStore
from tests.e2e.helpers import heading, settled
from tests.neuron_frames import network_frame

# The plane showing a frame (the boundary; the preview has no step) or the preview.
BOUNDARY = "[...document.querySelectorAll('.dp-plane')].find(e => e.dataset.step)"
PREVIEW = "[...document.querySelectorAll('.dp-plane')].find(e => !e.dataset.step)"
# How many of a canvas's pixels are near TF Playground's blue (#0877bd) and orange (#f59322), and a
# fingerprint of all of them (to tell two drawings apart).
COLOURS = """(root) => {
  const canvas = root.querySelector('canvas');
  const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let blue = 0, orange = 0, print = 0;
  const near = (i, r, g, b) => Math.abs(d[i] - r) + Math.abs(d[i + 1] - g) + Math.abs(d[i + 2] - b) < 60;
  for (let i = 0; i < d.length; i += 4) {
    if (near(i, 8, 119, 189)) blue++;
    if (near(i, 245, 147, 34)) orange++;
    print = (print * 31 + d[i] + 7 * d[i + 1] + 13 * d[i + 2]) % 1000000007;
  }
  return {blue, orange, print, step: root.dataset.step};
}"""


def plane(page, which: str) -> dict:
    return page.evaluate(f"() => ({COLOURS})({which})")


def test_the_spiral_shows_before_any_run_then_its_boundary_moves_while_it_trains(page, app_url, app_data_dir,
                                                                               screenshots):
    """Input: the Training page with no settings in its URL (the spiral), then an MLP (3 x 128, lr
    0.003, batch 16, 1000 epochs) started on it: the preview draws both classes' points; then the
    boundary shows a step and redraws with newer steps and other pixels while the run trains."""
    page.goto(app_url)
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/training")
    heading(page, "Training").wait_for(state="visible", timeout=60_000)
    page.wait_for_function(f"() => {PREVIEW} && {PREVIEW}.querySelector('canvas').width > 0")
    settled(page)
    preview = plane(page, PREVIEW)
    assert preview["blue"] > 200 and preview["orange"] > 200, preview  # 250 points of each, a few pixels each
    page.locator(".dp-plane").first.screenshot(path=screenshots / "training-spiral-preview.png")
    page.screenshot(path=screenshots / "training-spiral-page.png")

    store = RunStore(app_data_dir / "runs")
    before = {r.id for r in store.list_runs()}
    page.goto(f"{app_url}/training?mlp.width=128&mlp.depth=3&lr=0.003&batch_size=16&epochs=1000")
    heading(page, "Training").wait_for(state="visible", timeout=60_000)
    page.get_by_role("button", name="Start").click()
    page.wait_for_function(f"() => {BOUNDARY} && +{BOUNDARY}.dataset.step > 0", timeout=90_000, polling=100)
    page.wait_for_timeout(300)  # (the canvas draws as it sets its step)
    first = plane(page, BOUNDARY)
    page.locator(".dp-plane[data-step]").screenshot(path=screenshots / "training-boundary-1.png")
    page.wait_for_function(f"() => +{BOUNDARY}.dataset.step > {first['step']}", timeout=60_000, polling=100)
    page.wait_for_timeout(300)
    second = plane(page, BOUNDARY)
    page.locator(".dp-plane[data-step]").screenshot(path=screenshots / "training-boundary-2.png")
    assert int(second["step"]) > int(first["step"]) and second["print"] != first["print"]
    assert second["blue"] > 1000 and second["orange"] > 1000, second  # the surface, both classes' sides
    page.screenshot(path=screenshots / "training-boundary-page.png")
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("stopped by the user").wait_for(state="visible")
    for run_id in {r.id for r in store.list_runs()} - before:
        store.delete_run(run_id)


def test_a_frame_with_neurons_draws_the_network(page, app_url, app_data_dir, screenshots, monkeypatch):
    """Input: a finished spiral run whose last frame is a 3-layer, 6-unit network on 4 features (made
    by hand in the contract's shapes): the network's canvas draws its maps and weights."""
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(app_data_dir))
    store = RunStore(app_data_dir / "runs")
    config = validate("mlp", "spiral", {"epochs": 3})
    run_id = store.create_run("mlp", "spiral", {**config.as_dict(), "device": "cpu"})
    store.save_frame(run_id, 321, network_frame(layers=3, units=6, features=4, seed=2))
    store.set_status(run_id, "completed")
    page.goto(app_url)
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/training?run={run_id}")
    heading(page, "Training").wait_for(state="visible", timeout=60_000)
    network = "document.querySelector('.dp-network')"
    page.wait_for_function(f"() => {network} && {network}.dataset.draws > 0", timeout=60_000)
    drawn = page.evaluate(f"() => ({COLOURS})({network})")
    assert drawn["step"] == "321" and drawn["blue"] > 300 and drawn["orange"] > 300, drawn
    page.get_by_text("What each neuron computes").scroll_into_view_if_needed()
    page.locator(".dp-network").screenshot(path=screenshots / "training-network.png")
    store.delete_run(run_id)
