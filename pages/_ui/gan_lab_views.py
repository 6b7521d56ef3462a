"""The Latent space page's GAN trained by hand (as in GAN Lab): New GAN, Step D / Step G / Step
both, Save as run, and the view that follows the session's process (its fixed-noise samples and
per-step curves).

The GAN trains in a process of its own (engine.latent.gan_session); this page only sends it the
clicks through the run store and draws what it writes there.
"""
from __future__ import annotations

import streamlit as st

from engine.core.jobs import Progress, RunControl
from engine.core.runs import RunStore
from engine.latent import gan_session
from engine.latent import space as latent
from pages._ui import latent_views as views
from pages._ui import live as live_ui
from pages._ui.latent_settings import select_run

GAN_STEPS_PER_CLICK = (1, 10, 100)
IMAGE_GANS = ("dcgan", "wgan")  # the image GANs this section steps by hand (a WGAN's D is its critic)


@st.cache_data(max_entries=32, show_spinner=False)
def hand_gan_samples(store_root: str, run_id: int, k: int):
    """A hand-stepped GAN's fixed-noise samples after its k-th stepping command (what its job
    stored), tiled, and the (D, G) step counts they were drawn at. Raises LookupError while the
    job has not stored them yet (an exception is not cached: the next refresh looks again)."""
    store = RunStore(store_root)
    found = store.artifact(run_id, "samples", k)
    if found is None:
        raise LookupError(f"no samples {k} yet")
    counts = store.artifact(run_id, "counts", k)
    d_steps, g_steps = (int(counts[1][0]), int(counts[1][1])) if counts is not None else (None, None)
    return latent.tile(found[1], 8, pad=1), d_steps, g_steps


def gan_lab(store: RunStore, config) -> None:
    """The section: its buttons, then the session's view (or how to start one)."""
    st.divider()
    st.subheader("Train the GAN by hand: step D, step G")
    st.caption("As in GAN Lab: update only the discriminator, only the generator, or both, and watch the same "
               "noise batch change. Uses the settings on the left; the GAN trains in a process of its own (this "
               "page only sends it the clicks). Save it as a run to walk its space.")
    gan_id = st.session_state.get("gan_run")  # the session's run: all the page keeps of it
    try:
        gan_progress = RunControl(store, gan_id).progress() if gan_id is not None else None
    except KeyError:  # its run was deleted
        gan_id = gan_progress = st.session_state["gan_run"] = None
    gan_state = gan_session.hand_gan_state(store, gan_progress) if gan_progress is not None else None
    gan_busy = gan_state is not None and gan_state.busy  # still working on the last click
    gan_buttons(store, config, gan_id, gan_progress, gan_state, gan_busy)
    if gan_progress is None:
        st.info("Press **New GAN** to start one.", icon=":material/add:")
    else:
        follow_gan(store, gan_id, gan_progress, gan_busy)


def gan_buttons(store: RunStore, config, gan_id: int | None, gan_progress: Progress | None, gan_state,
                gan_busy: bool) -> None:
    """New GAN, steps per click, Step D / Step G / Step both, Save as run."""
    gan_live = gan_progress is not None and gan_progress.running
    buttons = st.columns(6)
    if buttons[0].button("New GAN", icon=":material/add:", disabled=config is None, width="stretch",
                         help="fresh weights, with the settings on the left (a session left running is stopped; "
                              "its weights are kept)"):
        if gan_live:
            RunControl(store, gan_id).stop(wait=5)
        st.session_state.gan_run = gan_session.start_gan_session(config, store).run_id
        st.rerun()
    per_click = buttons[1].selectbox("Steps per click", GAN_STEPS_PER_CLICK, key="gan_per_click",
                                     label_visibility="collapsed")
    for col, which, text in ((buttons[2], "d", "Step D"), (buttons[3], "g", "Step G"), (buttons[4], "both", "Step both")):
        if col.button(text, disabled=not gan_live or gan_busy, width="stretch", key=f"gan_step_{which}"):
            RunControl(store, gan_id).step(per_click, what=which)
            st.rerun()
    if buttons[5].button("Save as run", icon=":material/save:", width="stretch",
                         disabled=not gan_live or gan_busy or not gan_state.steps,
                         help="checkpoint it as a completed run: the views above open it"):
        gan_session.finish_gan_session(store, gan_id)
        RunControl(store, gan_id).wait_until_done(5)  # a checkpoint write; the live view follows if slower
        select_run(gan_id)
        st.rerun()


def follow_gan(store: RunStore, gan_id: int, gan_progress: Progress, gan_busy: bool) -> None:
    gan_shown = (gan_progress.status, gan_busy)  # what the buttons above were drawn for
    model = store.get_run(gan_id).model  # the session's (the form may show another model since)

    @st.fragment(run_every=live_ui.FAST_S if gan_busy else live_ui.refresh_every(gan_progress))
    def hand_gan_view(run_id: int):
        """Follows the session's process: fast while it works on a click, slowly while it waits
        (another tab may click too); redraws the page (the buttons) when it becomes idle or ends."""
        view = live_ui.live_run(store, run_id)
        follower = view.follower
        follower.poll()
        p = follower.progress
        state = gan_session.hand_gan_state(store, p)
        if (p.status, state.busy) != gan_shown:
            st.rerun(scope="app")
        session_status(run_id, p)
        left, right = st.columns([1, 2])
        with left:
            gan_samples(store, run_id, p, state)
        with right:
            gan_steps(view, p, model)

    hand_gan_view(gan_id)


def session_status(run_id: int, p: Progress) -> None:
    """How the session ended, if it did."""
    if p.status == "completed":
        st.success(f"Saved as run {run_id} ({p.message}): its space is walked above. "
                   "Press **New GAN** for another.", icon=":material/check_circle:")
    elif p.status in ("failed", "diverged"):
        st.error(p.message, icon=":material/error:")
    elif not p.running:
        st.warning(f"{p.message}. Press **New GAN** for another.", icon=":material/pause_circle:")


def gan_samples(store: RunStore, run_id: int, p: Progress, state) -> None:
    """The fixed noise batch after the last click, and what the process is doing."""
    try:
        picture, d_steps, g_steps = hand_gan_samples(str(store.root), run_id, state.commands)
    except LookupError:
        st.info("Building the GAN in its own process...", icon=":material/hourglass_top:")
    else:
        st.image(views.upscale(picture, 2), clamp=True, width="stretch",
                 caption=f"Fixed noise after {d_steps} D and {g_steps} G steps")
    if state.busy and p.running:
        st.caption(f":material/hourglass_top: working: {p.note}" if p.state == "training"
                   else ":material/hourglass_top: your click is on its way to the GAN's process")


def gan_steps(view: live_ui.LiveRun, p: Progress, model: str) -> None:
    """Every step's losses and D's accuracies (a WGAN: the critic's Wasserstein estimate), the last
    step's numbers, and a warning when the last steps look like a collapse (or a divergence)."""
    follower = view.follower
    metrics = follower.metrics
    if (metrics.name == "d_loss").any() or (metrics.name == "g_loss").any():
        st.plotly_chart(view.figure("gan_steps", follower.rows, lambda: views.step_figure(metrics)),
                        key="gan_steps")
        st.caption(views.last_step_stats(metrics))
        problem = gan_session.recent_gan_problem(metrics, model=model)
        if problem:
            st.warning(problem, icon=":material/warning:")
    elif p.running:
        st.caption("Press **Step D**, **Step G** or **Step both**: the losses and D's accuracies (a WGAN: "
                   "its critic's Wasserstein estimate) of every step are drawn here.")
