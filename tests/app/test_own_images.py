"""AppTest of "Your own images" on the Training page (pages/_ui/images_input.py): a zip made in the test
(red discs, blue stripes, one broken file) is uploaded, saved, selected, trained by the transfer model
with Start, and its confusion matrix drawn; a zip with one class says why and nothing else breaks."""
from pathlib import Path

import pytest

from engine.core.runs import RunStore
from engine.data import get_info
from engine.data.image_folders import LIMITS
from pages._ui.images_input import OWN_IMAGES
from pages._ui.safe_markdown import escape_markdown
from tests.app.helpers import button, open_page, widget
from tests.transfer_images import image_zip
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "train.py")


def own_images_page():
    """The Training page with the transfer model, a batch of 64 (the first visit opens on the spiral's
    suggested batch of 10) and "Your own images" chosen."""
    at = open_page(PAGE)
    widget(at, "model").set_value("transfer").run()
    widget(at, "batch_size").set_value(64).run()
    widget(at, "dataset").set_value(OWN_IMAGES).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.slow  # a run in its own process: about 25 s on a busy machine
def test_an_uploaded_zip_is_saved_selected_trained_and_its_confusion_matrix_drawn(fresh_data_dir):
    """Input: 10 red-disc and 10 blue-stripe PNGs and a broken discs/x.jpg, zipped as shapes.zip;
    then 3 epochs, batch 8, no augmented copies."""
    at = own_images_page()
    assert any(LIMITS in c.value for c in at.caption)
    assert [e.value for e in at.error] == ["Cannot start a run: upload a zip of images, one folder per class"]
    content = image_zip(10, extra={"discs/x.jpg": b"broken"})
    at.get("file_uploader")[0].set_value(("shapes.zip", content, "application/zip")).run()
    assert not at.exception, [e.value for e in at.exception]
    name = widget(at, "dataset").value
    title = get_info(name).title
    assert name.startswith("images-") and title == "Your images: shapes.zip (20 images, 2 classes)"
    assert [s.value for s in at.success] == [f"Saved and selected: {escape_markdown(title)}, dataset `{name}`. "
                                             "Batch size set to 16 to fit its 16 training images. "
                                             "Press Start to train on it."]
    assert [w.value for w in at.warning] == ["1 file(s) skipped:\n\n- " + escape_markdown(
        "discs/x.jpg: cannot be read as an image (an unknown format, or a damaged file)")]

    widget(at, "epochs").set_value(3)
    widget(at, "batch_size").set_value(8)
    widget(at, "transfer.aug_copies").set_value(0)
    at.run()
    button(at, "Start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    store = RunStore(fresh_data_dir / "runs")
    run_id = at.session_state.run_id
    wait_for(lambda: store.get_run(run_id).status != "running", timeout=180, what="the run on the uploaded images")
    run = store.get_run(run_id)
    assert run.status == "completed" and run.dataset == name, run.message
    assert run.final["val_acc"] >= 0.9
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Confusion matrix" in str(c.proto.spec) for c in at.get("plotly_chart"))


def test_a_zip_of_one_class_shows_why_and_nothing_else_breaks(fresh_data_dir):
    at = own_images_page()
    at.get("file_uploader")[0].set_value(("cats.zip", image_zip(3, classes=("discs",)), "application/zip")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [
        escape_markdown(f"cats.zip holds one class only (discs): a classifier needs two or more, each images in a "
                        f"folder of its own ({LIMITS})"),
        "Cannot start a run: upload a zip of images, one folder per class"]
    assert widget(at, "dataset").value == OWN_IMAGES


@pytest.mark.slow  # the Saliency page's maps at 224 px on the CPU
def test_a_transfer_run_opens_on_the_saliency_page(fresh_data_dir):
    """Input: 3 + 3 images saved as a dataset, the transfer model trained 1 epoch in this process."""
    from streamlit.testing.v1 import AppTest

    from engine.core.registry import validate
    from engine.core.trainer import TrainingJob
    from engine.data.image_folders import read_archive
    from engine.data.saved_images import save_images

    name = save_images(read_archive(image_zip(3), "set.zip"))
    config = validate("transfer", name, {"batch_size": 4, "epochs": 1, "aug_copies": 0})
    job = TrainingJob(config, RunStore(fresh_data_dir / "runs"), device="cpu")
    job.run()
    assert job.progress.status == "completed", job.progress.message
    at = AppTest.from_file(str(ROOT / "pages" / "saliency.py"), default_timeout=240)
    at.query_params["run"] = str(job.run_id)
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.exception] + [e.value for e in at.error]
    assert f"Run {job.run_id}: transfer on {name}, epoch 1" in "\n".join(c.value for c in at.caption)
    assert at.multiselect[0].value == ["gradcam", "guided-backprop", "guided-gradcam"]
    assert at.selectbox(key=next(b.key for b in at.selectbox if b.value == "head")).value == "head"  # Grad-CAM's layer
    shown = [m.value for m in at.markdown if m.value in ("**Grad-CAM**", "**Guided backprop**", "**Guided Grad-CAM**")]
    assert shown == ["**Grad-CAM**", "**Guided backprop**", "**Guided Grad-CAM**"] and len(at.get("image")) >= 3


def test_the_built_in_example_sets_transfer_on_shapes_at_224_px(fresh_data_dir):
    at = own_images_page()
    button(at, "Built-in example: transfer to shapes at 224 px").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert widget(at, "model").value == "transfer" and widget(at, "dataset").value == "shapes"
    assert (widget(at, "shapes.size").value, widget(at, "shapes.n_train").value, widget(at, "shapes.n_val").value) \
        == (224, 300, 100)
    assert (widget(at, "transfer.mode").value, widget(at, "transfer.aug_copies").value, widget(at, "batch_size").value,
            widget(at, "epochs").value) == ("frozen", 0, 16, 10)
    assert not at.error  # Start is ready


def test_the_preview_of_224_px_images_shrinks_the_tiles(fresh_data_dir):
    """A row of eight 224 px tiles was a picture of megabytes that the browser drew blank."""
    import io

    from PIL import Image

    from engine.data.image_folders import read_archive
    from engine.data.saved_images import save_images
    from pages._ui.data_preview import PREVIEW_SIDE, SAMPLES_PER_CLASS, class_samples

    name = save_images(read_archive(image_zip(3), "set.zip"))
    png, side, rows = class_samples(name, {"val_fraction": 0.2, "seed": 0})
    assert (side, rows) == (PREVIEW_SIDE, 2)
    assert Image.open(io.BytesIO(png)).size == (SAMPLES_PER_CLASS * (PREVIEW_SIDE + 2), 2 * (PREVIEW_SIDE + 2))
