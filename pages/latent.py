"""Latent space: train a VAE or a GAN from sliders, watch its samples and latent grid improve epoch by
epoch, then walk the space: scatter of the test set, interpolations, one slider per dimension.

Runs train in their own processes (engine.core.jobs), the hand-stepped GAN too: this page sends them
Start / Stop / Step D / Step G through the run store and draws what they write there. It decodes
samples and grids from checkpoints once per new checkpoint (st.cache_data), never per refresh.
The views are in pages/_ui: latent_settings (left column), latent_live (the run as it trains),
latent_walk (walks through a checkpoint), gan_lab_views (the GAN trained by hand); its second
view, the GAN on 2D points (GAN Lab's picture), is gan2d_views.
"""
from __future__ import annotations

import streamlit as st

import engine.models  # noqa: F401  (registers the built-in models)
from engine.core.registry import specs_with
from engine.latent.space import NEED
from engine.data import list_datasets
from pages._ui import gan2d_views
from pages._ui import gan_lab_views as gan_lab
from pages._ui import latent_live as live
from pages._ui import latent_settings as settings
from pages._ui import latent_walk as walk
from pages._ui.store_views import open_store

st.title("Latent space")
st.caption("Train a VAE or a GAN here and watch its latent space organise itself, epoch by epoch; then walk "
           "it. Runs of these models from the Training page or the CLI open here too.")
store = open_store()
if gan2d_views.chosen_view() == gan2d_views.POINTS_VIEW:  # GAN Lab's picture: a page of its own below the title
    gan2d_views.gan2d_section(store)
    st.stop()
specs = {s.name: s for s in specs_with(NEED)}  # registration order: the classic 2-D VAE first, the default
image_sets = [i.name for i in list_datasets() if i.kind == "image"]

settings.open_linked_run(store)
run_id, current, progress = settings.current_run(store)
running = progress is not None and progress.running

# ---- settings: train a new model, or open an existing run ----------------------------------------
left, main = st.columns([1, 2.3], gap="large")
with left:
    model_name, config = settings.model_form(specs, image_sets)
    settings.start_stop(store, config, run_id, running)
    st.divider()
    settings.run_picker(store, run_id)

# ---- the run: live training view ------------------------------------------------------------------
with main:
    if current is None:
        live.how_to_start()
        label = None
    else:
        label = live.run_view(store, current, progress)  # a conditional model's digit: the walks draw it too

# ---- walk the space (latest checkpoint) -----------------------------------------------------------
if current is not None and (saved := store.checkpoint_epochs(run_id)):
    walk.walk_the_space(store, run_id, saved, running, label)

# ---- GAN, one step at a time ----------------------------------------------------------------------
if model_name in gan_lab.IMAGE_GANS:
    gan_lab.gan_lab(store, config)
