"""The Attention page's trained-models view: train a transformer or a seq2seq model on a sequence
task, watch the probe's attention form epoch by epoch, and type inputs to read every head.

The run trains in its own process; the live views read its progress from the store and rebuild the
attention maps only when a new checkpoint appears.
"""
from __future__ import annotations

import streamlit as st

from engine.attention.maps import KIND_TITLES, AttentionResult, RunTask, attention_for_run, run_task
from engine.core.jobs import Progress, RunControl
from engine.core.loading import runs_with
from engine.core.params import ParamError
from engine.core.registry import specs_with
from engine.core.runs import Run, RunStore
from engine.data.sequences import TASKS
from pages._ui import attention_charts as charts
from pages._ui import live as live_ui
from pages._ui.attention_heads import show_stack
from pages._ui.attention_training import (drawn_for, follow_other_runs, run_controls, run_picker, select_run,
                                          train_form)
from pages._ui.safe_markdown import escape_markdown

# Page defaults that train the toy tasks in seconds on a CPU (the registry's are generic).
TRAIN_DEFAULTS = {"lr": 3e-3, "batch_size": 128, "epochs": 8}
TASK_ORDER = ("reverse", "dates", "copy", "sort", "addition")  # the showcase first


@st.cache_data(max_entries=512, show_spinner=False)
def cached_attention(store_root: str, run_id: int, epoch: int, text: str):
    return attention_for_run(RunStore(store_root), run_id, text, epoch)


def trained_models_view(store: RunStore) -> None:
    runs = runs_with(store, "attention_maps")
    with st.expander("Train a model", expanded=not runs, icon=":material/model_training:"):
        train_form(store, tuple(s.name for s in specs_with("attention_maps")), TASK_ORDER, TRAIN_DEFAULTS, "att.")
    if not runs:
        st.info("No transformer or seq2seq runs yet: set one up above and press **Train** (reverse with the "
                "defaults takes well under a minute on a CPU).", icon=":material/arrow_upward:")
        return
    run_id = run_picker(runs, run_label, "att")
    if run_id != st.session_state.att_run:
        select_run(run_id)
    follow_other_runs(store, runs, run_id)
    try:
        task = run_task(store, run_id)
    except (ParamError, KeyError) as err:
        st.error(str(err))
        return
    st.info(f"**What to expect on {TASKS[task.task][1].lower()}:** {task.expectation}", icon=":material/lightbulb:")
    progress = RunControl(store, run_id).progress()
    live = live_ui.live_run(store, run_id)
    planned = store.get_run(run_id).params.get("epochs", 1)

    st.subheader("Attention while training", anchor=False)
    run_controls(store, run_id, progress)
    st.fragment(probe_view, run_every=live_ui.refresh_every(progress))(
        store, run_id, task, live, drawn_for(progress), planned)

    st.subheader("Your input", anchor=False)
    text_key = f"att_text_{run_id}"
    if text_key not in st.session_state:
        st.session_state[text_key] = task.probe
    # While the run trains, your own input follows the newest checkpoint too, at a slow pace (never
    # faster than the probe; paused, the page reruns when the next epoch is in).
    st.fragment(typed_input_view, run_every=live_ui.SLOW_S if progress.running and not progress.paused else None)(
        store, run_id, task, live, text_key)


def run_label(run: Run) -> str:
    score = run.final.get("val_exact_match")
    return f"#{run.id} {run.model} on {run.dataset} ({run.status}" + (
        f", exact match {score:.3f}" if score is not None else "") + ")"


# ---- the probe: one fixed input, replayed epoch by epoch ------------------------------------------
def probe_view(store: RunStore, run_id: int, task: RunTask, live: live_ui.LiveRun, shown: tuple, planned: int) -> None:
    """Polls the run's progress (and its new metric rows); the probe's maps are computed once per
    checkpoint: a refresh that finds the same epoch reuses them."""
    follower = live.follower
    follower.poll()
    p = follower.progress
    if drawn_for(p) != shown:
        st.rerun(scope="app")  # new buttons (Resume, Next epoch), the epoch slider once it ends
    epochs = store.checkpoint_epochs(run_id)
    epoch = live_epoch(p, p.epochs or planned, epochs) if p.running else ended_epoch(run_id, p, epochs)
    if epoch is None:
        return
    metrics = follower.metrics
    at_epoch = metrics[(metrics.name == "val_exact_match") & (metrics.epoch == epoch)]
    score = f", validation exact match {at_epoch.value.iloc[-1]:.3f}" if len(at_epoch) else ""
    try:
        result, grid = live.figure("probe", epoch, lambda: probe_maps(store, run_id, epoch, task.probe))
    except ParamError as err:
        st.error(f"Cannot read the attention of run {run_id} at epoch {epoch}: {err}", icon=":material/error:")
        return
    st.markdown(f"Probe `{task.probe}` → `{result.text}` after epoch {epoch}{score}")
    st.plotly_chart(grid, key=f"probe_grid_{run_id}")


def live_epoch(p: Progress, total: int, epochs: list[int]) -> int | None:
    """While the run trains: the epoch of its newest checkpoint (None before the first), under a bar."""
    # The job saves an epoch's checkpoint before it reports the epoch (a run trained without
    # checkpoints, e.g. from the CLI, shows the newest it has).
    epoch = p.epoch if p.epoch in epochs else (epochs[-1] if epochs else 0)
    if not epoch:
        what = "starting its process" if p.state == "starting" else f"training epoch 1 of {total}"
        st.progress(0.0, text=f"{what}...")
        st.info("Training: the heatmaps appear when the first epoch's checkpoint is saved.",
                icon=":material/hourglass_top:")
        return None
    # The job writes "paused" with the epoch's metrics, after its checkpoint: read from the
    # store's progress, this cannot be missed however slow the machine.
    state, hint = ("paused", "press Resume or Next epoch") if p.paused else ("live", "refreshed every epoch")
    st.progress(min(epoch / max(total, 1), 1.0), text=f"{state}: after epoch {epoch} of {total}, {hint}")
    return epoch


def ended_epoch(run_id: int, p: Progress, epochs: list[int]) -> int | None:
    """Once the run has ended: how it ended, and the epoch slider that replays the probe (None
    without a checkpoint)."""
    if p.status in ("diverged", "failed"):
        st.error(f"Run {run_id} {p.status}: {p.message}", icon=":material/error:")
    elif p.status != "completed":
        st.warning(f"Run {run_id} {p.status}: {p.message}", icon=":material/pause_circle:")
    if not epochs:
        st.info("This run saved no checkpoint: there is no attention to show.")
        return None
    return st.select_slider("Epoch", epochs, value=epochs[-1], key=f"att_epoch_{run_id}",
                            help="replay the probe's attention as it formed, epoch by epoch") \
        if len(epochs) > 1 else epochs[0]


def probe_maps(store: RunStore, run_id: int, epoch: int, probe: str):
    """The probe's attention at one checkpoint and its every-head grid (built once per checkpoint)."""
    result = cached_attention(str(store.root), run_id, epoch, probe)
    return result, charts.head_grid(result.maps["cross"], result.source, result.output,
                                    "Cross-attention for the probe: every layer and head")


# ---- your input ----------------------------------------------------------------------------------
def typed_input_view(store: RunStore, run_id: int, task: RunTask, live: live_ui.LiveRun, text_key: str) -> None:
    left, right = st.columns([4, 1], vertical_alignment="bottom")
    # Kept for the session: a switch to another view (or run) and back found the probe again, the
    # typed input dropped with its widget while the widget was not drawn.
    text = left.text_input("Input sequence", key=text_key, max_chars=300, persist_state="session",
                           help=f"characters from the task's vocabulary; at most {task.max_in}")
    right.button("Random example", icon=":material/casino:", on_click=randomise, args=(task, text_key),
                 width="stretch")
    epochs = store.checkpoint_epochs(run_id)
    if not epochs:
        st.info("The model can be queried once its first epoch is done.")
        return
    epoch = epochs[-1]
    # Computed once per (checkpoint, input): a refresh that finds neither changed reuses it (an
    # input the model rejects included: its checkpoint is not read again every refresh).
    result = live.figure("typed", (epoch, text), lambda: typed_attention(store, run_id, epoch, text))
    if isinstance(result, ParamError):  # it quotes what was typed
        st.error(escape_markdown(result), icon=":material/error:")
        return
    for notice in result.notices:
        st.warning(notice, icon=":material/content_cut:")
    expected = task.target("".join(result.source))
    verdict = "" if expected is None else (" :green[:material/check_circle: right]" if result.text == expected
                                           else f" :red[:material/cancel: expected] `{expected}`")
    st.markdown(f"**Output** (epoch {epoch}): `{result.text}`{verdict}")
    kinds = result.kinds()
    kind = st.radio("Attention", kinds, format_func=KIND_TITLES.get, horizontal=True, key="att_kind",
                    index=kinds.index("cross") if "cross" in kinds else 0)
    keys, queries, x_title, y_title = axes_for(kind, result)
    show_stack(result.maps[kind], keys, queries, KIND_TITLES[kind], f"att_{kind}", x_title, y_title,
               live=live, version=(epoch, text, kind))


def randomise(task: RunTask, text_key: str) -> None:
    st.session_state.att_seed = st.session_state.get("att_seed", 0) + 1
    st.session_state[text_key] = task.random_input(10_000 + st.session_state.att_seed)


def typed_attention(store: RunStore, run_id: int, epoch: int, text: str):
    """The attention for a typed input, or the ParamError that says what is wrong with it."""
    try:
        return cached_attention(str(store.root), run_id, epoch, text)
    except ParamError as err:
        return err


def axes_for(kind: str, result: AttentionResult) -> tuple[list[str], list[str], str, str]:
    """(keys, queries, x title, y title) of one kind of map. Row i of the decoder's maps is the step
    that produced output token i; its keys are the decoder inputs (BOS, then the outputs so far)."""
    decoder_inputs = ["<bos>"] + result.output[:-1]
    if kind == "encoder_self":
        return result.source, result.source, "input token (key)", "input token (query)"
    if kind == "decoder_self":
        return decoder_inputs, result.output, "decoder input (key)", "output being produced"
    return result.source, result.output, "input token", "output token"
