"""The Latent space page's left column: which run is open (from the URL or the picker), the model
and training settings, Start / Stop, and the list of VAE and GAN runs."""
from __future__ import annotations

import streamlit as st

from engine.core.jobs import Progress, RunControl
from engine.core.loading import run_problem, runs_with
from engine.core.params import ParamError
from engine.core.registry import TRAINING_PARAMS, ModelSpec, validate
from engine.core.runs import Run, RunStore
from engine.core.trainer import start_training
from engine.data import get_info
from engine.latent import gan_session
from engine.latent import space as latent
from pages._ui import run_link
from pages._ui.params_ui import param_inputs
from pages._ui.safe_markdown import escape_markdown

OTHERS_REFRESH_S = 5.0  # other listed runs that train are checked this often (their picker label)


def select_run(run_id: int | None) -> None:
    run_link.select_run("latent_run", run_id)


def generative_runs(store: RunStore):
    return runs_with(store, latent.NEED)


def open_linked_run(store: RunStore) -> None:
    """A link from the Training page (or a shared URL) names the run: open it, or say why it cannot be."""
    if "latent_run" in st.session_state or not st.query_params.get("run"):
        return
    asked = run_link.linked_run_id()  # a value that is no run id is said so there
    problem = None if asked is None else run_problem(store, asked, need=latent.NEED)
    if asked is not None and (problem is None or "no checkpoint yet" in problem):
        st.session_state.latent_run = asked
        return
    if problem:
        st.error(f"Cannot open that run: {escape_markdown(problem)}.", icon=":material/error:")
    st.session_state.latent_run = None


def current_run(store: RunStore) -> tuple[int | None, Run | None, Progress | None]:
    """The run on show (its id, the run, its progress; None for each when none is)."""
    run_id = st.session_state.get("latent_run")
    try:
        current = store.get_run(run_id) if run_id is not None else None
    except KeyError:  # deleted (e.g. from the Training page) since it was opened
        st.warning(f"Run {run_id} no longer exists.", icon=":material/warning:")
        select_run(None)
        run_id = current = None
    control = RunControl(store, run_id) if current is not None else None
    progress = control.progress() if control is not None else None  # a dead job's run is marked so here
    return run_id, current, progress


def model_form(specs: dict[str, ModelSpec], image_sets: list[str]):
    """Model, dataset and their sliders; the chosen model's name and the validated config (None,
    with the reason shown, when the values do not fit together)."""
    # Options are the registry names: a bound selectbox puts its (formatted) label in the URL.
    model_name = st.selectbox("Model", list(specs), key="latent_model", bind="query-params")
    spec = specs[model_name]
    dataset_name = st.selectbox("Dataset", image_sets, key="latent_dataset", bind="query-params")
    st.caption(f"**{spec.title}**: {spec.description}  \n**{get_info(dataset_name).title}**")
    with st.expander("Model", expanded=True):
        model_values = param_inputs(spec.params, prefix=f"{model_name}.")
    with st.expander("Training", expanded=False):
        own_optimiser = model_name in ("dcgan", "wgan")  # GANs with their own optimiser settings (model params)
        shown = [p for p in TRAINING_PARAMS if not own_optimiser or p.name not in ("optimizer", "lr", "momentum")]
        training_values = param_inputs(shown)
    try:
        config = validate(model_name, dataset_name, model_values | training_values)
    except ParamError as err:
        config = None
        st.error(str(err), icon=":material/block:")
    return model_name, config


def start_stop(store: RunStore, config, run_id: int | None, running: bool) -> None:
    start, stop = st.columns(2)
    if start.button("Start", type="primary", icon=":material/play_arrow:", disabled=config is None or running,
                    width="stretch", help="train with these settings in a process of its own; the views on the "
                                          "right follow it live"):
        select_run(start_training(config, store).run_id)
        st.rerun()
    if stop.button("Stop", icon=":material/stop:", disabled=not running, width="stretch"):
        RunControl(store, run_id).stop(wait=5)
        st.rerun()


def run_picker(store: RunStore, run_id: int | None) -> None:
    """Every VAE and GAN run, with its status in its label; picking one opens it."""
    runs = generative_runs(store)
    if not runs:
        st.caption("VAE and GAN runs (from here, the Training page or the CLI) are listed here.")
        return
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
    follow_other_runs(store, [r.id for r in runs if r.status == "running" and r.id != run_id])


def follow_other_runs(store: RunStore, others: list[int]) -> None:
    @st.fragment(run_every=OTHERS_REFRESH_S if others else None)
    def check_others() -> None:
        if any(RunControl(store, i).progress().status != "running" for i in others):
            st.rerun(scope="app")

    check_others()
