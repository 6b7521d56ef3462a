"""Training from the Attention page: the train form, a run's Stop / Resume / Next epoch buttons, the
run picker, and following the other listed runs that train.

Every run trains in its own process (engine.core.jobs): these start it and send it commands through
the run store (RunControl); the page reads its state back from the store.
"""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

import streamlit as st

from engine.core.jobs import Progress, RunControl
from engine.core.params import ParamError
from engine.core.registry import TRAINING_PARAMS, get_spec, validate
from engine.core.runs import Run, RunStore
from engine.core.trainer import start_training
from engine.data import get_info
from pages._ui import live as live_ui
from pages._ui import run_link
from pages._ui.params_ui import param_inputs

OTHERS_REFRESH_S = 5.0  # other listed runs that train are checked this often (their picker label)
TRAIN_SHOWN = ("optimizer", "lr", "momentum", "batch_size", "epochs", "seed")  # momentum: with its optimisers only


def training_params(defaults: dict) -> tuple:
    return tuple(dataclasses.replace(p, default=defaults.get(p.name, p.default))
                 for p in TRAINING_PARAMS if p.name in TRAIN_SHOWN)


def select_run(run_id: int | None) -> None:
    run_link.select_run("att_run", run_id)


def train_form(store: RunStore, models: tuple[str, ...], datasets: tuple[str, ...], defaults: dict,
               prefix: str) -> None:
    """Model, task and training sliders from the registry, and a Train button that starts a run."""
    left, right = st.columns(2)
    model = left.selectbox("Model", models, key=f"{prefix}model",
                           bind="query-params")
    dataset = right.selectbox("Task", datasets, key=f"{prefix}task",
                              bind="query-params")
    spec, info = get_spec(model), get_info(dataset)
    st.caption(f"**{spec.title}**: {spec.description}  \n**{info.title}**: {info.description}")
    model_values = param_inputs(spec.params, prefix=f"{prefix}{model}.", columns=3)
    data_values = param_inputs(info.params, prefix=f"{prefix}{dataset}.", columns=3)
    training_values = param_inputs(training_params(defaults), prefix=f"{prefix}train.", columns=3)
    try:
        config, problem = validate(model, dataset, model_values | training_values, data_values), None
    except ParamError as err:
        config, problem = None, str(err)
    # Never disabled for the settings (as the Training page's Start): a button drawn disabled for the
    # settings before a slider change dropped a click made before the page caught up with it.
    go, step = st.columns(2)
    go_clicked = go.button("Train", type="primary", icon=":material/play_arrow:", key=f"{prefix}go", width="stretch")
    step_clicked = step.button("Step", icon=":material/skip_next:", key=f"{prefix}step", width="stretch",
                               help="train one epoch, then pause: look at the attention, then go on")
    if (go_clicked or step_clicked) and config is not None:
        select_run(start_training(config, store, pause_after_epoch=1 if step_clicked else None).run_id)
        st.rerun()
    if problem is not None:
        st.error(f"{'Not started' if go_clicked or step_clicked else 'Cannot train'}: {problem}",
                 icon=":material/block:")


def drawn_for(progress: Progress) -> tuple:
    """What a run of the page draws for (buttons, slider or live bar): a live view reruns the page
    when it changes (paused, resumed, ended; or the refresh pace, e.g. once the job is up)."""
    return progress.status, progress.paused, live_ui.refresh_every(progress)


def run_picker(runs: list[Run], label: Callable[[Run], str], prefix: str) -> int:
    """The picker of the listed runs, on the page's run (else the first)."""
    ids = [r.id for r in runs]
    current = st.session_state.att_run if st.session_state.att_run in ids else ids[0]
    labels = {r.id: label(r) for r in runs}
    # The shown label is in the key: a browser keeps showing a selectbox's old label when only the
    # label of its value changes (the run's status), so a new status makes a new picker.
    return st.selectbox("Run", ids, index=ids.index(current), format_func=labels.get,
                        key=f"{prefix}_pick_{current}_{labels[current]}")


def run_controls(store: RunStore, run_id: int, progress: Progress) -> None:
    """Stop, and while paused between epochs: Resume or Next epoch. Drawn for the state the page
    read at the top of this run; its live view reruns the page when that state changes."""
    if not progress.running:
        return
    control = RunControl(store, run_id)
    stop, resume, step, _ = st.columns(4)
    if stop.button("Stop training", icon=":material/stop:", key=f"stop_{run_id}", width="stretch"):
        control.stop(wait=5)
        st.rerun()
    if not progress.paused:
        return
    if resume.button("Resume", icon=":material/play_arrow:", key=f"resume_{run_id}", width="stretch"):
        control.resume()
        taken_up(control, progress.epoch)
        st.rerun()
    if step.button("Next epoch", icon=":material/skip_next:", key=f"next_{run_id}", width="stretch"):
        control.step()
        taken_up(control, progress.epoch)
        st.rerun()


def taken_up(control: RunControl, epoch: int, timeout: float = 1.0) -> None:
    """Wait (a moment at most) for a paused job to take up Resume / Next epoch (it reads its commands
    every 0.1 s), so the page redraws in the run's new state instead of paused for one more refresh."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = control.progress()
        if not p.paused or p.epoch > epoch:
            return
        time.sleep(0.05)


def follow_other_runs(store: RunStore, runs: list[Run], shown: int | None) -> None:
    """Rerun the page when a listed run that trains (other than the one on show: its live view follows
    it) ends, so the run picker's labels say so."""
    others = [r.id for r in runs if r.status == "running" and r.id != shown]
    if others:
        watch_others(store, others)


@st.fragment(run_every=OTHERS_REFRESH_S)
def watch_others(store: RunStore, others: list[int]) -> None:
    if any(RunControl(store, run_id).progress().status != "running" for run_id in others):
        st.rerun(scope="app")
