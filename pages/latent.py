"""Latent space: train a VAE or a GAN from sliders, watch its samples and latent grid improve epoch by
epoch, then walk the space: scatter of the test set, interpolations, one slider per dimension."""
from __future__ import annotations

import time

import numpy as np
import streamlit as st

from engine import latent
from engine.data import get_info, list_datasets
from engine.latent import LatentError
from engine.params import ParamError
from engine.paths import runs_dir
from engine.registry import TRAINING_PARAMS, get_spec, list_specs, validate
from engine.runs import RunStore
from engine.train import active_jobs, start_training
from pages._ui import latent_views as views
from pages._ui import run_link
from pages._ui.params_ui import param_inputs

REFRESH_S = 1.0  # the live view redraws this often while a run trains (a new checkpoint per epoch)
SCATTER_POINTS = (1000, 2000, 5000, 10000)


@st.cache_data(max_entries=16, show_spinner="Encoding the test set...")
def scatter_data(store_root: str, run_id: int, epoch: int, points: int, method: str):
    model, data, _ = latent.load_generative(RunStore(store_root), run_id, epoch)
    x, y = data.x_val[:points], data.y_val[:points]
    mean, _ = latent.encode(model, x)
    coords, note = latent.project_2d(mean.numpy(), method)
    return np.asarray(coords), y.numpy(), np.arange(len(x)), mean.numpy(), note


@st.cache_data(max_entries=32, show_spinner=False)
def samples_picture(store_root: str, run_id: int, epoch: int, label: int | None):
    """The 64 fixed-seed samples of a checkpoint, tiled, and the image side: decoded once per
    epoch, not on every live redraw (checkpoints never change once written)."""
    model, _, _ = latent.load_generative(RunStore(store_root), run_id, epoch)
    images = latent.sample(model, 64, seed=0, labels=label)
    return latent.tile(images, 8, pad=1), images.shape[-1]


@st.cache_data(max_entries=32, show_spinner=False)
def grid_picture(store_root: str, run_id: int, epoch: int, n: int, r: float, dims, base, label: int | None):
    """The checkpoint's n x n latent grid, tiled (raises LatentError for bad dimensions)."""
    model, _, _ = latent.load_generative(RunStore(store_root), run_id, epoch)
    return latent.tile(latent.latent_grid(model, n, r, dims, base, labels=label), n, pad=1)


def generative_runs(store: RunStore):
    names = {s.name for s in list_specs() if s.family == "generative"}
    return [r for r in store.list_runs() if r.model in names]


st.title("Latent space")
st.caption("Train a VAE or a GAN here and watch its latent space organise itself, epoch by epoch; then walk "
           "it. Runs of these models from the Training page or the CLI open here too.")
store = RunStore(runs_dir())
ORDER = ("vae", "conv_vae", "dcgan")  # the classic 2-D VAE first: the default
specs = {s.name: s for s in sorted((s for s in list_specs() if s.family == "generative"),
                                   key=lambda s: ORDER.index(s.name) if s.name in ORDER else len(ORDER))}
image_sets = [i.name for i in list_datasets() if i.kind == "image"]


def select_run(run_id: int | None) -> None:
    run_link.select_run("latent_run", run_id)


# A link from the Training page (or a shared URL) names the run: open it, or say why it cannot be.
if "latent_run" not in st.session_state and st.query_params.get("run"):
    asked = st.query_params["run"]
    problem = None if asked.isdigit() else f"'{asked}' is not a run id"
    if problem is None:
        problem = latent.generative_run_problem(store, int(asked))
        if problem is None or "no checkpoint yet" in problem:
            st.session_state.latent_run = int(asked)
            problem = None
    if problem:
        st.error(f"Cannot open that run: {problem}.", icon=":material/error:")
        st.session_state.latent_run = None
run_id = st.session_state.get("latent_run")

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

    job = active_jobs().get(run_id) if run_id is not None else None
    start, stop = st.columns(2)
    if start.button("Start", type="primary", icon=":material/play_arrow:", disabled=config is None or job is not None,
                    width="stretch", help="train with these settings; the views on the right follow it live"):
        select_run(start_training(config, store).run_id)
        st.rerun()
    if stop.button("Stop", icon=":material/stop:", disabled=job is None, width="stretch"):
        job.stop()
        job.join(10)
        st.rerun()

    st.divider()
    runs = generative_runs(store)
    if runs:
        labels = {r.id: f"#{r.id} {r.model} on {r.dataset} · {r.status}" for r in runs}
        ids = list(labels)
        chosen = st.selectbox("Open a run", ids, index=ids.index(run_id) if run_id in ids else None,
                              format_func=labels.get, placeholder="choose a VAE or GAN run")
        if chosen is not None and chosen != run_id:
            select_run(chosen)
            st.rerun()
    else:
        st.caption("VAE and GAN runs (from here, the Training page or the CLI) are listed here.")

# ---- the run: live training view ------------------------------------------------------------------
with main:
    if run_id is None:
        st.info("Pick a model on the left and press **Start** (a 2-D VAE on MNIST learns a readable latent "
                "plane in a few epochs), or open an existing run.", icon=":material/arrow_back:")
        gan_model = None
    else:
        run = store.get_run(run_id)
        running = run.status == "running"
        gan_model = run.model == "dcgan"
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

        @st.fragment(run_every=REFRESH_S if running else None)
        def live_view(run_id: int, was_running: bool):
            run = store.get_run(run_id)
            if was_running and run.status != "running":
                st.rerun(scope="app")  # finished: redraw the whole page once (the walks use the last epoch)
            job = active_jobs().get(run_id)
            metrics = store.metrics(run_id)
            epochs = store.checkpoint_epochs(run_id)
            total = run.params.get("epochs", 1)
            done = epochs[-1] if epochs else 0
            text = f"{run.status} · epoch {done}/{total}"
            if job is not None and job.progress.samples_per_s:
                text += f" · {job.progress.samples_per_s:,.0f} samples/s"
            if job is not None and job.progress.total_steps and run.status == "running":
                fraction = job.progress.step / job.progress.total_steps
            else:
                fraction = done / max(total, 1)
            st.progress(min(fraction, 1.0), text=text)
            if run.status in ("diverged", "failed"):
                st.error(run.message, icon=":material/error:")
            elif run.status in ("stopped", "interrupted"):
                st.warning(run.message, icon=":material/pause_circle:")
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
            figures = views.curves(metrics, gan_model)
            cols = st.columns(len(figures) or 1)
            for col, fig, key in zip(cols, figures, ("c1", "c2", "c3")):
                col.plotly_chart(fig, key=f"live_{key}")
            if gan_model and not (metrics.name == "val_class_entropy").any() and epochs:
                st.caption("Sample quality is scored on MNIST runs by the project's MNIST classifier "
                           "(engine.pretrained), when it is installed.")

        live_view(run_id, running)

# ---- walk the space (latest checkpoint) -----------------------------------------------------------
if run_id is not None and (saved := store.checkpoint_epochs(run_id)):
    epoch = saved[-1]
    st.divider()
    header = st.empty()  # filled once the epoch to walk is known
    if len(saved) > 1 and store.get_run(run_id).status != "running":
        # Any saved epoch can be walked: see how the space organised itself along the way.
        epoch = st.select_slider("Checkpoint to walk", saved, value=saved[-1], key=f"walk_epoch_{run_id}",
                                 format_func=lambda e: f"epoch {e}")
    header.subheader(f"Walk the latent space (run {run_id}, epoch {epoch})")
    model, data, _ = latent.load_generative(store, run_id, epoch)
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
            model, _, _ = latent.load_generative(store, run_id, epoch)
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
               "noise batch change. Uses the settings on the left; save it as a run to walk its space.")
    token = st.session_state.get("gan_token")
    session = latent.gan_session(token)
    buttons = st.columns(6)
    if buttons[0].button("New GAN", icon=":material/add:", disabled=config is None, width="stretch",
                         help="fresh weights, with the settings on the left"):
        latent.drop_gan_session(token)
        st.session_state.gan_token = latent.new_gan_session(config)
        st.rerun()
    per_click = buttons[1].selectbox("Steps per click", [1, 10, 100], key="gan_per_click", label_visibility="collapsed")
    for col, which, text in ((buttons[2], "d", "Step D"), (buttons[3], "g", "Step G"), (buttons[4], "both", "Step both")):
        if col.button(text, disabled=session is None, width="stretch", key=f"gan_step_{which}"):
            with st.spinner(f"{per_click} step(s)..."):
                session.step(which, per_click)
    if buttons[5].button("Save as run", icon=":material/save:", disabled=session is None or not session.history,
                         width="stretch"):
        select_run(session.save(store))
        st.rerun()
    if session is None:
        st.info("Press **New GAN** to start one.", icon=":material/add:")
    else:
        left, right = st.columns([1, 2])
        left.image(views.upscale(latent.tile(session.samples(), 8, pad=1), 2), clamp=True, width="stretch",
                   caption=f"Fixed noise after {session.d_steps} D and {session.g_steps} G steps")
        if session.history:
            right.plotly_chart(views.step_figure(session.history), key="gan_steps")
            last = session.history[-1]
            right.caption(" · ".join(f"{k.replace('_', ' ')} {v:.3f}" for k, v in last.items()
                                     if k not in ("step", "kind", "time")))
            problem = None
            recent = [r for r in session.history[-20:] if "d_loss" in r]
            if len(recent) >= 20:
                from engine.models.gan import gan_problem
                problem = gan_problem({"d_loss": float(np.mean([r["d_loss"] for r in recent])),
                                       "g_loss": float(np.mean([r.get("g_loss", 0.0) for r in session.history[-20:]]))})
            if problem:
                right.warning(problem, icon=":material/warning:")
