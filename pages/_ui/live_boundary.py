"""A run on 2D points, drawn from its live frame: the decision boundary moving while it learns, and
(for the TF-Playground network) what each neuron computes.

The run's process draws a frame every FRAME_SECONDS or so (engine.core.trainer) and the store keeps
the newest. This view is drawn in the run's live fragment (pages/_ui/training_views.py: one poll
every FAST_S serves the status, the plane and the curves): each poll asks the store for the frame's
step only (one small row); the arrays are read, and the pictures' data rebuilt, only when the step
changed (LiveRun.figure caches by version), so a poll that finds nothing new costs almost nothing
here and nothing in the browser (the same data is sent again, and not redrawn). Both pictures are
canvases mounted once and redrawn in place (pages/_ui/plane.py says why not a chart).
A run that has ended shows its last frame; a run from before frames existed, its stored (or
recomputed) per-epoch boundary.
"""
from __future__ import annotations

import streamlit as st

from engine.core.loading import RunLoadError
from engine.core.registry import run_config
from engine.core.runs import Run, RunStore
from pages._ui.data_preview import points_of
from pages._ui.live import LiveRun
from pages._ui.neuron_views import cut_layers_note, draw_network, has_neurons, network_columns, network_data
from pages._ui.plane import draw_plane, plane_data
from pages._ui.safe_markdown import escape_markdown


def plane_options() -> tuple[bool, bool, bool]:
    """Whether the view follows the run, and TF Playground's two switches under its output: show
    test data, discretise output."""
    follow, test, discrete = st.columns(3)
    following = follow.toggle("Redraw live", value=True, key="boundary.live",
                              help="follow the run: the boundary and the neurons redraw as it learns (off: they "
                                   "stay as they are)")
    show_test = test.toggle("Show test data", key="boundary.show_test",
                            help="the test points (diamonds, dark rim) over the surface, as well as the training points")
    discretise = discrete.toggle("Discretise output", key="boundary.discretise",
                                 help="colour each point of the plane by the class the model gives it, not by its "
                                      "probability")
    return following, show_test, discretise


def shown_step(store: RunStore, run_id: int, following: bool) -> int | None:
    """The step of the frame to show: the newest (one small read), or, while the view does not
    follow the run, the one it showed last."""
    shown = st.session_state.setdefault("_boundary_steps", {})
    key = (str(store.root), run_id)
    if following or key not in shown:
        shown[key] = store.frame_step(run_id)
    return shown[key]


def live_plane_view(store: RunStore, view: LiveRun, current: Run, stored_surface) -> None:
    """In the run's live fragment: the newest frame's boundary (and network, when the frame has
    one). `stored_surface(epoch)` gives a run's per-epoch (xs, ys, P) for runs that have no frame."""
    following, show_test, discretise = plane_options()
    try:
        points = view.figure("points", None, lambda: points_of(
            current.dataset, run_config(current.params).dataset_options, checked=False))
    except ValueError as err:  # its dataset is gone (your own points, their file removed since)
        st.error(escape_markdown(f"Run {current.id}'s data cannot be loaded: {err}"), icon=":material/error:")
        return
    step = shown_step(store, current.id, following)
    if step is None:
        epoch_boundary(store, view, current, points, stored_surface, show_test, discretise)
        return
    _, frame = view.figure("frame", step, lambda: store.frame(current.id) or (step, {}))
    if "boundary_p" in frame:
        st.markdown(f"**Decision boundary** at step {step:,}")
        draw_plane(view.figure("live_boundary", (step, show_test, discretise), lambda: plane_data(
            points, (frame["boundary_x"], frame["boundary_y"], frame["boundary_p"]), show_test=show_test,
            discretise=discretise, step=step)), key="boundary")
    if not view.follower.progress.running:
        st.caption(f"Step {step:,}: the run's last frame.")
    else:
        st.caption(f"Step {step:,}: " + ("redrawn live while the run trains." if following else "Redraw live is off."))
    if has_neurons(frame):
        network_view(view, frame, step, probability=not points.regression)


def epoch_boundary(store: RunStore, view: LiveRun, current: Run, points, stored_surface, show_test: bool,
                   discretise: bool) -> None:
    """A run from before frames existed: its last epoch's boundary, stored with the epoch (or
    computed from its checkpoint); a run with neither says when it will have one."""
    epochs = store.checkpoint_epochs(current.id) if view.follower.epoch else []
    if not epochs:
        st.info("The boundary appears here as soon as the run draws its first frame.", icon=":material/hourglass:")
        return
    epoch = epochs[-1]
    try:
        data = view.figure("epoch_boundary", (epoch, show_test, discretise), lambda: plane_data(
            points, stored_surface(epoch), show_test=show_test, discretise=discretise))
    except RunLoadError as err:  # a damaged checkpoint
        st.error(str(err), icon=":material/error:")
        return
    st.markdown(f"**Decision boundary** after epoch {epoch}")
    draw_plane(data, key="boundary")
    st.caption(f"After epoch {epoch}: this run was trained before runs drew live frames.")


def network_view(view: LiveRun, frame: dict, step: int, probability: bool) -> None:
    st.markdown("**What each neuron computes**")
    draw_network(view.figure("neurons", step, lambda: network_data(frame, step, probability)), key="neurons")
    note = view.figure("neurons_note", step, lambda: cut_layers_note(network_columns(frame, probability)[0]))
    output = "the output is blue where the model says blue" if probability else "the output: its value"
    st.caption(f"Each map is a unit's output over the plane (blue positive, orange negative; {output}). Lines are "
               "the weights: blue positive, orange negative, wider for larger. " + note)
