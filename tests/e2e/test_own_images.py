"""Your own images in a real browser: a zip made in the test uploaded on the Training page, the transfer
model trained a few epochs with Start, the curves drawn (look at transfer-trained.png)."""
import re
from urllib.parse import quote

from engine.core.runs import RunStore
from pages._ui.images_input import OWN_IMAGES
from tests.e2e.helpers import heading, screenshot, settled
from tests.transfer_images import image_zip


def test_upload_a_zip_then_start_trains_the_transfer_model_and_draws_its_curves(page, app_url, app_data_dir,
                                                                                 tmp_path, screenshots):
    """Input: 10 red-disc and 10 blue-stripe PNGs zipped as shapes.zip; 3 epochs, batch 8, no augmented copies."""
    archive = tmp_path / "shapes.zip"
    archive.write_bytes(image_zip(10))
    page.goto(app_url)  # a first visit straight to a page's URL finds no page before app.py has run once
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/training?model=transfer&dataset={quote(OWN_IMAGES)}&epochs=3&batch_size=8"
              "&transfer.aug_copies=0")
    heading(page, "Training").wait_for(state="visible", timeout=60_000)
    page.get_by_text("Upload a zip of images").wait_for(state="visible")
    settled(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(archive))
    page.get_by_text("Saved and selected: Your images: shapes.zip (20 images, 2 classes)").wait_for(
        state="visible", timeout=60_000)
    settled(page)
    screenshot(page, screenshots / "transfer-uploaded.png")
    page.get_by_role("button", name="Start").click()
    page.get_by_text(re.compile(r"on images-[0-9a-f]{12} · cpu · completed")).wait_for(state="visible",
                                                                                      timeout=300_000)
    run = RunStore(app_data_dir / "runs").list_runs(limit=1)[0]
    assert run.status == "completed" and run.model == "transfer" and run.final["epochs"] == 3, run.message
    assert run.final["val_acc"] >= 0.9, run.final
    page.get_by_test_id("stVegaLiteChart").first.wait_for(state="visible", timeout=60_000)
    page.set_viewport_size({"width": 1400, "height": 1800})
    page.wait_for_timeout(1500)
    page.screenshot(path=screenshots / "transfer-trained.png")
