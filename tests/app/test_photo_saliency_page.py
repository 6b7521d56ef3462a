"""AppTest of the Saliency page on photos: pick the ImageNet CNN and a sample photo, see its top-5 and
the Grad-CAM of two classes; another class; the methods view on a labelled photo; the upload mode."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
TOP5 = ["Egyptian cat", "tiger cat", "tabby", "lynx", "plastic bag"]


@pytest.fixture(autouse=True)
def env(shared_data_dir, monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(shared_data_dir))
    monkeypatch.setenv("DEEP_PLAYGROUND_DEVICE", "cpu")


def open_photos() -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/saliency.py"), default_timeout=180)
    at.query_params["run"] = "imagenet"  # the same as picking it in the Model box
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.slow
def test_a_cat_photo_shows_its_top5_and_two_classes_side_by_side():
    at = open_photos()
    assert at.selectbox(key="source").value == "imagenet"
    assert at.selectbox(key="photo_name").value == "chelsea (a cat)"
    top5 = at.dataframe[0].value
    assert list(top5["class"]) == TOP5 and list(top5["probability"])[:3] == [0.3988, 0.3109, 0.168]
    assert at.selectbox(key="photo_target").value == 285 and at.selectbox(key="photo_second").value == 282
    assert [m.value for m in at.markdown][-2:] == ["**Egyptian cat** (p = 0.399)", "**tiger cat** (p = 0.311)"]
    images = at.get("image")
    assert len(images) == 3  # the photo, then one paper figure per class
    assert "Grad-CAM on head (1280 x 7 x 7, default)" in images[1].proto.imgs[0].caption
    # A class picked by name: the box's options are every class with all its synonyms ("281: tabby, tabby cat").
    at.selectbox(key="photo_target").set_value(281).run()
    assert not at.exception and "Explaining class **tabby** (p = 0.168)" in "\n".join(c.value for c in at.caption)


@pytest.mark.slow
def test_methods_view_and_a_labelled_photo():
    at = open_photos()
    at.selectbox(key="photo_name").set_value("imagenet 16: dalmatian").run()
    assert at.selectbox(key="photo_target").value == 251  # a new photo explains its own best class
    at.segmented_control(key="photo_view").set_value("Methods").run()
    at.multiselect(key="photo_methods").set_value(["gradcam", "saliency"]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [m.value for m in at.markdown][-2:] == ["**Grad-CAM**", "**Gradient saliency**"]
    assert len(at.get("image")) == 3


def test_upload_mode_asks_for_a_photo():
    at = open_photos()
    at.segmented_control(key="photo_mode").set_value("Upload").run()
    assert "Upload a photo" in at.info[0].value
