"""AppTest of the saliency page: the default checkpoint, filters, target class, views, handed-over runs,
and runs that cannot be explained (not a CNN, damaged checkpoint) — messages, never exceptions."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def data_dir(shared_data_dir):
    return shared_data_dir


@pytest.fixture(autouse=True)
def env(data_dir, monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(data_dir))
    monkeypatch.delenv("DEEP_PLAYGROUND_DEVICE", raising=False)


def open_page(run: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/saliency.py"), default_timeout=120)
    if run is not None:
        at.query_params["run"] = run
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def captions(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_default_checkpoint_explains_the_first_test_digit_with_three_methods():
    at = open_page()
    assert at.selectbox(key="source").value == "default"
    assert "Explaining class **7** (p = 1.000) · Default MNIST CNN (assets/)" in captions(at)
    assert [m.value for m in at.markdown] == ["**Grad-CAM**", "**Guided backprop**", "**Guided Grad-CAM**"]
    assert len(at.get("image")) == 4  # the input and one paper row per method
    assert "test image 0: true 7, predicted 7" in at.get("image")[0].proto.imgs[0].caption


def test_target_class_filters_and_views():
    at = open_page()
    at.selectbox(key="target").set_value("2").run()
    assert "Explaining class **2** (p = 0.000)" in captions(at)
    # Only the misclassified 9s: the caption says the prediction differs.
    at.selectbox(key="class_filter").set_value("9").run()
    at.selectbox(key="correct_filter").set_value("incorrect").run()
    assert not at.exception
    caption = at.get("image")[0].proto.imgs[0].caption
    assert "true 9, predicted" in caption and not caption.endswith("predicted 9")
    assert at.selectbox(key="target").value == "predicted"  # a new input explains its own prediction
    for view, expect in (("All side by side", 7), ("Batch", 1 + 16), ("Feature maps", 1 + 3)):
        at.segmented_control(key="view").set_value(view).run()
        assert not at.exception, view
        assert len(at.get("image")) == expect, view
    at.segmented_control(key="view").set_value("Trust").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["method"]) == ["Grad-CAM", "Guided backprop", "Integrated gradients"]
    assert any("correlation after randomising every layer" in m.value for m in at.markdown)


def test_method_settings_reach_the_engine():
    at = open_page()
    at.multiselect(key="methods").set_value(["gradcam", "occlusion"]).run()
    at.selectbox(key="layer").set_value("features.0.convs.0").run()
    at.slider(key="occ_window").set_value(28).run()
    at.slider(key="occ_stride").set_value(28).run()
    assert not at.exception and not at.error
    assert [m.value for m in at.markdown] == ["**Grad-CAM**", "**Occlusion**"]


@pytest.fixture(scope="module")
def runs(data_dir):
    with pytest.MonkeyPatch.context() as env:  # module-scoped: the autouse `env` fixture is per test
        env.setenv("DEEP_PLAYGROUND_DATA", str(data_dir))
        store = RunStore(data_dir / "runs")
        cnn = TrainingJob(validate("cnn", "digits", {"epochs": 2, "channels": 4, "dense": 16}), store, device="cpu")
        mlp = TrainingJob(validate("mlp", "digits", {"epochs": 1}), store, device="cpu")
        assert cnn.run() == "completed" and mlp.run() == "completed"
    return store, cnn.run_id, mlp.run_id


def test_a_run_handed_over_in_the_url_opens_with_its_epochs(runs):
    store, cnn_id, _ = runs
    at = open_page(str(cnn_id))
    assert at.selectbox(key="source").value == str(cnn_id)
    assert at.select_slider(key=f"epoch_{cnn_id}").value == 2
    at.select_slider(key=f"epoch_{cnn_id}").set_value(1).run()
    assert not at.exception
    assert f"Run {cnn_id}: cnn on digits, epoch 1" in captions(at)


def test_runs_that_cannot_be_explained_give_messages(runs):
    store, cnn_id, mlp_id = runs
    at = open_page(str(mlp_id))
    assert any(f"Run {mlp_id} from the link cannot be opened here" in w.value and "not a CNN" in w.value
               for w in at.warning)
    assert at.selectbox(key="source").value == "default"
    path = store._checkpoint_path(cnn_id, 2)
    original = path.read_bytes()
    try:
        path.write_bytes(b"\x00" * 50)
        import streamlit as st
        st.cache_resource.clear()  # the page caches loaded checkpoints (they never change once written)
        at = open_page(str(cnn_id))
        assert any(f"the checkpoint of run {cnn_id}, epoch 2 is damaged" in e.value for e in at.error)
    finally:
        path.write_bytes(original)


class FakeCanvas:
    """streamlit_drawable_canvas.st_canvas without a browser: empty until `drawn` is set, then a
    vertical white stroke on black (a "1"), as the real canvas returns it (RGBA, 224x224)."""

    def __init__(self):
        self.drawn = False

    def __call__(self, **_):
        import numpy as np
        from types import SimpleNamespace
        rgba = np.zeros((224, 224, 4), np.uint8)
        rgba[..., 3] = 255
        if self.drawn:
            rgba[30:190, 104:120, :3] = 255
        return SimpleNamespace(image_data=rgba, json_data=None)


@pytest.fixture
def canvas(monkeypatch):
    import streamlit_drawable_canvas
    fake = FakeCanvas()
    monkeypatch.setattr(streamlit_drawable_canvas, "st_canvas", fake)
    return fake


def drawn_rows(at) -> list[str]:
    return [m.value for m in at.markdown if m.value.startswith("**")]


def chips_shown(multiselect) -> list[str]:
    """The options a browser shows in a multiselect that has just been put back on the page (its
    old state was dropped with it): the value the server sends, or else the default."""
    proto = multiselect.proto
    return list(proto.raw_values) if proto.set_value else [proto.options[i] for i in proto.default]


def test_methods_add_integrated_gradients_switch_to_draw_then_draw_keeps_four_chips_and_four_rows(canvas):
    """Input: the three default methods + Integrated gradients, then Input -> Draw (empty canvas), then
    a stroke drawn. The chips and the drawn rows both keep the four methods (issue #13: the page
    showed three chips and drew four rows)."""
    four = ["gradcam", "guided-backprop", "guided-gradcam", "integrated-gradients"]
    rows = ["**Grad-CAM**", "**Guided backprop**", "**Guided Grad-CAM**", "**Integrated gradients**"]
    at = open_page()
    at.multiselect(key="methods").set_value(four).run()
    assert drawn_rows(at) == rows
    at.segmented_control(key="input_mode").set_value("Draw").run()
    assert not at.exception
    assert [i.value for i in at.info] == ["Draw something on the canvas above to see its maps."]
    canvas.drawn = True
    at.run()  # the canvas reruns the page when a stroke ends
    assert not at.exception
    assert "your drawing, prepared as the model sees it" in at.get("image")[0].proto.imgs[0].caption
    assert at.multiselect(key="methods").value == four
    assert chips_shown(at.multiselect(key="methods")) == [row.strip("*") for row in rows]
    assert drawn_rows(at) == rows


def shown(at, kind: str, key: str):
    """What a browser shows in this widget once it is back on the page after a run that stopped above
    it: the browser dropped the widget's value with the widget, so it shows the value the server sends
    with the widget, or else the widget's default."""
    p = getattr(at, kind)(key=key).proto
    if kind in ("selectbox", "radio"):
        return p.raw_value if p.set_value else p.options[p.default]
    if kind == "segmented_control":
        return p.raw_values[0] if p.set_value else p.options[p.default[0]].content
    if kind == "slider":
        return (p.value if p.set_value else p.default)[0]
    if kind == "number_input":
        return p.value if p.set_value else p.default
    raise ValueError(kind)


@pytest.fixture
def used(monkeypatch) -> dict:
    """The method settings and the look the Methods view last drew its rows with."""
    import pages._ui.saliency_views as views
    seen = {}
    draw = views.paper_rows

    def paper_rows(model, lock, x, target, methods, options, look):
        seen.clear()
        seen.update(options | look)
        return draw(model, lock, x, target, methods, options, look)
    monkeypatch.setattr(views, "paper_rows", paper_rows)
    return seen


@pytest.mark.parametrize("kind, key, value, option", [
    ("selectbox", "layer", "features.0.convs.0", "layer"),
    ("slider", "ig_steps", 8, "steps"),
    ("radio", "ig_baseline", "blurred", "baseline"),
    ("slider", "occ_window", 9, "window"),
    ("slider", "occ_stride", 3, "stride"),
    ("selectbox", "colormap", "viridis", "colormap"),
    ("slider", "opacity", 0.8, "opacity"),
])
def test_a_setting_changed_then_draw_with_an_empty_canvas_then_a_drawing_shows_what_the_page_uses(
        canvas, used, kind, key, value, option):
    """Input: one method setting changed from its default (the parameters), then Input -> Draw with an
    empty canvas (the page stops above the setting), then a stroke drawn. The widget shows the value the
    maps are drawn with, and that is the value chosen (it showed its default while the maps used it)."""
    at = open_page()
    getattr(at, kind)(key=key).set_value(value).run()
    assert used[option] == value
    at.segmented_control(key="input_mode").set_value("Draw").run()
    canvas.drawn = True
    at.run()
    assert not at.exception
    assert "your drawing, prepared as the model sees it" in at.get("image")[0].proto.imgs[0].caption
    assert (shown(at, kind, key), used[option]) == (value, value)


def test_view_all_side_by_side_then_draw_with_an_empty_canvas_then_a_drawing_shows_what_the_page_draws(canvas):
    """Input: View -> All side by side, then Input -> Draw with an empty canvas, then a stroke drawn. The
    View control shows All side by side, and the six methods are drawn side by side."""
    at = open_page()
    at.segmented_control(key="view").set_value("All side by side").run()
    at.segmented_control(key="input_mode").set_value("Draw").run()
    canvas.drawn = True
    at.run()
    assert not at.exception
    assert shown(at, "segmented_control", "view") == "All side by side"
    assert len(at.get("image")) == 7  # the drawing and six methods


@pytest.mark.parametrize("kind, key, value, drawn", [
    ("selectbox", "class_filter", "9", "test image 7: true 9, predicted 9"),
    ("selectbox", "correct_filter", "incorrect", "test image 247: true 4, predicted 6"),
    ("number_input", "position_all_all", 5, "test image 4: true 4, predicted 4"),
    ("selectbox", "target", "3", "test image 0: true 7, predicted 7"),
])
def test_a_test_image_filter_then_draw_with_an_empty_canvas_then_back_to_the_test_set_shows_what_the_page_uses(
        canvas, kind, key, value, drawn):
    """Input: one test-set filter, the image number or the class to explain changed, then Input -> Draw
    with an empty canvas, then Input -> Test set again. The widget shows the value the page uses (the
    image explained, the class explained), and that is the value chosen."""
    at = open_page()
    getattr(at, kind)(key=key).set_value(value).run()
    at.segmented_control(key="input_mode").set_value("Draw").run()
    at.segmented_control(key="input_mode").set_value("Test set").run()
    assert not at.exception
    assert shown(at, kind, key) == value
    assert at.get("image")[0].proto.imgs[0].caption == drawn
    expected_class = "3" if key == "target" else drawn.split("predicted ")[1]
    assert f"Explaining class **{expected_class}**" in captions(at)


def test_the_view_and_input_chips_cannot_be_emptied():
    """Input: the page as opened. A click on the chosen View or Input chip used to deselect it: the control
    showed no choice while the page drew Methods / the test set. Both controls are required now (the
    browser keeps one chip chosen) and show the choice the page uses."""
    at = open_page()
    for key, used in (("view", "Methods"), ("input_mode", "Test set")):
        control = at.segmented_control(key=key)
        assert control.proto.required, key
        assert control.value == used


def test_trust_view_shows_ssim_and_the_gradient_part_beside_the_rank_correlation_of_integrated_gradients():
    """Input: the default CNN, test image 0 (a 7), the Trust view with its three default methods. Integrated
    gradients keeps a rank correlation of 1.00 once every layer is random; the page says why and shows
    the two measures that do move: SSIM and the rank correlation of IG's gradient part."""
    at = open_page()
    at.segmented_control(key="view").set_value("Trust").run()
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table.columns) == ["method", "rank correlation of |map|", "SSIM", "gradient part (rank correlation)",
                                   "verdict"]
    assert list(table["method"]) == ["Grad-CAM", "Guided backprop", "Integrated gradients"]
    assert list(table["gradient part (rank correlation)"])[:2] == ["—", "—"]
    ig = table.iloc[2]
    assert float(ig["rank correlation of |map|"]) >= 0.95      # measured 1.00
    assert float(ig["SSIM"]) < 0.8                               # measured 0.54
    assert float(ig["gradient part (rank correlation)"]) < 0.5  # measured 0.20
    assert ig["verdict"] == "fails"
    assert any(c.value.startswith("Why integrated gradients keeps a rank correlation near 1.00 while its pictures "
                                  "change: IG is (input − baseline) × the gradient averaged along the path")
               for c in at.caption)
    line = next(m.value for m in at.markdown if m.value.startswith("**Integrated gradients**"))
    assert line.startswith("**Integrated gradients**: correlation after randomising every layer 1.00, barely changes "
                           "with random weights: it shows the input more than the model (SSIM 0.")
    assert ", gradient part 0." in line
    figure = at.get("plotly_chart")[1].proto.spec
    assert "SSIM of the maps as drawn" in figure and "Integrated gradients: gradient part" in figure
    at.multiselect(key="trust_methods").set_value(["gradcam"]).run()
    assert list(at.dataframe[0].value.columns) == ["method", "rank correlation of |map|", "SSIM", "verdict"]
    assert not any(c.value.startswith("Why integrated gradients") for c in at.caption)


def test_picking_a_class_in_the_box_draws_the_probability_chart_anew_with_that_class_shaded():
    """Input: the first test digit (a 7), then Class to explain -> 3 in the box. In the browser a bar
    clicked earlier stayed selected on the chart while the box's class was explained; the chart now
    follows the class explained (a new chart, that column shaded, named in its title)."""
    import json
    at = open_page()

    def chart():
        element = at.get("plotly_chart")[0].proto
        return element.id, json.loads(element.spec)

    first_id, spec = chart()
    assert spec["layout"]["title"]["text"].endswith("· explaining 7")
    at.selectbox(key="target").set_value("3").run()
    assert not at.exception
    second_id, spec = chart()
    assert second_id != first_id
    assert spec["layout"]["title"]["text"] == "Class probabilities: predicted 7 (1.000), true 7 · explaining 3"
    columns = spec["data"][0]["marker"]["color"]
    assert columns[3] != columns[0] and len(set(columns)) == 2
    assert "Explaining class **3**" in captions(at)


def test_a_damaged_run_store_says_how_to_recover(tmp_path, monkeypatch):
    """Input: runs.sqlite with its header overwritten."""
    from engine.core.runs import RECOVER_HINT
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(tmp_path))
    RunStore(tmp_path / "runs")
    db = tmp_path / "runs" / "runs.sqlite"
    db.write_bytes(b"NOT A DATABASE!!" + db.read_bytes()[16:])
    at = open_page()
    assert [e.value for e in at.error] == [
        f"the run store {db} is damaged (file is not a database): {RECOVER_HINT}"]
