"""Latent space: train a VAE or a GAN from sliders, watch its samples and latent grid improve epoch by
epoch, then walk the space: scatter of the test set, interpolations, one slider per dimension.

Runs train in their own processes (engine.core.jobs), the hand-stepped GAN too: this page sends them
Start / Stop / Step D / Step G through the run store and draws what they write there. It decodes
samples and grids from checkpoints once per new checkpoint (st.cache_data), never per refresh.
"""
from __future__ import annotations

import time

import numpy as np
import streamlit as st

import engine.models  # noqa: F401  (registers the built-in models)
from engine.latent import gan_session
from engine.latent import space as latent
from engine.data import get_info, list_datasets
from engine.core.jobs import RunControl
from engine.latent.space import LatentError
from engine.core.params import ParamError
from engine.core.paths import runs_dir
from engine.core.loading import load_run, run_problem, runs_with
from engine.core.registry import TRAINING_PARAMS, get_spec, specs_with, validate
from engine.core.runs import RunStore
from engine.core.trainer import start_training
from pages._ui import latent_views as views
from pages._ui import live as live_ui
from pages._ui import run_link
from pages._ui.params_ui import param_inputs

SCATTER_POINTS = (1000, 2000, 5000, 10000)
GAN_STEPS_PER_CLICK = (1, 10, 100)
OTHERS_REFRESH_S = 5.0  # other listed runs that train are checked this often (their picker label)


@st.cache_data(max_entries=16, show_spinner="Encoding the test set...")
def scatter_data(store_root: str, run_id: int, epoch: int, points: int, method: str):
    loaded = load_run(RunStore(store_root), run_id, epoch, need=latent.NEED, shared=True)
    model, data = loaded.model, loaded.data
    x, y = data.x_val[:points], data.y_val[:points]
    mean, _ = latent.encode(model, x)
    coords, note = latent.project_2d(mean.numpy(), method)
    return np.asarray(coords), y.numpy(), np.arange(len(x)), mean.numpy(), note


@st.cache_data(max_entries=32, show_spinner=False)
def samples_picture(store_root: str, run_id: int, epoch: int, label: int | None):
    """The 64 fixed-seed samples of a checkpoint, tiled, and the image side: decoded once per
    epoch, not on every live redraw (checkpoints never change once written)."""
    model = load_run(RunStore(store_root), run_id, epoch, need=latent.NEED, shared=True).model
    images = latent.sample(model, 64, seed=0, labels=label)
    return latent.tile(images, 8, pad=1), images.shape[-1]


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


@st.cache_data(max_entries=32, show_spinner=False)
def grid_picture(store_root: str, run_id: int, epoch: int, n: int, r: float, dims, base, label: int | None):
    """The checkpoint's n x n latent grid, tiled (raises LatentError for bad dimensions)."""
    model = load_run(RunStore(store_root), run_id, epoch, need=latent.NEED, shared=True).model
    return latent.tile(latent.latent_grid(model, n, r, dims, base, labels=label), n, pad=1)


def generative_runs(store: RunStore):
    return runs_with(store, latent.NEED)


st.title("Latent space")
st.caption("Train a VAE or a GAN here and watch its latent space organise itself, epoch by epoch; then walk "
           "it. Runs of these models from the Training page or the CLI open here too.")
store = RunStore(runs_dir())
specs = {s.name: s for s in specs_with(latent.NEED)}  # registration order: the classic 2-D VAE first, the default
image_sets = [i.name for i in list_datasets() if i.kind == "image"]


def select_run(run_id: int | None) -> None:
    run_link.select_run("latent_run", run_id)


# A link from the Training page (or a shared URL) names the run: open it, or say why it cannot be.
if "latent_run" not in st.session_state and st.query_params.get("run"):
    asked = st.query_params["run"]
    problem = None if asked.isdigit() else f"'{asked}' is not a run id"
    if problem is None:
        problem = run_problem(store, int(asked), need=latent.NEED)
        if problem is None or "no checkpoint yet" in problem:
            st.session_state.latent_run = int(asked)
            problem = None
    if problem:
        st.error(f"Cannot open that run: {problem}.", icon=":material/error:")
        st.session_state.latent_run = None
run_id = st.session_state.get("latent_run")
try:
    current = store.get_run(run_id) if run_id is not None else None
except KeyError:  # deleted (e.g. from the Training page) since it was opened
    st.warning(f"Run {run_id} no longer exists.", icon=":material/warning:")
    select_run(None)
    run_id = current = None
control = RunControl(store, run_id) if current is not None else None
progress = control.progress() if control is not None else None  # a dead job's run is marked so here
running = progress is not None and progress.running

# ---- settings: train a new model, or open an existing run ----------------------------------------
settings, main = st.columns([1, 2.3], gap="large")
with settings:
    # Options are the registry names: a bound selectbox puts its (formatted) label in the URL.
    model_name = st.selectbox("Model", list(specs), key="latent_model", bind="query-params")
    spec = specs[model_name]
    dataset_name = st.selectbox("Dataset", image_sets, key="latent_dataset", bind="query-params")
    st.caption(f"**{spec.title}**: {spec.description}  \n**{get_info(dataset_name).title}**")
    with st.expander("Model", expanded=True):
        model_values = param_inputs(spec.params, prefix=f"{model_name}.")
    with st.expander("Training", expanded=False):
        shown = [p for p in TRAINING_PARAMS if model_name != "dcgan" or p.name not in ("optimizer", "lr", "momentum")]
        training_values = param_inputs(shown)
    try:
        config = validate(model_name, dataset_name, model_values | training_values)
    except ParamError as err:
        config = None
        st.error(str(err), icon=":material/block:")

    start, stop = st.columns(2)
    if start.button("Start", type="primary", icon=":material/play_arrow:", disabled=config is None or running,
                    width="stretch", help="train with these settings in a process of its own; the views on the "
                                          "right follow it live"):
        select_run(start_training(config, store).run_id)
        st.rerun()
    if stop.button("Stop", icon=":material/stop:", disabled=not running, width="stretch"):
        control.stop(wait=5)
        st.rerun()

    st.divider()
    runs = generative_runs(store)
    if runs:
        # The status is part of the label (ids are the options, so a selection survives it changing).
        labels = {r.id: f"#{r.id} {r.model}{' (by hand)' if gan_session.is_hand_gan(r) else ''} on {r.dataset} · {r.status}"
                  for r in runs}
        ids = list(labels)
        chosen = st.selectbox("Open a run", ids, index=ids.index(run_id) if run_id in ids else None,
                              format_func=labels.get, placeholder="choose a VAE or GAN run")
        if chosen is not None and chosen != run_id:
            select_run(chosen)
            st.rerun()
        # The run on show is followed by its live view; other running runs (a hand-stepped GAN, the
        # CLI's) are checked slowly, so the picker's labels say when they end.
        others = [r.id for r in runs if r.status == "running" and r.id != run_id]

        @st.fragment(run_every=OTHERS_REFRESH_S if others else None)
        def follow_other_runs() -> None:
            if any(RunControl(store, i).progress().status != "running" for i in others):
                st.rerun(scope="app")

        follow_other_runs()
    else:
        st.caption("VAE and GAN runs (from here, the Training page or the CLI) are listed here.")

# ---- the run: live training view ------------------------------------------------------------------
with main:
    if current is None:
        st.info("Pick a model on the left and press **Start** (a 2-D VAE on MNIST learns a readable latent "
                "plane in a few epochs), or open an existing run.", icon=":material/arrow_back:")
        gan_model = None
    else:
        run = current
        gan_model = run.model == "dcgan"
        hand_gan = gan_session.is_hand_gan(run)
        conditional = bool(run.params.get("conditional", False))
        latent_size = int(run.params.get("latent", 2))

        st.markdown(f"**Run {run.id}**: {get_spec(run.model).title} on {run.dataset}, latent size {latent_size}")
        c1, c2, c3, c4 = st.columns(4)
        grid_n = c1.slider("Grid size n", 3, 25, 15, key="grid_n")
        grid_r = c2.slider("Grid range r", 0.5, 8.0, 4.0, 0.5, key="grid_r")
        dim_x = c3.number_input("x dimension", 0, max(latent_size - 1, 0), 0, key=f"dim_x_{run_id}",
                                disabled=latent_size <= 2)
        dim_y = c4.number_input("y dimension", 0, max(latent_size - 1, 0), min(1, latent_size - 1),
                                key=f"dim_y_{run_id}", disabled=latent_size <= 2)
        label = None
        if conditional:
            label = st.segmented_control("Digit to generate", list(range(10)), default=0, key="cond_label")
            label = 0 if label is None else int(label)
        base_code = st.session_state.get(f"base_code_{run_id}")
        hold = "a chosen image's code" if base_code is not None else "0"
        view = live_ui.live_run(store, run_id)
        drawn_for = (progress.status, progress.paused)  # what the buttons on the left were drawn for

        @st.fragment(run_every=live_ui.refresh_every(progress))
        def live_view(run_id: int):
            """Polls the run (only what is new); redraws the whole page when it pauses, resumes or
            ends. Samples and the grid are decoded once per new checkpoint (cached per epoch)."""
            follower = view.follower
            follower.poll()
            p = follower.progress
            if (p.status, p.paused) != drawn_for:
                st.rerun(scope="app")  # e.g. finished: the buttons change, the walks use the last epoch
            epochs = store.checkpoint_epochs(run_id)
            live_ui.progress_line(p, run.params.get("epochs", 1), epoch=max(p.epoch, epochs[-1] if epochs else 0),
                                  lead=f"{p.status} · ")
            if p.status == "completed" and hand_gan:
                st.caption(p.message)
            if hand_gan and p.running:
                st.info(f"Run {run_id} is a GAN trained by hand (Step D / Step G, below, with the model set to "
                        "dcgan): its samples and latent grid appear here once it is saved as a run.",
                        icon=":material/back_hand:")
                return
            if not epochs:
                st.info("The samples and the latent grid appear when the first epoch's checkpoint is saved.",
                        icon=":material/hourglass_top:")
                return
            samples_col, grid_col = st.columns([1, 1.6])
            with samples_col:
                what = "the same fixed noise every epoch" if gan_model else "decoded prior samples z ~ N(0, I)"
                picture, side = samples_picture(str(store.root), run_id, epochs[-1], label if conditional else None)
                st.image(views.upscale(picture, 2 if side <= 14 else 1),
                         caption=f"Samples after epoch {epochs[-1]}: {what}", width="stretch", clamp=True)
            with grid_col:
                try:
                    picture = grid_picture(str(store.root), run_id, epochs[-1], grid_n, grid_r, (dim_x, dim_y),
                                           base_code, label)
                except LatentError as err:
                    st.warning(str(err))
                else:
                    factor = max(1, 600 // picture.shape[1])
                    st.image(views.upscale(picture, factor), clamp=True, width="stretch",
                             caption=f"Latent grid after epoch {epochs[-1]}: dimension {dim_x} across, {dim_y} up, "
                                     f"over [-{grid_r:g}, {grid_r:g}]; the others at {hold}")
            if hand_gan:  # one "epoch" of hand steps: its per-step curves
                st.plotly_chart(view.figure("hand_steps", follower.rows, lambda: views.step_figure(follower.metrics)),
                                key="live_hand_steps")
                return
            # Per-epoch curves: rebuilt only when an epoch ends.
            figures = view.figure("epoch_curves", follower.epoch, lambda: views.curves(follower.metrics, gan_model))
            cols = st.columns(len(figures) or 1)
            for col, fig, key in zip(cols, figures, ("c1", "c2", "c3")):
                col.plotly_chart(fig, key=f"live_{key}")
            if gan_model and not (follower.metrics.name == "val_class_entropy").any() and epochs:
                st.caption("Sample quality is scored on MNIST runs by the project's MNIST classifier "
                           "(engine.core.pretrained), when it is installed.")

        live_view(run_id)

# ---- walk the space (latest checkpoint) -----------------------------------------------------------
if current is not None and (saved := store.checkpoint_epochs(run_id)):
    epoch = saved[-1]
    st.divider()
    header = st.empty()  # filled once the epoch to walk is known
    if len(saved) > 1 and not running:
        # Any saved epoch can be walked: see how the space organised itself along the way.
        epoch = st.select_slider("Checkpoint to walk", saved, value=saved[-1], key=f"walk_epoch_{run_id}",
                                 format_func=lambda e: f"epoch {e}")
    header.subheader(f"Walk the latent space (run {run_id}, epoch {epoch})")
    loaded = load_run(store, run_id, epoch, need=latent.NEED, shared=True)
    model, data = loaded.model, loaded.data
    is_vae = latent.is_vae(model)
    tabs = st.tabs(["Latent scatter", "Interpolation", "Sliders", "Reconstructions"] if is_vae
                   else ["Interpolation", "Sliders"])
    tab = dict(zip(["scatter", "walk", "sliders", "recon"] if is_vae else ["walk", "sliders"], tabs))
    classes = data.info.classes

    if is_vae:
        with tab["scatter"]:
            left, right = st.columns([2, 1])
            points = left.select_slider("Test images", SCATTER_POINTS, 2000, key="scatter_points")
            method = "pca"
            if model.latent > 2:
                method = left.radio("Projection", ["pca", "umap"], horizontal=True, key="projection",
                                    format_func=lambda m: {"pca": "PCA (instant)",
                                                           "umap": "UMAP (first use compiles for ~40 s)"}[m])
            coords, ys, indices, means, note = scatter_data(str(store.root), run_id, epoch,
                                                            min(points, len(data.x_val)), method)
            selected = st.session_state.get(f"selected_{run_id}")
            event = left.plotly_chart(views.scatter_figure(coords, ys, indices, classes, note, selected),
                                      on_select="rerun", selection_mode=("points", "box", "lasso"),
                                      key=f"scatter_{run_id}_{epoch}_{points}_{method}")
            picked = [p for p in (event.selection.points if event else []) if "customdata" in p]
            if picked:
                custom = picked[0]["customdata"]
                selected = int(custom[0] if isinstance(custom, (list, tuple)) else custom)
                st.session_state[f"selected_{run_id}"] = selected
            with right:
                if selected is None:
                    st.info("Click a point (or draw a box / lasso) to see its image, its reconstruction and its code.",
                            icon=":material/touch_app:")
                else:
                    x = data.x_val[selected:selected + 1]
                    mean, logvar = latent.encode(model, x)
                    recon = latent.decode(model, mean)  # what latent.reconstruct does, without encoding twice
                    st.markdown(f"**Test image {selected}** (digit {classes[int(data.y_val[selected])]})"
                                + (f", {len(picked)} selected: the first" if len(picked) > 1 else ""))
                    a, b = st.columns(2)
                    a.image(views.upscale(x[0, 0].numpy(), 6), caption="original", clamp=True, width="stretch")
                    b.image(views.upscale(recon[0, 0].numpy(), 6), caption="reconstruction", clamp=True, width="stretch")
                    st.dataframe({"dimension": list(range(model.latent)), "mean": mean[0].tolist(),
                                  "std": logvar[0].mul(0.5).exp().tolist()}, hide_index=True, height=200)
                    if st.button("Hold the grid's other dimensions at this code", key="hold_code",
                                 disabled=model.latent <= 2):
                        st.session_state[f"base_code_{run_id}"] = mean[0].tolist()
                        st.rerun()
                    if st.session_state.get(f"base_code_{run_id}") is not None and st.button("Hold them at 0"):
                        st.session_state.pop(f"base_code_{run_id}")
                        st.rerun()
                    ends = st.columns(2)
                    # Callbacks run before the next script run, so they may set the walk's inputs.
                    ends[0].button("Walk from this image", key="walk_from_selected", width="stretch",
                                   on_click=lambda i=selected: st.session_state.update(walk_from_image=i))
                    ends[1].button("Walk to this image", key="walk_to_selected", width="stretch",
                                   on_click=lambda i=selected: st.session_state.update(walk_to_image=i))

    with tab["walk"]:
        a, b, c, d = st.columns(4)
        steps = d.slider("Steps k", 2, 20, 10, key="walk_steps")
        if is_vae:
            # Defaults through Session State (no value=): the scatter's "Walk from/to" buttons set them.
            st.session_state.setdefault("walk_from_image", 0)
            st.session_state.setdefault("walk_to_image", 1)
            first = a.number_input("From test image", 0, len(data.x_val) - 1, key="walk_from_image")
            second = b.number_input("To test image", 0, len(data.x_val) - 1, key="walk_to_image")
            method = c.radio("Path", ["linear", "spherical"], horizontal=True, key="walk_method")
            ends = data.x_val[[first, second]]
            mean, _ = latent.encode(model, ends)
            z0, z1 = mean[0], mean[1]
        else:
            first = a.number_input("From noise seed", 0, 10_000, 0, key="walk_from")
            second = b.number_input("To noise seed", 0, 10_000, 1, key="walk_to")
            method = c.radio("Path", ["spherical", "linear"], horizontal=True, key="walk_method",
                             help="noise lives near a sphere of radius sqrt(latent): spherical paths stay there")
            z0, z1 = latent.fixed_noise(model.latent, 1, first)[0], latent.fixed_noise(model.latent, 1, second)[0]
        codes = latent.interpolate(z0, z1, steps, method)
        walk = latent.decode(model, codes, label)
        if is_vae:
            row = np.concatenate([ends[:1], walk, ends[1:]])
            views.image_grid(row, len(row), caption=f"original {first}, then {steps} {method} steps from its code to "
                                                     f"the code of {second}, then original {second}")
        else:
            views.image_grid(walk, len(walk), caption=f"{steps} {method} steps from noise seed {first} to seed {second}")

    with tab["sliders"]:
        @st.fragment
        def sliders(run_id: int, epoch: int, start: int | None, start_code: list[float] | None):
            model = load_run(store, run_id, epoch, need=latent.NEED, shared=True).model
            start_code = start_code or [0.0] * model.latent
            cols = st.columns([1, 1, 1, 1, 2])
            values = []
            for i in range(model.latent):
                values.append(cols[i % 4].slider(f"z{i}", -4.0, 4.0, float(np.clip(start_code[i], -4, 4)), 0.05,
                                                 key=f"z_{run_id}_{epoch}_{start}_{i}"))
            started = time.perf_counter()
            image = latent.decode(model, [values], label)[0]
            took = (time.perf_counter() - started) * 1000
            with cols[4]:
                st.image(views.upscale(latent.tile(image[None], 1), max(1, 168 // image.shape[-1])), clamp=True,
                         width=168)
                st.caption(f"decoded in {took:.1f} ms")

        chosen = st.session_state.get(f"selected_{run_id}") if is_vae else None
        start_code = latent.encode(model, data.x_val[chosen:chosen + 1])[0][0].tolist() if chosen is not None else None
        st.caption("Each slider is one latent dimension; the image is decoded as you drag"
                   + (f" (starting from test image {chosen}'s code)." if chosen is not None else "."))
        sliders(run_id, epoch, chosen, start_code)

    if is_vae:
        with tab["recon"]:
            page_no = st.number_input("Page of 32 test images", 1, len(data.x_val) // 32, 1, key="recon_page")
            x = data.x_val[(page_no - 1) * 32:page_no * 32]
            recon = latent.reconstruct(model, x)
            pairs = np.stack([x.numpy(), recon.numpy()], axis=1).reshape(-1, *x.shape[1:])
            views.image_grid(pairs, 16, caption="originals and their reconstructions, side by side (pairs)")
            err = (recon - x).pow(2).flatten(1).mean(1)
            st.caption(f"Mean squared pixel error on this page: {err.mean():.4f}")

# ---- GAN, one step at a time ----------------------------------------------------------------------
if model_name == "dcgan":
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
    gan_live = gan_progress is not None and gan_progress.running
    gan_state = gan_session.hand_gan_state(store, gan_progress) if gan_progress is not None else None
    gan_busy = gan_state is not None and gan_state.busy  # still working on the last click
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

    if gan_progress is None:
        st.info("Press **New GAN** to start one.", icon=":material/add:")
    else:
        gan_shown = (gan_progress.status, gan_busy)  # what the buttons above were drawn for

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
            if p.status == "completed":
                st.success(f"Saved as run {run_id} ({p.message}): its space is walked above. "
                           "Press **New GAN** for another.", icon=":material/check_circle:")
            elif p.status in ("failed", "diverged"):
                st.error(p.message, icon=":material/error:")
            elif not p.running:
                st.warning(f"{p.message}. Press **New GAN** for another.", icon=":material/pause_circle:")
            left, right = st.columns([1, 2])
            try:
                picture, d_steps, g_steps = hand_gan_samples(str(store.root), run_id, state.commands)
            except LookupError:
                left.info("Building the GAN in its own process...", icon=":material/hourglass_top:")
            else:
                left.image(views.upscale(picture, 2), clamp=True, width="stretch",
                           caption=f"Fixed noise after {d_steps} D and {g_steps} G steps")
            if state.busy and p.running:
                left.caption(f":material/hourglass_top: working: {p.note}" if p.state == "training"
                             else ":material/hourglass_top: your click is on its way to the GAN's process")
            metrics = follower.metrics
            if (metrics.name == "d_loss").any() or (metrics.name == "g_loss").any():
                right.plotly_chart(view.figure("gan_steps", follower.rows, lambda: views.step_figure(metrics)),
                                   key="gan_steps")
                right.caption(views.last_step_stats(metrics))
                problem = gan_session.recent_gan_problem(metrics)
                if problem:
                    right.warning(problem, icon=":material/warning:")
            elif p.running:
                right.caption("Press **Step D**, **Step G** or **Step both**: the losses and D's accuracies "
                              "of every step are drawn here.")

        hand_gan_view(gan_id)
