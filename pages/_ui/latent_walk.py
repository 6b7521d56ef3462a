"""The Latent space page's walks through a checkpoint's space: the test set's codes (a VAE's
scatter, where a click picks an image), interpolations, one slider per dimension, reconstructions."""
from __future__ import annotations

import time

import numpy as np
import streamlit as st

from engine.core.loading import load_run
from engine.core.runs import RunStore
from engine.latent import explore
from engine.latent import space as latent
from pages._ui import latent_views as views

SCATTER_POINTS = (1000, 2000, 5000, 10000)
PROJECTIONS = {"pca": "PCA (instant)", "umap": "UMAP (first use compiles for ~40 s)"}


@st.cache_data(max_entries=16, show_spinner="Encoding the test set...")
def scatter_data(store_root: str, run_id: int, epoch: int, points: int, method: str):
    loaded = load_run(RunStore(store_root), run_id, epoch, need=latent.NEED, shared=True)
    model, data = loaded.model, loaded.data
    x, y = data.x_val[:points], data.y_val[:points]
    coords, means, note = explore.code_map(model, x, method)
    return coords, y.numpy(), np.arange(len(x)), means, note


def walk_the_space(store: RunStore, run_id: int, saved: list[int], running: bool, label: int | None) -> None:
    """A checkpoint to walk (the latest, or any saved one once the run has ended), then its tabs."""
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
    if is_vae:
        with tab["scatter"]:
            scatter_tab(store, run_id, epoch, model, data)
    with tab["walk"]:
        (image_walk_tab if is_vae else noise_walk_tab)(model, data, label)
    with tab["sliders"]:
        sliders_tab(store, run_id, epoch, model, data, label)
    if is_vae:
        with tab["recon"]:
            reconstructions_tab(model, data)


def scatter_tab(store: RunStore, run_id: int, epoch: int, model, data) -> None:
    """The test set's codes on a plane; a click (or a box / lasso) picks an image, shown beside."""
    left, right = st.columns([2, 1])
    points = left.select_slider("Test images", SCATTER_POINTS, 2000, key="scatter_points")
    method = "pca"
    if model.latent > 2:
        method = left.radio("Projection", ["pca", "umap"], horizontal=True, key="projection",
                            format_func=PROJECTIONS.get)
    coords, ys, indices, means, note = scatter_data(str(store.root), run_id, epoch,
                                                    min(points, len(data.x_val)), method)
    selected = st.session_state.get(f"selected_{run_id}")
    event = left.plotly_chart(views.scatter_figure(coords, ys, indices, data.info.classes, note, selected),
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
            selected_image(run_id, model, data, selected, len(picked))


def selected_image(run_id: int, model, data, selected: int, picked: int) -> None:
    """The picked test image, its reconstruction and its code; buttons that hold the grid at that
    code or start / end the interpolation there."""
    x = data.x_val[selected:selected + 1]
    mean, std, recon = explore.code_and_reconstruction(model, x)
    classes = data.info.classes
    st.markdown(f"**Test image {selected}** (digit {classes[int(data.y_val[selected])]})"
                + (f", {picked} selected: the first" if picked > 1 else ""))
    a, b = st.columns(2)
    a.image(views.upscale(x[0, 0].numpy(), 6), caption="original", clamp=True, width="stretch")
    b.image(views.upscale(recon[0, 0].numpy(), 6), caption="reconstruction", clamp=True, width="stretch")
    st.dataframe({"dimension": list(range(model.latent)), "mean": mean[0].tolist(), "std": std[0].tolist()},
                 hide_index=True, height=200)
    if st.button("Hold the grid's other dimensions at this code", key="hold_code", disabled=model.latent <= 2):
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


def image_walk_tab(model, data, label: int | None) -> None:
    """A VAE's walk from one test image's code to another's."""
    a, b, c, d = st.columns(4)
    steps = d.slider("Steps k", 2, 20, 10, key="walk_steps")
    # Defaults through Session State (no value=): the scatter's "Walk from/to" buttons set them.
    st.session_state.setdefault("walk_from_image", 0)
    st.session_state.setdefault("walk_to_image", 1)
    first = a.number_input("From test image", 0, len(data.x_val) - 1, key="walk_from_image")
    second = b.number_input("To test image", 0, len(data.x_val) - 1, key="walk_to_image")
    method = c.radio("Path", ["linear", "spherical"], horizontal=True, key="walk_method")
    row = explore.image_walk(model, data.x_val[[first, second]], steps, method, label)
    views.image_grid(row, len(row), caption=f"original {first}, then {steps} {method} steps from its code to "
                                             f"the code of {second}, then original {second}")


def noise_walk_tab(model, data, label: int | None) -> None:
    """A GAN's walk from one noise seed's vector to another's."""
    a, b, c, d = st.columns(4)
    steps = d.slider("Steps k", 2, 20, 10, key="walk_steps")
    first = a.number_input("From noise seed", 0, 10_000, 0, key="walk_from")
    second = b.number_input("To noise seed", 0, 10_000, 1, key="walk_to")
    method = c.radio("Path", ["spherical", "linear"], horizontal=True, key="walk_method",
                     help="noise lives near a sphere of radius sqrt(latent): spherical paths stay there")
    walk = explore.noise_walk(model, (first, second), steps, method, label)
    views.image_grid(walk, len(walk), caption=f"{steps} {method} steps from noise seed {first} to seed {second}")


def sliders_tab(store: RunStore, run_id: int, epoch: int, model, data, label: int | None) -> None:
    """One slider per latent dimension, starting at the scatter's picked image's code (or 0)."""
    chosen = st.session_state.get(f"selected_{run_id}") if latent.is_vae(model) else None
    start_code = latent.encode(model, data.x_val[chosen:chosen + 1])[0][0].tolist() if chosen is not None else None
    st.caption("Each slider is one latent dimension; the image is decoded as you drag"
               + (f" (starting from test image {chosen}'s code)." if chosen is not None else "."))
    sliders(store, run_id, epoch, chosen, start_code, label)


@st.fragment
def sliders(store: RunStore, run_id: int, epoch: int, start: int | None, start_code: list[float] | None,
            label: int | None):
    """Dragging a slider decodes again in this fragment only (the page does not rerun)."""
    model = load_run(store, run_id, epoch, need=latent.NEED, shared=True).model
    start_code = start_code or [0.0] * model.latent
    cols = st.columns([1, 1, 1, 1, 2])
    values = [cols[i % 4].slider(f"z{i}", -4.0, 4.0, float(np.clip(start_code[i], -4, 4)), 0.05,
                                 key=f"z_{run_id}_{epoch}_{start}_{i}") for i in range(model.latent)]
    started = time.perf_counter()
    image = latent.decode(model, [values], label)[0]
    took = (time.perf_counter() - started) * 1000
    with cols[4]:
        st.image(views.upscale(latent.tile(image[None], 1), max(1, 168 // image.shape[-1])), clamp=True,
                 width=168)
        st.caption(f"decoded in {took:.1f} ms")


def reconstructions_tab(model, data) -> None:
    """A page of 32 test images beside their reconstructions, and its pixel error."""
    page_no = st.number_input("Page of 32 test images", 1, len(data.x_val) // 32, 1, key="recon_page")
    x = data.x_val[(page_no - 1) * 32:page_no * 32]
    pairs, errors = explore.reconstruction_pairs(model, x)
    views.image_grid(pairs, 16, caption="originals and their reconstructions, side by side (pairs)")
    st.caption(f"Mean squared pixel error on this page: {errors.mean():.4f}")
