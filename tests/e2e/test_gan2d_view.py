"""The GAN on 2D points in a real browser: open the Latent space page's 2D view, press Start on the
ring with the defaults, watch the plane redraw while it trains (the step under it changes several
times: the picture is animated, not drawn once per epoch), see the modes covered named, then Stop;
then step a new one by hand (Step both, Step D, 10 steps a click: the plane follows each click); screenshots of the
view while it trains, after, and by hand."""
import re

from engine.core.runs import RunStore
from tests.e2e.helpers import heading, screenshot

STEP = re.compile(r"^Step ([\d,]+) · KL")


def plane_step(page) -> int | None:
    """The step of the frame the plane shows now (from the line under it)."""
    for text in page.get_by_test_id("stCaptionContainer").all_inner_texts():
        found = STEP.match(text.strip())
        if found:
            return int(found.group(1).replace(",", ""))
    return None


def test_start_the_2d_gan_on_the_ring_and_watch_it_move(page, app_url, app_data_dir, screenshots):
    from playwright.sync_api import expect  # the fixtures skip without playwright

    page.set_viewport_size({"width": 1400, "height": 1400})  # the whole view in one screen, while it moves
    page.goto(app_url)
    heading(page, "Deep Playground").wait_for(state="visible", timeout=60_000)
    page.goto(f"{app_url}/latent-space?view=GAN+on+2D+points")
    heading(page, "GAN on 2D points").wait_for(state="visible", timeout=60_000)
    page.get_by_text("to train on this target").wait_for(state="visible")
    page.get_by_test_id("stPlotlyChart").first.wait_for(state="visible")  # the ring, before any run
    screenshot(page, screenshots / "gan2d-target.png")

    page.get_by_role("button", name="Start").click()
    # (A chart the fragment replaced can linger hidden beside the new one: the visible one.)
    page.get_by_text("D and G losses").filter(visible=True).first.wait_for(state="visible", timeout=60_000)
    seen: list[int] = []
    for _ in range(240):  # up to a minute: the plane must redraw several times while the run trains
        step = plane_step(page)
        if step is not None and (not seen or step != seen[-1]):
            seen.append(step)
        if len(seen) >= 5:
            break
        page.wait_for_timeout(250)
    assert len(seen) >= 5 and seen == sorted(seen), f"the plane was redrawn at steps {seen}"
    page.get_by_text(re.compile(r"the generator covers")).first.wait_for(state="visible", timeout=60_000)
    page.mouse.move(5, 5)  # no tooltip over the view
    page.wait_for_timeout(1500)
    page.screenshot(path=screenshots / "gan2d-training.png")

    page.get_by_role("button", name="Stop").click()
    page.get_by_text("trained with Start").wait_for(state="visible")
    expect(page.get_by_role("button", name="Stop")).to_be_disabled(timeout=30_000)
    run = RunStore(app_data_dir / "runs").list_runs()[0]
    assert run.model == "gan2d" and run.dataset == "ring" and run.status in ("stopped", "completed")
    screenshot(page, screenshots / "gan2d-stopped.png")

    # By hand: a fresh GAN, 10 D and G steps (the default 10 per click), then 10 D steps; the plane
    # follows each click.
    page.get_by_role("button", name="New hand GAN").click()
    page.get_by_text(re.compile(r"^Step 0 · KL")).wait_for(state="visible", timeout=60_000)
    step_both = page.get_by_role("button", name="Step both")
    expect(step_both).to_be_enabled(timeout=60_000)
    step_both.click()
    page.get_by_text(re.compile(r"^Step 10 · KL")).wait_for(state="visible", timeout=60_000)
    expect(step_both).to_be_enabled(timeout=30_000)
    page.get_by_role("button", name="Step D").click()
    page.get_by_text(re.compile(r"^Step 20 · KL")).wait_for(state="visible", timeout=60_000)
    page.get_by_text("20 D steps and 10 G steps").wait_for(state="visible")
    page.mouse.move(5, 5)
    page.wait_for_timeout(1000)
    page.screenshot(path=screenshots / "gan2d-by-hand.png")
    page.get_by_role("button", name="Stop").click()
    expect(page.get_by_role("button", name="Stop")).to_be_disabled(timeout=30_000)
