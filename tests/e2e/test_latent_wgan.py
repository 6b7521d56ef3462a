"""The WGAN stepped by hand in a real browser (GAN Lab's buttons on the Latent space page): step the
critic only, the generator only, then both; the per-step chart draws the critic's Wasserstein
estimate (a WGAN has no D accuracies); screenshot."""
from engine.core.runs import RunStore
from tests.e2e.helpers import heading, screenshot


def test_step_a_wgan_critic_generator_and_both_by_hand(page, app_url, app_data_dir, screenshots):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout, expect  # the fixtures skip without playwright

    page.goto(app_url)
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/latent-space?latent_model=wgan&latent_dataset=digits&wgan.latent=16&wgan.variant=gp")
    heading(page, "Train the GAN by hand: step D, step G").wait_for(state="visible", timeout=60_000)
    page.get_by_role("button", name="New GAN").click()
    page.get_by_text("Fixed noise after 0 D and 0 G steps").wait_for(state="visible", timeout=60_000)

    # 10 steps per click (picked again if the New GAN click's rerun undid the pick: see test_latent_page).
    steps_box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_label("Steps per click"))
    for _ in range(5):
        steps_box.click()
        option = page.get_by_role("option", name="10", exact=True)
        try:  # under load a rerun can close the list the click opened: open it again
            option.wait_for(state="visible", timeout=10_000)
            option.click()
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            continue
        page.get_by_test_id("stStatusWidget").wait_for(state="detached")
        if steps_box.locator("input").input_value() == "10":
            break
    expect(steps_box.locator("input")).to_have_value("10")
    for button, d, g in (("Step D", 10, 0), ("Step G", 10, 10), ("Step both", 20, 20)):
        step = page.get_by_role("button", name=button)
        expect(step).to_be_enabled(timeout=60_000)
        step.click()
        page.get_by_text(f"Fixed noise after {d} D and {g} G steps").wait_for(state="visible", timeout=120_000)
    expect(page.get_by_role("button", name="Step both")).to_be_enabled(timeout=30_000)
    page.get_by_text("wasserstein").first.wait_for(state="visible")  # the per-step chart's legend
    assert page.get_by_text("d real acc").count() == 0
    page.get_by_text("wasserstein ", exact=False).last.wait_for(state="visible")  # the last step's line
    run = RunStore(app_data_dir / "runs").list_runs()[0]
    assert (run.model, run.params["variant"]) == ("wgan", "gp")
    heading(page, "Latent space").scroll_into_view_if_needed()  # the whole page from its top, not from the click
    screenshot(page, screenshots / "latent-wgan-by-hand.png")
