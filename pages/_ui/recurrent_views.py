"""The Attention page's Recurrent view: train an LSTM/GRU/RNN to count the ones in a binary sequence
and watch its state (and, for an LSTM, its cell and gates) move as it reads each bit; below it, the
vanishing and exploding gradient demos (gradient_views.py)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from engine.attention.recurrent import Unrolled, unroll
from engine.core.jobs import RunControl
from engine.core.loading import load_run, runs_with
from engine.core.registry import specs_with
from engine.core.runs import Run, RunStore
from pages._ui import attention_charts as charts
from pages._ui import gradient_views
from pages._ui import live as live_ui
from pages._ui.attention_training import drawn_for, follow_other_runs, run_controls, run_picker, train_form
from pages._ui.safe_markdown import escape_markdown

COUNT_DEFAULTS = {"lr": 1e-2, "batch_size": 64, "epochs": 6}


@st.cache_data(max_entries=64, show_spinner=False)
def cached_unroll(store_root: str, run_id: int, epoch: int, bits: tuple[int, ...]):
    """The checkpoint is read once per (run, epoch, bits), not on every rerun of the Recurrent view."""
    model = load_run(RunStore(store_root), run_id, epoch, need="hidden_states").model
    return unroll(model, bits)


def recurrent_view(store: RunStore) -> None:
    st.markdown("Before attention, a recurrent network carried everything it knew in one state vector, updated "
                "step by step. Here an LSTM/GRU/RNN counts the ones in a binary sequence: watch the state "
                "(and, for an LSTM, its cell and gates) move as it reads each bit.")
    # Only the registered recurrent models: the linear-RNN demo's runs ("linear_rnn", also on
    # count_ones) have no checkpoint to unroll; they are shown by the demo below.
    runs = runs_with(store, "hidden_states")
    with st.expander("Train a counting model", expanded=not runs, icon=":material/model_training:"):
        train_form(store, tuple(s.name for s in specs_with("hidden_states")), ("count_ones",), COUNT_DEFAULTS, "rec.")
    if runs:
        run_id = run_picker(runs, run_label, "rec")
        follow_other_runs(store, runs, run_id)
        recurrent_run(store, run_id)
    st.divider()
    gradient_views.gradient_flow_view(store)


def run_label(run: Run) -> str:
    acc = run.final.get("val_acc")
    return f"#{run.id} {run.params.get('cell', '')} hidden {run.params.get('hidden', '')} ({run.status}" + (
        f", val acc {acc:.3f}" if acc is not None else "") + ")"


def recurrent_run(store: RunStore, run_id: int) -> None:
    progress = RunControl(store, run_id).progress()
    live = live_ui.live_run(store, run_id)
    planned = store.get_run(run_id).params.get("epochs", 1)
    run_controls(store, run_id, progress)
    st.fragment(status_line, run_every=live_ui.refresh_every(progress))(
        store, run_id, live, drawn_for(progress), planned)
    epochs = store.checkpoint_epochs(run_id)
    if not epochs:
        return
    length = store.get_run(run_id).params.get("dataset_options", {}).get("length", 20)
    bits = bits_input(run_id, length)
    if bits is None:
        return
    inside = cached_unroll(str(store.root), run_id, epochs[-1], tuple(bits))
    prediction = float(inside.outputs[-1]) if inside.outputs is not None else float("nan")
    note = "" if len(bits) == length else f" (trained on length {length}: other lengths are extrapolation)"
    st.markdown(f"**Ones:** {sum(bits)} · **model says:** {prediction:.2f} → {round(prediction)}{note} "
                f"(after epoch {epochs[-1]})")
    states_view(inside, bits)


def status_line(store: RunStore, run_id: int, live: live_ui.LiveRun, shown: tuple, planned: int) -> None:
    """The run's state from the store; the page reruns (the views below read the newest
    checkpoint, the buttons change) when it pauses, resumes or ends."""
    live.follower.poll()
    p = live.follower.progress
    if drawn_for(p) != shown:
        st.rerun(scope="app")
    total = p.epochs or planned
    done = p.epoch if p.running else len(store.checkpoint_epochs(run_id))
    state = "paused" if p.paused else "starting its process" if p.running and p.state == "starting" else p.status
    st.progress(min(done / max(total, 1), 1.0), text=f"{state}: epoch {done} of {total}")
    if p.status in ("diverged", "failed", "stopped", "interrupted"):
        st.warning(f"Run {run_id} {p.status}: {p.message}", icon=":material/pause_circle:")


def bits_input(run_id: int, length: int) -> list[int] | None:
    """The typed sequence of bits (a random one of the trained length at first); None, with a
    message, when it is not one."""
    bits_key = f"rec_bits_{run_id}"
    if bits_key not in st.session_state:
        st.session_state[bits_key] = "".join(str(int(b)) for b in np.random.default_rng(run_id).integers(0, 2, length))
    bits_text = st.text_input("Bits (0 and 1)", key=bits_key, max_chars=400, persist_state="session")  # kept across views
    bad = sorted(set(bits_text) - {"0", "1"})
    if not bits_text or bad:
        st.error("Type a sequence of 0 and 1"
                 + (f"; not allowed: {escape_markdown(', '.join(repr(c) for c in bad))}" if bad else ""))
        return None
    return [int(c) for c in bits_text]


def states_view(inside: Unrolled, bits: list[int]) -> None:
    """The hidden state over time, and the LSTM's cell state and the gates where the cell has them."""
    st.plotly_chart(charts.values_over_time(inside.hidden, bits, "Hidden state h_t"), key="rec_hidden")
    if inside.cell is not None:
        st.plotly_chart(charts.values_over_time(inside.cell, bits, "Cell state c_t (the LSTM's memory: a counter "
                                                                     "shows up as a unit that steps at each 1)"),
                        key="rec_cell")
    if inside.gates:
        cols = st.columns(2)
        for i, (name, values) in enumerate(inside.gates.items()):
            cols[i % 2].plotly_chart(charts.values_over_time(values, bits, name.capitalize(),
                                                             zmid=0.0 if name in ("cell input", "candidate") else 0.5),
                                     key=f"rec_gate_{i}")
