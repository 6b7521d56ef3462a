"""The Latent space page in a real browser: train a VAE for 5 epochs (on the 8x8 digits 2 epochs are
too few to show digits), watch the grid appear, pick a point of the scatter, move a latent slider
(the image is decoded again); step a GAN by hand (its process does the steps, the page follows);
screenshots."""
from engine.core.jobs import RunControl
from engine.core.runs import RunStore
from tests.e2e.helpers import heading, screenshot

# The image beside the sliders: the one in the visible tab panel.
SLIDER_IMAGE = ("() => { const p = [...document.querySelectorAll('[role=tabpanel]')].find(p => !p.hidden && p.offsetParent);"
                " const i = p && p.querySelector('[data-testid=stImage] img'); return i ? i.src : null; }")


def test_train_a_vae_watch_the_grid_then_walk_with_a_slider(page, app_url, screenshots):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # the fixtures skip without playwright

    page.goto(app_url)
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Latent space", exact=True).click()
    heading(page, "Latent space").wait_for(state="visible")
    # Settings from the URL (a shared link): a 2-D VAE on the 8x8 digits, 2 epochs.
    page.goto(f"{page.url.split('?')[0]}?latent_model=vae&latent_dataset=digits&epochs=5&batch_size=16&lr=0.003&vae.hidden=128")
    heading(page, "Latent space").wait_for(state="visible", timeout=60_000)
    page.get_by_role("button", name="Start").click()

    page.get_by_text("Latent grid after epoch 5").wait_for(state="visible", timeout=60_000)
    page.get_by_text("completed · epoch 5/5").wait_for(state="visible")
    page.get_by_text("Walk the latent space").wait_for(state="visible")
    screenshot(page, screenshots / "latent-trained.png")

    # Select a point of the scatter: its image, reconstruction and code appear.
    page.get_by_role("tab", name="Latent scatter").click()
    # Drag a lasso around the middle of the scatter, as a person would (again, wider, if the first
    # one caught no point or landed while the page was still redrawing).
    recon = page.get_by_text("reconstruction", exact=True)
    for size in (80, 140, 200):
        page.get_by_test_id("stStatusWidget").wait_for(state="detached")
        drag = page.get_by_test_id("stPlotlyChart").locator(".nsewdrag").last
        drag.scroll_into_view_if_needed()
        box = drag.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx - size, cy - size)
        page.mouse.down()
        for dx, dy in ((size, -size), (size, size), (-size, size), (-size, -size)):
            page.mouse.move(cx + dx, cy + dy, steps=5)
        page.mouse.up()
        try:
            recon.wait_for(state="visible", timeout=15_000)
            break
        except PlaywrightTimeout:
            continue
    recon.wait_for(state="visible")
    page.get_by_role("button", name="Hold the grid's other dimensions at this code").wait_for(state="attached")

    # Move the first latent slider: the decoded image changes.
    page.get_by_role("tab", name="Sliders").click()
    page.get_by_text("decoded in").wait_for(state="visible")
    page.get_by_test_id("stStatusWidget").wait_for(state="detached")
    before = page.evaluate(SLIDER_IMAGE)
    assert before
    # The range input is visually hidden behind the drawn thumb: focus it, then use the keyboard.
    thumb = page.get_by_test_id("stSlider").filter(has_text="z0").get_by_role("slider")
    thumb.focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    for _ in range(60):  # the fragment reruns and swaps the image (a new media URL)
        if page.evaluate(SLIDER_IMAGE) != before:
            break
        page.wait_for_timeout(500)
    assert page.evaluate(SLIDER_IMAGE) != before, "moving z0 did not redraw the decoded image"
    page.wait_for_function(  # and the new image really loads (a dropped media file would not)
        "() => { const p = document.querySelector('[role=tabpanel]'); const i = p && p.querySelector('[data-testid=stImage] img');"
        " return i && i.complete && i.naturalWidth > 0; }")
    # A plain shot: helpers.settled() waits for every data grid to draw, and the code table sits
    # in the hidden scatter tab.
    page.get_by_text("decoded in").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=screenshots / "latent-slider.png")


def test_step_a_gan_by_hand_then_save_it(page, app_url, app_data_dir, screenshots):
    from playwright.sync_api import expect  # the fixtures skip without playwright

    page.goto(app_url)
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/latent-space?latent_model=dcgan&latent_dataset=digits&dcgan.latent=16")
    heading(page, "Train the GAN by hand: step D, step G").wait_for(state="visible", timeout=60_000)
    step_both = page.get_by_role("button", name="Step both")
    expect(step_both).to_be_disabled()
    page.get_by_role("button", name="New GAN").click()
    page.get_by_text("Fixed noise after 0 D and 0 G steps").wait_for(state="visible", timeout=60_000)

    # 100 steps per click: the buttons wait while the GAN's process works, then come back.
    # A pick made while the New GAN click's rerun is still going can be undone by it (seen on a busy
    # machine: the box still said 1): pick again until the box shows 100, as a person would.
    steps_box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_label("Steps per click"))
    for _ in range(3):
        steps_box.click()
        page.get_by_role("option", name="100", exact=True).click()
        page.get_by_test_id("stStatusWidget").wait_for(state="detached")
        if steps_box.locator("input").input_value() == "100":
            break
    expect(steps_box.locator("input")).to_have_value("100")
    expect(step_both).to_be_enabled(timeout=60_000)
    step_both.click()
    expect(step_both).to_be_disabled()
    page.get_by_text("Fixed noise after 100 D and 100 G steps").wait_for(state="visible", timeout=120_000)
    expect(step_both).to_be_enabled(timeout=30_000)
    page.get_by_role("button", name="Step D").click()
    page.get_by_text("Fixed noise after 200 D and 100 G steps").wait_for(state="visible", timeout=120_000)
    expect(step_both).to_be_enabled(timeout=30_000)
    page.get_by_text("d real acc").first.wait_for(state="visible")  # the per-step chart's legend
    screenshot(page, screenshots / "latent-gan-by-hand.png")

    page.get_by_role("button", name="Save as run").click()
    page.get_by_text("Saved as run").wait_for(state="visible", timeout=60_000)
    page.get_by_text("Walk the latent space").wait_for(state="visible")
    run = RunStore(app_data_dir / "runs").list_runs()[0]
    assert run.status == "completed" and run.message == "trained by hand: 200 D steps and 100 G steps"
    expect(step_both).to_be_disabled()
    screenshot(page, screenshots / "latent-gan-saved.png")
    assert RunControl(RunStore(app_data_dir / "runs"), run.id).progress().status == "completed"
