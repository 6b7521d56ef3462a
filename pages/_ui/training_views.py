"""The Training page's views of the run on show: its status and live curves (on 2D points with the
live decision boundary and network between them, pages/_ui/live_boundary.py), then the tabs: Inside
(the confusion matrix and errors, or a link to the page that looks inside; not on 2D points),
Gradient norms, and Model (layers, output shapes, parameters, flow graph).

A fragment's refresh pace depends on the run's state when the page is drawn, so the fragments are
plain functions here, wrapped by st.fragment where they are drawn.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from engine.core.distributed import device_label
from engine.core.jobs import Progress, children
from engine.core.loading import RunLoadError, load_run
from engine.core.registry import run_config
from engine.core.runs import Run, RunStore
from engine.core.trainer import build_model
from engine.data import DatasetInfo, get_info, load_dataset
from engine.training.curves import has_grad_norms, other_epoch_metrics, x_axis
from engine.training.inspection import count_confusion, flow_dot, misclassified, model_summary
from pages._ui import gan2d_views
from pages._ui import live as live_ui
from pages._ui import live_boundary
from pages._ui import run_link
from pages._ui import training_charts as charts
from pages._ui.live import LiveRun
from pages._ui.nav import PAGES, page
from pages._ui.run_link import FAMILY_PAGES, page_for
from pages._ui.safe_markdown import escape_markdown

# Models whose live frame is a GAN on the plane (pages/_ui/gan2d_views.py draws it), not a boundary.
PLANE_GANS = ("gan2d",)
EPOCH_VIEWS_S = 5.0      # the views that change once per epoch look for a new one at this pace
# Points of the live loss curve: redrawn twice a second, its cost in the browser grows with them
# (min/max thinning keeps every spike; ~1 point per pixel column of the chart).
LIVE_POINTS = 1000
# Capabilities (engine.core.registry.Capabilities) an inspection page opens, besides this page's views.
INSPECT_PAGES = {"conv_classifier": "saliency.py"}


@dataclass(frozen=True)
class Look:
    """How the curves are drawn, here and in the comparison."""
    smoothing: float
    x_mode: str
    log_y: bool


def select_run(run_id: int | None) -> None:
    """Show this run (None: none) on the Training page, in this session and in the URL."""
    run_link.select_run("run_id", run_id)


def look_settings() -> Look:
    view1, view2, view3 = st.columns(3)
    smoothing = view1.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, help="exponential moving average, as in TensorBoard")
    x_mode = view2.radio("x axis", ["step", "epoch", "wall"], horizontal=True,
                         format_func=lambda m: {"step": "step", "epoch": "epoch", "wall": "time"}[m])
    log_y = view3.toggle("log-scale loss")
    return Look(smoothing, x_mode, log_y)


@st.cache_data(max_entries=32, show_spinner="Classifying the validation set...")
def stored_or_computed(store_root: str, run_id: int, epoch: int, name: str):
    """An array the run stored with its epoch (predictions, decision grid) or, for runs trained
    before runs stored them, the same computed once here from the checkpoint."""
    store = RunStore(store_root)
    found = store.artifact(run_id, name, epoch)
    if found is not None:
        return found[1]
    from engine.core.registry import get_spec
    from engine.objectives import objective_for
    loaded = load_run(store, run_id, epoch)
    objective = objective_for(get_spec(loaded.config.model), loaded.data.info.task)  # a regression's surface too
    return objective.evaluate(loaded.model, loaded.data, loaded.device)[name]


@st.cache_data(max_entries=32)
def summary_of(store_root: str, run_id: int):
    """Layers, output shapes and parameter counts: they depend on the config, not on the weights."""
    config = run_config(RunStore(store_root).get_run(run_id).params)
    data = load_dataset(config.dataset, config.dataset_options, checked=False)
    rows = model_summary(build_model(config, data), tuple(data.info.input_shape))
    return rows, flow_dot(rows)


def run_views(store: RunStore, current: Run, progress: Progress, look: Look) -> None:
    """Everything shown about the run: status and curves, then the tabs. On 2D points the decision
    boundary (and the network) comes between the status and the curves, in the same live fragment:
    TF Playground's picture is the one to see first, and one poll serves all three (each fragment
    rerun costs the browser a redraw of the page's tree: measured, a fragment of its own for the
    boundary slowed the run beside it)."""
    view = live_ui.live_run(store, current.id)
    shown = (progress.status, progress.paused)  # what the buttons above were drawn for
    gan_on_plane = current.model in PLANE_GANS  # GAN Lab's picture: D's field, real and fake points
    on_plane = gan_on_plane or (dataset_kind(current.dataset) == "points" and not page_for(current.model, FAMILY_PAGES))
    if gan_on_plane:
        plane = lambda: gan2d_views.live_frame_view(store, current.id, key="gan2d_plane", view=view)  # noqa: E731
    elif on_plane:
        plane = lambda: live_boundary.live_plane_view(store, view, current, lambda epoch: tuple(  # noqa: E731
            stored_or_computed(str(store.root), current.id, epoch, k) for k in ("boundary_x", "boundary_y",
                                                                                 "boundary_p")))
    else:
        plane = None
    st.fragment(run_every=live_ui.refresh_every(progress))(status_and_curves)(view, current, shown, look, plane)
    if on_plane:
        inside, (gradients, summary) = None, st.tabs(["Gradient norms", "Model"])
    else:
        inside, gradients, summary = st.tabs(["Inside", "Gradient norms", "Model"])
    st.fragment(run_every=EPOCH_VIEWS_S if progress.running else None)(per_epoch_views)(
        current.id, store, view, current, inside, gradients)
    with summary:
        model_view(store, current.id)


def dataset_kind(name: str) -> str | None:
    """The kind of a run's dataset (None: a dataset this app no longer has)."""
    try:
        return get_info(name).kind
    except ValueError:
        return None


def status_and_curves(view: LiveRun, current: Run, shown: tuple, look: Look, plane=None) -> None:
    """Polls the run: status, progress, the plane (`plane()` draws it, on 2D points) and the curves.
    Redraws the whole page (buttons, pickers) only when the run pauses, resumes or ends."""
    follower = view.follower
    follower.poll()
    p = follower.progress
    if (p.status, p.paused) != shown:
        st.rerun(scope="app")
    # The device it trains on: "cpu", "cuda:0", or "2 x cpu" for a run over 2 processes (--nproc 2).
    where = f" · {device_label(current.params)}" if current.params.get("device") else ""
    st.markdown(f"**Run {current.id}**: {current.model} on {current.dataset}{where} · **{p.status}**"
                + (f" (paused after epoch {p.epoch})" if p.paused else ""))
    live_ui.progress_line(p, current.params.get("epochs", 1))
    if p.running and current.id not in children():
        st.caption("Trained by a process this server did not start (e.g. the CLI): it updates here live, "
                   "and Stop and Step work on it too.")
    if plane is not None:
        plane()
    live_curves(view, current.id, look)


def live_curves(view: LiveRun, run_id: int, look: Look) -> None:
    """The loss per step, then the loss and the other metrics per epoch."""
    follower, x_mode, log_y = view.follower, look.x_mode, look.log_y
    steps = view.figure("step_loss", (follower.rows, x_mode, look.smoothing, log_y), lambda: charts.step_loss_figure(
        [(f"run {run_id}", x_axis(follower.steps, x_mode).to_numpy(dtype=float),
          follower.steps.value.to_numpy(dtype=float), follower.smoothed_loss(look.smoothing))], x_mode, log_y,
        LIVE_POINTS))
    charts.show(steps, "step_loss")
    left, right = st.columns(2)
    metrics = follower.metrics
    runs = [(f"run {run_id}", metrics)]
    per_epoch = (follower.epoch, x_mode, log_y)
    charts.show(view.figure("epoch_loss", per_epoch, lambda: charts.epoch_figure(
        runs, ("train_loss", "val_loss"), "Loss per epoch", x_mode, log_y)), "epoch_loss", left)
    others = other_epoch_metrics(metrics)
    title = "Accuracy per epoch" if others == ("train_acc", "val_acc") else "Metrics per epoch"
    charts.show(view.figure("epoch_other", per_epoch, lambda: charts.epoch_figure(
        runs, others, title, x_mode)), "epoch_acc", right)


def per_epoch_views(run_id: int, store: RunStore, view: LiveRun, current: Run, inside, gradients) -> None:
    """What changes once per epoch: the inside views (unless they are live: `inside` None) and
    the gradient norms."""
    follower = view.follower
    if inside is not None:
        epochs = store.checkpoint_epochs(run_id) if follower.epoch else []
        with inside:
            inside_view(run_id, store, view, current, epochs, get_info(current.dataset))
    with gradients:
        gradients_view(view)
    inspect_page = page_for(current.model, INSPECT_PAGES)
    if not follower.progress.running and inspect_page and follower.progress.status == "completed":
        target = next(p for p in PAGES if p.file == inspect_page)
        st.page_link(page(target), label=f"Open run {run_id} on the {target.title} page",
                     icon=":material/arrow_forward:", query_params={"run": str(run_id)})


def inside_view(run_id: int, store: RunStore, view: LiveRun, current: Run, epochs: list[int],
                run_info: DatasetInfo) -> None:
    own_page = page_for(current.model, FAMILY_PAGES)
    if own_page:
        target = next(p for p in PAGES if p.file == own_page)
        st.info(f"Look inside this {current.model} run on the {target.title} page.")
        st.page_link(page(target), label=f"Open run {run_id} on the {target.title} page",
                     query_params={"run": run_id}, icon=":material/arrow_forward:")
    elif not epochs:
        st.info("The first epoch's checkpoint will appear here when it is saved.")
    else:
        try:
            confusion_view(store, view, current, epochs[-1], run_info)
        except RunLoadError as err:  # a damaged checkpoint (a run trained before runs stored these views)
            st.error(str(err), icon=":material/error:")
        except ValueError as err:  # its dataset is gone (your own points, their file removed since)
            st.error(escape_markdown(f"Run {run_id}'s data cannot be loaded: {err}"), icon=":material/error:")


def confusion_view(store: RunStore, view: LiveRun, current: Run, epoch: int, run_info: DatasetInfo) -> None:
    data = load_dataset(current.dataset, run_config(current.params).dataset_options, checked=False)
    predictions = stored_or_computed(str(store.root), current.id, epoch, "val_predictions")
    figure = view.figure("confusion", epoch, lambda: charts.confusion_figure(
        count_confusion(data.y_val, predictions, data.num_classes), run_info.classes))
    st.plotly_chart(figure, key="confusion")
    wrong = misclassified(predictions, data.y_val, limit=32)
    st.markdown(f"**Misclassified validation images** (after epoch {epoch}, first {len(wrong)})")
    if wrong:
        st.image([_picture(data.x_val[i].numpy()) for i in wrong], width=72, clamp=True,
                 caption=[f"pred {run_info.classes[predictions[i]]} / true {run_info.classes[data.y_val[i]]}"
                          for i in wrong])


def _picture(image: np.ndarray) -> np.ndarray:
    """A (C, H, W) image as st.image shows it: (H, W) grey, or (H, W, 3) colour."""
    return image[0] if image.shape[0] == 1 else image[:3].transpose(1, 2, 0)


def gradients_view(view: LiveRun) -> None:
    follower = view.follower
    metrics = follower.metrics
    if has_grad_norms(metrics):
        charts.show(view.figure("grad_norms", follower.epoch, lambda: charts.grad_norm_figure(metrics)), "grad_norms")
        st.caption("Norms that shrink layer by layer towards the input are vanishing gradients "
                   "(try sigmoid with depth 8).")
    else:
        st.info("Gradient norms are recorded at the end of each epoch.")


def model_view(store: RunStore, run_id: int) -> None:
    try:
        rows, dot = summary_of(str(store.root), run_id)
    except ValueError as err:  # its dataset is gone (your own points, their file removed since)
        st.error(escape_markdown(f"Run {run_id}'s model cannot be rebuilt: {err}"), icon=":material/error:")
        return
    st.dataframe([{"layer": r.name, "type": r.type, "output shape": str(r.output_shape),
                   "params": r.params} for r in rows], hide_index=True)
    st.caption(f"{sum(r.params for r in rows):,} parameters")
    st.graphviz_chart(dot)
