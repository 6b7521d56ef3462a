"""AppTest of the colour shapes on the pages: the Training page offers them (and VGG) from the
sliders and shows a shapes run's misclassified images in colour; the Saliency page plays the
pointing game on a shapes run."""
import json
from pathlib import Path

import pytest

import engine.models  # noqa: F401  (registers the models validate needs)
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob
from engine.data.shapes import CLASSES
from tests.app.helpers import open_page, widget

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = {"n_train": 200, "n_val": 100}


@pytest.fixture(autouse=True)
def env(shared_data_dir, monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(shared_data_dir))
    monkeypatch.delenv("DEEP_PLAYGROUND_DEVICE", raising=False)


@pytest.fixture(scope="module")
def shapes_run(shared_data_dir):
    """A tiny CNN trained one epoch on 200 shapes (about a second): most of its answers are wrong."""
    with pytest.MonkeyPatch.context() as env:  # module-scoped: the autouse `env` fixture is per test
        env.setenv("DEEP_PLAYGROUND_DATA", str(shared_data_dir))
        config = validate("cnn", "shapes", {"epochs": 1, "channels": 4, "dense": 8, "batch_size": 50}, OPTIONS)
        job = TrainingJob(config, RunStore(shared_data_dir / "runs"), device="cpu")
        assert job.run() == "completed"
    return job.run_id


def test_training_page_offers_shapes_and_vgg_with_their_sliders():
    at = open_page(str(ROOT / "pages/train.py"), model="vgg", dataset="shapes")
    assert widget(at, "dataset").value == "shapes" and "shapes" in widget(at, "dataset").options
    assert widget(at, "model").value == "vgg"
    for key in ("shapes.size", "shapes.noise", "shapes.clutter", "vgg.blocks", "vgg.channels"):
        widget(at, key)  # raises KeyError when missing
    assert widget(at, "shapes.size").value == 32 and widget(at, "vgg.blocks").value == 5
    preview = next(e for e in at.get("plotly_chart") if e.proto.id.endswith("-data_preview"))
    assert json.loads(preview.proto.spec)["layout"]["yaxis"]["ticktext"] == list(CLASSES)
    assert not at.error, [e.value for e in at.error]


def test_a_shapes_runs_misclassified_images_are_shown_in_colour(shapes_run):
    at = open_page(str(ROOT / "pages/train.py"), timeout=120, run=str(shapes_run))
    assert any(m.value.startswith("**Misclassified validation images**") for m in at.markdown)
    images = [e for e in at.get("image") if e.proto.imgs and e.proto.imgs[0].caption.startswith("pred ")]
    assert images and len(images[0].proto.imgs) == 32  # a net trained this little gets most of them wrong


def test_saliency_page_plays_the_pointing_game_on_a_shapes_run(shapes_run):
    at = open_page(str(ROOT / "pages/saliency.py"), timeout=180, run=str(shapes_run))
    assert "Pointing game" in at.segmented_control(key="view").options
    at.segmented_control(key="view").set_value("Pointing game").run()
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert list(table["method"]) == ["Grad-CAM", "Guided backprop", "Guided Grad-CAM", "Gradient saliency",
                                     "Integrated gradients", "Occlusion", "Random map (baseline)",
                                     "Centre bump (baseline)"]
    assert table["hit rate"].between(0, 1).all()
    assert any(m.value == "#### Pointing game over 100 test images" for m in at.markdown)
    # Fewer methods and images: scored again, for those.
    at.multiselect(key="pointing_methods").set_value(["gradcam"]).run()
    at.select_slider(key="pointing_images").set_value(50).run()
    assert list(at.dataframe[0].value["method"]) == ["Grad-CAM", "Random map (baseline)", "Centre bump (baseline)"]
    assert any(m.value == "#### Pointing game over 50 test images" for m in at.markdown)


def test_an_mnist_model_has_no_pointing_game():
    at = open_page(str(ROOT / "pages/saliency.py"), timeout=120)
    assert "Pointing game" not in at.segmented_control(key="view").options


def test_the_misclassified_grid_draws_colour_images_in_colour_and_grey_ones_in_grey():
    import numpy as np

    from pages._ui.training_views import _picture

    colour, grey = np.random.rand(3, 5, 4), np.random.rand(1, 5, 4)
    assert _picture(colour).shape == (5, 4, 3) and np.array_equal(_picture(colour)[2, 1], colour[:, 2, 1])
    assert _picture(grey).shape == (5, 4) and np.array_equal(_picture(grey), grey[0])
