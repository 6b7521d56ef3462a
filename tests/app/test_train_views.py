"""AppTest of the Training page's pictures: the data before any run, the live boundary drawn from a
run's stored frame (with TF Playground's two switches), the network of a hand-made frame, the
suggested settings, and the page's default (the spiral)."""
import base64
import json
from pathlib import Path

import numpy as np
import pytest

import engine.models  # noqa: F401  (registers the models validate needs)
from engine.core.registry import TRAINING_PARAMS, get_spec, validate
from engine.core.runs import RunStore
from engine.data import get_info, load_dataset
from engine.data.suggested import suggested
from tests.app.helpers import button, open_page, widget
from tests.app.test_train_page import app_env  # noqa: F401  (the same autouse data dir and device)
from tests.neuron_frames import network_frame

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "train.py")




@pytest.fixture
def store(shared_data_dir) -> RunStore:
    return RunStore(shared_data_dir / "runs")


def _decoded(value):
    """A plotly array as the figure's JSON holds it (a list, or base64 `bdata` with its dtype)."""
    if isinstance(value, dict) and "bdata" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return array.reshape([int(n) for n in str(shape).split(",")]) if shape else array
    return np.asarray(value)


def chart(at, key: str) -> dict:
    """The figure (data and layout) of the plotly chart with this key."""
    for element in at.get("plotly_chart"):
        if element.proto.id and element.proto.id.endswith(f"-{key}"):
            return json.loads(element.proto.spec)
    raise KeyError(f"no chart {key!r} among {[e.proto.id for e in at.get('plotly_chart')]}")


def canvas(at, key: str) -> dict:
    """The data sent to the canvas (a components.v2 element) with this key."""
    for element in at.get("bidi_component"):
        if element.proto.id.endswith(f"-{key}"):
            return json.loads(element.proto.json)
    raise KeyError(f"no canvas {key!r} among {[e.proto.id for e in at.get('bidi_component')]}")


def _floats(b64: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(b64), dtype=np.float32)


def points_shown(data: dict) -> dict[str, np.ndarray]:
    """{"blue (train)": (n, 2) points, ...} of a plane canvas's data."""
    out = {}
    for split in ("train", "test"):
        if data[split] is None:
            continue
        xy, v = _floats(data[split]["xy"]).reshape(-1, 2), _floats(data[split]["v"])
        for c, name in enumerate(data["classes"]):
            out[f"{name} ({split})"] = xy[v == c]
    return out


def surface_shown(data: dict) -> np.ndarray:
    """The plane's surface as 0..1 (ny, nx), rows along y (as it was quantised to 0..255)."""
    surface = data["surface"]
    q = np.frombuffer(base64.b64decode(surface["q"]), dtype=np.uint8).reshape(surface["ny"], surface["nx"])
    low, high = data["range"]
    return low + q / 255 * (high - low)


def finished_run(store: RunStore, options: dict | None = None) -> int:
    config = validate("mlp", "spiral", {"epochs": 3}, options)
    run_id = store.create_run("mlp", "spiral", {**config.as_dict(), "device": "cpu"})
    store.set_status(run_id, "completed")
    return run_id


# ---- the page's default, and the data before any run ----------------------------------------------
def test_with_no_settings_in_the_url_the_page_opens_on_the_spiral_and_shows_it():
    """Input: the page with no query string. The spiral's 500 default points (250 train, 250 test)
    are drawn before any run, blue and orange, train and test apart."""
    at = open_page(PAGE)
    assert widget(at, "dataset").value == "spiral"
    assert "points" in get_spec(widget(at, "model").value).data_kinds
    shown = points_shown(canvas(at, "data_preview"))
    assert sorted(shown) == ["blue (test)", "blue (train)", "orange (test)", "orange (train)"]
    assert len(shown["blue (train)"]) + len(shown["orange (train)"]) == 250
    assert len(shown["blue (test)"]) + len(shown["orange (test)"]) == 250
    assert not at.error and not at.warning


def test_moving_the_noise_slider_redraws_the_points():
    """Input: spiral, noise 0.0 then 0.4 (same data seed): the same number of points, moved."""
    at = open_page(PAGE, model="mlp", dataset="spiral", **{"spiral.noise": "0.0"})
    before = points_shown(canvas(at, "data_preview"))["blue (train)"]
    widget(at, "spiral.noise").set_value(0.4).run()
    after = points_shown(canvas(at, "data_preview"))["blue (train)"]
    assert before.shape == after.shape and not np.allclose(before, after)
    data = load_dataset("spiral", {"noise": 0.4})
    np.testing.assert_allclose(after, data.x_train[data.y_train == 0].numpy(), rtol=1e-6)


def test_the_size_and_split_sliders_change_how_many_points_are_drawn():
    """Input: circle with 1000 points, 30 % for training."""
    at = open_page(PAGE, model="mlp", dataset="circle", **{"circle.n_samples": "1000", "circle.train_fraction": "0.3"})
    shown = points_shown(canvas(at, "data_preview"))
    assert sum(len(v) for k, v in shown.items() if "train" in k) == 300
    assert sum(len(v) for k, v in shown.items() if "test" in k) == 700


def test_an_image_set_shows_a_row_of_samples_for_each_class():
    """Input: a CNN on the 8x8 digits: one image (the grid) whose rows are named 0..9."""
    at = open_page(PAGE, model="cnn", dataset="digits")
    figure = chart(at, "data_preview")
    assert [t["type"] for t in figure["data"]] == ["image"]
    assert figure["data"][0]["source"].startswith("data:image/png;base64,")
    assert figure["layout"]["yaxis"]["ticktext"] == [str(d) for d in range(10)]


def test_a_sequence_task_shows_input_target_pairs():
    """Input: a transformer on `reverse` (length 8): each target is its input backwards, then <eos>."""
    at = open_page(PAGE, model="transformer", dataset="reverse")
    pairs = at.dataframe[0].value
    assert list(pairs.columns) == ["input", "target"] and len(pairs) == 6
    for source, target in zip(pairs.input, pairs.target):
        assert len(source) == 8 and target == source[::-1] + "<eos>"
    assert any("vocabulary of 13 tokens" in c.value for c in at.caption)


def test_counting_ones_shows_bits_and_their_count():
    """Input: the recurrent model on count_ones: each target is the number of ones of its bits."""
    at = open_page(PAGE, model="recurrent", dataset="count_ones")
    pairs = at.dataframe[0].value
    assert len(pairs) == 6
    for bits, count in zip(pairs["input (bits)"], pairs["target (count)"]):
        assert len(bits) == 20 and bits.count("1") == count


def test_beside_a_run_the_next_runs_data_stays_a_click_away(store):
    """Input: a finished run on show, then the Data's noise moved: the preview is in an expander."""
    run_id = finished_run(store)
    at = open_page(PAGE, model="mlp", dataset="spiral", run=str(run_id))
    assert any(e.label.startswith("The data of the next run: Spiral") for e in at.expander)
    assert len(points_shown(canvas(at, "data_preview"))) == 4


# ---- the live boundary ---------------------------------------------------------------------------
def _frame_of_a_line():
    """A boundary along x = 0: P(orange) 0.1 on the left, 0.9 on the right."""
    xs = np.linspace(-1.2, 1.2, 100, dtype=np.float32)
    p = np.where(xs[None, :] > 0, 0.9, 0.1) * np.ones((100, 1))
    return {"boundary_x": xs, "boundary_y": xs, "boundary_p": p.astype(np.float16)}


def test_the_boundary_is_drawn_from_the_runs_stored_frame(store):
    """Input: a finished run whose last frame (step 123) is a vertical boundary: the surface is that
    frame, the step is named, the training points (250) are over it and the test points are not."""
    run_id = finished_run(store)
    store.save_frame(run_id, 123, _frame_of_a_line())
    at = open_page(PAGE, run=str(run_id))
    data = canvas(at, "boundary")
    np.testing.assert_allclose(surface_shown(data), _frame_of_a_line()["boundary_p"].astype(np.float32), atol=1 / 255)
    assert data["step"] == 123 and data["label"] == "P(orange)"
    assert data["extent"] == pytest.approx([-1.2 - 1.2 / 99, 1.2 + 1.2 / 99] * 2)  # the cells' outer edges
    shown = points_shown(data)
    assert sorted(shown) == ["blue (train)", "orange (train)"] and sum(map(len, shown.values())) == 250
    assert any(m.value == "**Decision boundary** at step 123" for m in at.markdown)
    assert any(c.value == "Step 123: the run's last frame." for c in at.caption)


def test_show_test_data_and_discretise_output(store):
    """Input: the frame above, then "Show test data" (the 250 test points join the train points),
    then "Discretise output" (each cell 0 or 1: the class, no probabilities)."""
    run_id = finished_run(store)
    store.save_frame(run_id, 7, _frame_of_a_line())
    at = open_page(PAGE, run=str(run_id))
    widget(at, "boundary.show_test").set_value(True).run()
    shown = points_shown(canvas(at, "boundary"))
    assert len(shown) == 4 and sum(len(v) for k, v in shown.items() if "test" in k) == 250
    widget(at, "boundary.discretise").set_value(True).run()
    z = surface_shown(canvas(at, "boundary"))
    np.testing.assert_array_equal(z, (_frame_of_a_line()["boundary_p"] >= 0.5).astype(np.float64))


def test_with_redraw_live_off_the_view_keeps_its_frame(store):
    """Input: a run's frame at step 10 on show, then a new frame (step 20) while "Redraw live" is
    off: the view keeps step 10 (and reads nothing); switched on again, it shows step 20."""
    run_id = finished_run(store)
    store.save_frame(run_id, 10, _frame_of_a_line())
    at = open_page(PAGE, run=str(run_id))
    assert canvas(at, "boundary")["step"] == 10
    widget(at, "boundary.live").set_value(False).run()
    store.save_frame(run_id, 20, _frame_of_a_line())
    at.run()
    assert canvas(at, "boundary")["step"] == 10
    widget(at, "boundary.live").set_value(True).run()
    assert canvas(at, "boundary")["step"] == 20


def test_a_run_from_before_frames_shows_its_stored_epoch_boundary(store):
    """Input: a run with no frame, but the boundary stored with its epoch 2 (as runs stored it
    before frames existed) and a checkpoint at epoch 2."""
    run_id = finished_run(store)
    store.append_metrics(run_id, [(3, 2, "val_acc", 0.5, 0.0), (3, 2, "epoch_time", 0.1, 0.0)])
    store.save_checkpoint(run_id, 2, {"w": __import__("torch").zeros(1)})
    store.save_artifacts(run_id, 2, _frame_of_a_line())
    at = open_page(PAGE, run=str(run_id))
    assert any(m.value == "**Decision boundary** after epoch 2" for m in at.markdown)
    np.testing.assert_allclose(surface_shown(canvas(at, "boundary")),
                               _frame_of_a_line()["boundary_p"].astype(np.float32), atol=1 / 255)


# ---- the network ---------------------------------------------------------------------------------
def test_the_network_of_an_8_by_32_frame_shows_8_of_32_units_per_layer(store):
    """Input: a frame of an 8-layer, 32-unit network on 7 features (the contract's shapes): one
    image of every map, a few groups of lines, and the page says what it leaves out."""
    run_id = finished_run(store)
    store.save_frame(run_id, 99, network_frame(layers=8, units=32))
    at = open_page(PAGE, run=str(run_id))
    data = canvas(at, "neurons")
    assert data["step"] == 99 and data["image"].startswith("data:image/png;base64,")
    assert 1 <= len(data["lines"]) <= 8
    assert [t["lines"] for t in data["titles"]] == [["features"]] + [[f"layer {i}", "8 of 32"] for i in range(1, 9)] \
        + [["output"]]
    assert [label["text"] for label in data["labels"]] == ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
    assert len(data["units"]) == 7 + 8 * 8 + 1
    assert any("Layers 1-8: showing 8 of 32 units each" in c.value for c in at.caption)


def test_a_frame_without_neurons_draws_no_network(store):
    run_id = finished_run(store)
    store.save_frame(run_id, 5, _frame_of_a_line())
    at = open_page(PAGE, run=str(run_id))
    canvas(at, "boundary")
    with pytest.raises(KeyError):
        canvas(at, "neurons")


# ---- suggested settings --------------------------------------------------------------------------
def test_suggested_settings_set_the_model_every_knob_and_the_url():
    """Input: spiral with a narrow SGD network and 2 epochs, then "Suggested settings": the model
    and the values of the suggestion, every other setting back at its default, all in the URL."""
    suggestion = suggested("spiral")
    at = open_page(PAGE, model="mlp", dataset="spiral", optimizer="sgd", epochs="2", **{"mlp.width": "2",
                                                                                      "spiral.noise": "0.3"})
    button(at, "Suggested settings").click().run()
    assert not at.exception and not at.error
    spec = get_spec(suggestion.model)
    assert widget(at, "model").value == suggestion.model and widget(at, "dataset").value == "spiral"
    chosen = {p.name: p.default for p in (*spec.params, *TRAINING_PARAMS)} | suggestion.values
    for param in [p for p in spec.params if p.applies(chosen)]:  # (those shown)
        assert widget(at, f"{spec.name}.{param.name}").value == chosen[param.name], param.name
    for param in [p for p in TRAINING_PARAMS if p.applies(chosen)]:
        assert widget(at, param.name).value == chosen[param.name], param.name
    for param in get_info("spiral").params:
        assert widget(at, f"spiral.{param.name}").value == suggestion.dataset_options.get(param.name, param.default)
    for name, value in suggestion.values.items():
        key = f"{spec.name}.{name}" if name in {p.name for p in spec.params} else name
        if value != next(p for p in (*spec.params, *TRAINING_PARAMS) if p.name == name).default:
            shown = str(value).lower() if isinstance(value, bool) else str(value)  # a switch is true / false
            assert at.query_params[key] in (shown, [shown]), key
    if "optimizer" not in suggestion.values:  # back to its default, so out of the URL
        assert "optimizer" not in at.query_params
    if "noise" not in suggestion.dataset_options:
        assert "spiral.noise" not in at.query_params


def test_the_suggestion_is_described_beside_its_button():
    at = open_page(PAGE, model="mlp", dataset="spiral")
    assert any(c.value.startswith(get_spec(suggested("spiral").model).title) for c in at.caption)


def test_a_dataset_without_suggested_settings_has_no_button(monkeypatch):
    """Input: spiral, with no suggested settings for any dataset."""
    monkeypatch.setattr("engine.data.suggested.SUGGESTED", {})
    at = open_page(PAGE, model="mlp", dataset="spiral")
    assert "Suggested settings" not in [b.label for b in at.button]


def test_a_log_setting_between_two_rungs_is_kept():
    """Input: a link with batch size 10 and learning rate 0.004 (between the sliders' rungs 8, 16 and
    0.003, 0.005: a suggested setting, or one typed into the URL): kept as they are, and started with
    them; a value out of range (batch 0) is still dropped for the default."""
    at = open_page(PAGE, model="mlp", dataset="spiral", batch_size="10", lr="0.004")
    assert (widget(at, "batch_size").value, widget(at, "lr").value) == (10, 0.004)
    assert 10 in widget(at, "batch_size").options or "10" in widget(at, "batch_size").options
    at = open_page(PAGE, model="mlp", dataset="spiral", batch_size="0")
    assert widget(at, "batch_size").value == 64


def test_a_run_whose_points_cannot_be_loaded_says_so(store, monkeypatch):
    """Input: a 2D run with a frame whose dataset fails to load (your own points, their file removed
    since: simulated): a message where the boundary was, no traceback."""
    run_id = finished_run(store)
    store.save_frame(run_id, 3, _frame_of_a_line())

    def gone(*args, **kwargs):
        raise ValueError("the points file own-7.csv is gone")

    monkeypatch.setattr("pages._ui.live_boundary.points_of", gone)
    at = open_page(PAGE, run=str(run_id))
    assert f"Run {run_id}'s data cannot be loaded: the points file own-7.csv is gone" in \
        [e.value.replace("\\", "") for e in at.error]
    with pytest.raises(KeyError):
        canvas(at, "boundary")
