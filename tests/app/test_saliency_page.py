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
