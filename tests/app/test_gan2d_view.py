"""AppTest of the GAN on 2D points on the Latent space page (?view=GAN on 2D points): the target
before any run, Start (a Trainer run in its own process) and its plane, curves and coverage
sentence, hand stepping, refused settings."""
import base64
import json
from pathlib import Path

import numpy as np
import pytest

from engine.core.runs import RunStore
from tests.app.helpers import button, open_page, widget
from tests.waiting import gan_idle_after as idle_after, wait_for

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "latent.py")
VIEW = "GAN on 2D points"


@pytest.fixture(autouse=True)
def app_env(fresh_data_dir):
    return fresh_data_dir


def charts(at) -> list[dict]:
    """Every plotly chart's spec, with the binary arrays decoded."""
    specs = []
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        for trace in spec["data"]:
            for axis in ("x", "y", "z"):
                value = trace.get(axis)
                if isinstance(value, dict) and "bdata" in value:
                    array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
                    shape = tuple(int(n) for n in str(value.get("shape", len(array))).split(","))
                    trace[axis] = array.reshape(shape)
        specs.append(spec)
    return specs


def plane(at) -> dict:
    return next(s for s in charts(at) if any(t.get("name") == "real" for t in s["data"]))


def canvas(at, key: str) -> dict:
    """The data sent to the canvas (a components.v2 element) with this key."""
    for element in at.get("bidi_component"):
        if element.proto.id.endswith(f"-{key}"):
            return json.loads(element.proto.json)
    raise KeyError(f"no canvas {key!r} among {[e.proto.id for e in at.get('bidi_component')]}")


def titles(at) -> list[str]:
    return [s["layout"].get("title", {}).get("text", "") for s in charts(at)]


def test_the_view_shows_the_ring_before_any_run():
    """Input: the Latent space page with ?view=GAN on 2D points, no runs."""
    at = open_page(PAGE, view=VIEW)
    assert any(s.value == "GAN on 2D points" for s in at.subheader)
    assert widget(at, "g2_target").value == "ring" and widget(at, "gan2d.latent").value == 2
    assert not button(at, "Start").disabled and button(at, "Stop").disabled
    assert all(button(at, b).disabled for b in ("Step D", "Step G", "Step both"))
    real = next(t for t in plane(at)["data"] if t["name"] == "real")
    assert len(real["x"]) == 8000  # the ring's training points, drawn before any run
    assert not at.error and not any(s.value == "Walk the latent space" for s in at.subheader)


def test_start_trains_and_the_view_draws_the_field_points_manifold_and_curves(fresh_data_dir):
    """Input: the ring, 3 epochs (375 steps), Start; then the page again once the run has ended."""
    at = open_page(PAGE, view=VIEW)
    widget(at, "g2.epochs").set_value(3)
    at.run()
    button(at, "Start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run_id = at.session_state.gan2d_run
    store = RunStore(fresh_data_dir / "runs")
    assert store.get_run(run_id).model == "gan2d" and not button(at, "Stop").disabled
    wait_for(lambda: store.get_run(run_id).status != "running", what="the run to end")
    assert store.get_run(run_id).status == "completed"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    drawn = canvas(at, "gan2d_plane")  # the live frame, on the plane canvas (pages/_ui/plane.py)
    assert drawn["classes"] == ["real", "fake"] and drawn["step"] == 375 and drawn["label"] == "D: real"
    assert (drawn["surface"]["nx"], drawn["surface"]["ny"]) == (64, 64)  # D's field
    kinds = np.frombuffer(base64.b64decode(drawn["train"]["v"]), dtype=np.float32)
    assert (kinds == 1).sum() == 1000  # the fakes from fixed noise, beside the real points
    lines = drawn["lines"]
    assert len(np.frombuffer(base64.b64decode(lines["xy"]), dtype=np.float32)) == lines["n"] * lines["m"] * 2
    assert titles(at) == ["D and G losses", "Real vs fake", "Modes covered (of 8)"]
    words = [m.value for m in (*at.success, *at.warning, *at.info)]
    assert any("modes" in w and "generator covers" in w for w in words), words
    assert any(c.value.startswith("Step 375 · KL(real ‖ fake)") for c in at.caption)
    assert any(p.proto.text.startswith("epoch 3/3") for p in at.get("progress"))
    assert any(m.value.endswith("trained with Start · **completed**") for m in at.markdown)


def test_new_hand_gan_then_step_both_redraws_the_plane(fresh_data_dir):
    """Input: New hand GAN on the ring, 10 steps per click, Step both once."""
    at = open_page(PAGE, view=VIEW)
    button(at, "New hand GAN").click().run()
    run_id = at.session_state.gan2d_run
    store = RunStore(fresh_data_dir / "runs")
    wait_for(lambda: store.frame_step(run_id) == 0, what="the hand GAN's first frame (fresh weights)")
    at.run()
    assert any(c.value.startswith("Step 0 ·") for c in at.caption)
    assert not button(at, "Step both").disabled
    button(at, "Step both").click().run()
    wait_for(idle_after(store, run_id, 1), what="10 D and G steps")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(c.value.startswith("Step 10 ·") for c in at.caption)
    assert any(c.value == "waiting for a click (10 D steps and 10 G steps so far)" for c in at.caption)
    assert "D and G losses" in titles(at) and "Real vs fake" in titles(at)
    button(at, "Stop").click().run()
    assert store.get_run(run_id).status == "stopped"


def test_settings_that_do_not_fit_say_why_and_start_nothing(fresh_data_dir):
    """Input: 100 points of the ring (80 to train) with batch size 128."""
    at = open_page(PAGE, view=VIEW)
    widget(at, "g2.ring.n_samples").set_value(100)
    widget(at, "g2.batch_size").set_value(128)
    at.run()
    assert any("batch size 128 is larger than the 80 training examples" in e.value for e in at.error)
    assert button(at, "Start").disabled and button(at, "New hand GAN").disabled
    assert not RunStore(fresh_data_dir / "runs").list_runs()
