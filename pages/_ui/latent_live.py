"""The Latent space page's live view of the open run: the grid's settings, then samples and the
latent grid after the latest epoch and the training curves, followed while the run trains.

Samples and grids are decoded from checkpoints once per new checkpoint (st.cache_data), never per
refresh.
"""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from engine.core.jobs import Progress
from engine.core.loading import load_run
from engine.core.registry import get_spec
from engine.core.runs import Run, RunStore
from engine.latent import gan_session
from engine.latent import space as latent
from engine.latent.space import LatentError
from pages._ui import latent_views as views
from pages._ui.gan_lab_views import IMAGE_GANS
from pages._ui import live as live_ui
from pages._ui import training_charts as charts


@dataclass(frozen=True)
class GridSettings:
    n: int
    r: float
    dims: tuple[int, int]
    label: int | None            # the digit a conditional model generates (None: not conditional)
    base_code: list[float] | None  # the other dimensions' values (None: 0)


@st.cache_data(max_entries=32, show_spinner=False)
def samples_picture(store_root: str, run_id: int, epoch: int, label: int | None):
    """The 64 fixed-seed samples of a checkpoint, tiled, and the image side: decoded once per
    epoch, not on every live redraw (checkpoints never change once written)."""
    model = load_run(RunStore(store_root), run_id, epoch, need=latent.NEED, shared=True).model
    images = latent.sample(model, 64, seed=0, labels=label)
    return latent.tile(images, 8, pad=1), images.shape[-1]


@st.cache_data(max_entries=32, show_spinner=False)
def grid_picture(store_root: str, run_id: int, epoch: int, n: int, r: float, dims, base, label: int | None):
    """The checkpoint's n x n latent grid, tiled (raises LatentError for bad dimensions)."""
    model = load_run(RunStore(store_root), run_id, epoch, need=latent.NEED, shared=True).model
    return latent.tile(latent.latent_grid(model, n, r, dims, base, labels=label), n, pad=1)


def how_to_start() -> None:
    st.info("Pick a model on the left and press **Start** (a 2-D VAE on MNIST learns a readable latent "
            "plane in a few epochs), or open an existing run.", icon=":material/arrow_back:")


def grid_controls(run: Run) -> GridSettings:
    """The run's one line, then the grid's size, range and dimensions (and the digit to generate)."""
    latent_size = int(run.params.get("latent", 2))
    st.markdown(f"**Run {run.id}**: {get_spec(run.model).title} on {run.dataset}, latent size {latent_size}")
    c1, c2, c3, c4 = st.columns(4)
    grid_n = c1.slider("Grid size n", 3, 25, 15, key="grid_n")
    grid_r = c2.slider("Grid range r", 0.5, 8.0, 4.0, 0.5, key="grid_r")
    dim_x = c3.number_input("x dimension", 0, max(latent_size - 1, 0), 0, key=f"dim_x_{run.id}",
                            disabled=latent_size <= 2)
    dim_y = c4.number_input("y dimension", 0, max(latent_size - 1, 0), min(1, latent_size - 1),
                            key=f"dim_y_{run.id}", disabled=latent_size <= 2)
    label = None
    if run.params.get("conditional", False):
        label = st.segmented_control("Digit to generate", list(range(10)), default=0, key="cond_label")
        label = 0 if label is None else int(label)
    return GridSettings(grid_n, grid_r, (dim_x, dim_y), label, st.session_state.get(f"base_code_{run.id}"))


def run_view(store: RunStore, run: Run, progress: Progress) -> int | None:
    """The grid's settings and the live view of the run; returns the digit a conditional model
    generates (None for the others), which the walks use too."""
    grid = grid_controls(run)
    view = live_ui.live_run(store, run.id)
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
        if pictures_ready(run, p, epochs):
            pictures(store, run, epochs[-1], grid)
            curves(view, run, epochs)

    live_view(run.id)
    return grid.label


def pictures_ready(run: Run, p: Progress, epochs: list[int]) -> bool:
    """Whether there is a checkpoint to draw; if not, says why."""
    hand_gan = gan_session.is_hand_gan(run)
    if p.status == "completed" and hand_gan:
        st.caption(p.message)
    if hand_gan and p.running:
        st.info(f"Run {run.id} is a GAN trained by hand (Step D / Step G, below, with the model set to "
                f"{run.model}): its samples and latent grid appear here once it is saved as a run.",
                icon=":material/back_hand:")
        return False
    if not epochs:
        st.info("The samples and the latent grid appear when the first epoch's checkpoint is saved.",
                icon=":material/hourglass_top:")
        return False
    return True


def pictures(store: RunStore, run: Run, epoch: int, grid: GridSettings) -> None:
    """The checkpoint's samples beside its latent grid."""
    samples_col, grid_col = st.columns([1, 1.6])
    gan_model = run.model in IMAGE_GANS
    what = "the same fixed noise every epoch" if gan_model else "decoded prior samples z ~ N(0, I)"
    picture, side = samples_picture(str(store.root), run.id, epoch, grid.label)
    samples_col.image(views.upscale(picture, 2 if side <= 14 else 1),
                      caption=f"Samples after epoch {epoch}: {what}", width="stretch", clamp=True)
    try:
        picture = grid_picture(str(store.root), run.id, epoch, grid.n, grid.r, grid.dims, grid.base_code, grid.label)
    except LatentError as err:
        grid_col.warning(str(err))
        return
    hold = "a chosen image's code" if grid.base_code is not None else "0"
    factor = max(1, 600 // picture.shape[1])
    grid_col.image(views.upscale(picture, factor), clamp=True, width="stretch",
                   caption=f"Latent grid after epoch {epoch}: dimension {grid.dims[0]} across, {grid.dims[1]} up, "
                           f"over [-{grid.r:g}, {grid.r:g}]; the others at {hold}")


def curves(view: live_ui.LiveRun, run: Run, epochs: list[int]) -> None:
    """A hand-stepped GAN's per-step curves, or the per-epoch curves of a trained run."""
    follower = view.follower
    gan_model = run.model in IMAGE_GANS
    if gan_session.is_hand_gan(run):  # one "epoch" of hand steps: its per-step curves
        st.plotly_chart(view.figure("hand_steps", follower.rows, lambda: views.step_figure(follower.metrics)),
                        key="live_hand_steps")
        return
    # Per-epoch curves: rebuilt only when an epoch ends.
    figures = view.figure("epoch_curves", follower.epoch, lambda: views.curves(follower.metrics, gan_model))
    cols = st.columns(len(figures) or 1)
    for col, chart, key in zip(cols, figures, ("c1", "c2", "c3", "c4")):
        charts.show(chart, f"live_{key}", col)
    if gan_model and not (follower.metrics.name == "val_class_entropy").any() and epochs:
        st.caption("Sample quality is scored on MNIST runs by the project's MNIST classifier "
                   "(engine.core.pretrained), when it is installed.")
