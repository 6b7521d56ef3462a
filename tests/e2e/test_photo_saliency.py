"""The Saliency page on photos in a real browser: pick the ImageNet CNN, see the cat photo's Grad-CAM
for its two best classes, then search a class by a synonym ("tabby cat") and see its map."""
from tests.e2e.helpers import screenshot, settled
from tests.e2e.test_saliency_page import open_saliency, wait_for_images


def test_a_photo_explained_for_a_cat_class_and_a_second_class(page, app_url, screenshots):
    open_saliency(page, app_url)
    page.get_by_test_id("stSelectbox").first.click()  # the Model box, the page's first
    page.get_by_role("option", name="ImageNet (EfficientNet-Lite0, pretrained)", exact=True).click()
    page.get_by_text("Egyptian cat (p = 0.399)", exact=True).wait_for(state="visible", timeout=120_000)
    page.get_by_text("tiger cat (p = 0.311)", exact=True).wait_for(state="visible")
    for name in ("Egyptian cat", "tiger cat"):  # each class's figure (its caption comes with it)
        page.get_by_text(f"{name} · Grad-CAM on head").wait_for(state="visible", timeout=120_000)
    settled(page)  # the MNIST views of the page's first run, faded until this run ends, are gone then
    wait_for_images(page, 3)  # the photo, one Grad-CAM figure per class
    screenshot(page, screenshots / "saliency-photo-two-classes.png")

    # Any class by any of its names: type a synonym into the class box.
    page.get_by_label("Class to explain (type to search any name, e.g. tabby cat)").first.click()
    page.keyboard.type("tabby cat")
    page.get_by_role("option", name="281: tabby, tabby cat", exact=True).click()
    settled(page)
    page.get_by_text("tabby (p = 0.168)", exact=True).wait_for(state="visible", timeout=120_000)
    page.get_by_text("tabby, tabby cat · Grad-CAM on head").wait_for(state="visible", timeout=120_000)  # its figure
    settled(page)
    wait_for_images(page, 3)
    screenshot(page, screenshots / "saliency-photo-tabby.png")
