"""Attention: train a transformer or a seq2seq model on a sequence task and watch its attention
form; type inputs and read every head; the pretrained MiniLM with integrated-gradients beside its
attention; positional encodings; and the recurrent models attention replaced.

Every run here (the linear-RNN demo's too) trains in its own process (engine.core.jobs): the page starts
it, sends Stop / Resume / Next epoch through the run store (RunControl), and its live views read
the run's progress from the store, rebuilding the attention maps only when a new checkpoint appears.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import streamlit as st

from engine.models.attention_layers import sinusoidal_positions
import engine.models  # noqa: F401  (registers the built-in models)
from engine.attention.maps import KIND_TITLES, attention_for_run, position_similarity, run_task
from engine.data import get_info
from engine.data.sequences import TASKS
from engine.core.jobs import Progress, RunControl
from engine.attention.recurrent import gradient_flow, unroll
from engine.core.params import ParamError
from engine.core.paths import runs_dir
from engine.core.loading import load_run, runs_with
from engine.core.registry import TRAINING_PARAMS, get_spec, specs_with, validate
from engine.attention.rnn_demo import LinearRnnJob
from engine.core.runs import Run, RunStore
from engine.core.trainer import start_training
from pages._ui import attention_charts as charts
from pages._ui import live as live_ui
from pages._ui import run_link
from pages._ui.params_ui import param_inputs

OTHERS_REFRESH_S = 5.0  # other listed runs that train are checked this often (their picker label)
VIEWS = ("Trained models", "MiniLM (pretrained)", "Positional encodings", "Recurrent")
# Page defaults that train the toy tasks in seconds on a CPU (the registry's are generic).
TRAIN_DEFAULTS = {"lr": 3e-3, "batch_size": 128, "epochs": 8}
TRAIN_SHOWN = ("lr", "batch_size", "epochs", "optimizer", "seed")
COUNT_DEFAULTS = {"lr": 1e-2, "batch_size": 64, "epochs": 6}
TASK_ORDER = ("reverse", "dates", "copy", "sort", "addition")  # the showcase first


def training_params(defaults: dict) -> tuple:
    return tuple(dataclasses.replace(p, default=defaults.get(p.name, p.default))
                 for p in TRAINING_PARAMS if p.name in TRAIN_SHOWN)


@st.cache_data(max_entries=512, show_spinner=False)
def cached_attention(store_root: str, run_id: int, epoch: int, text: str):
    return attention_for_run(RunStore(store_root), run_id, text, epoch)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_unroll(store_root: str, run_id: int, epoch: int, bits: tuple[int, ...]):
    """The checkpoint is read once per (run, epoch, bits), not on every rerun of the Recurrent view."""
    model = load_run(RunStore(store_root), run_id, epoch, need="hidden_states").model
    return unroll(model, bits)


def select_run(run_id: int | None) -> None:
    run_link.select_run("att_run", run_id)


def train_form(models: tuple[str, ...], datasets: tuple[str, ...], defaults: dict, prefix: str) -> None:
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
        config = validate(model, dataset, model_values | training_values, data_values)
    except ParamError as err:
        config = None
        st.error(str(err), icon=":material/block:")
    go, step = st.columns(2)
    if go.button("Train", type="primary", icon=":material/play_arrow:", disabled=config is None, key=f"{prefix}go",
                 width="stretch"):
        select_run(start_training(config, store).run_id)
        st.rerun()
    if step.button("Step", icon=":material/skip_next:", disabled=config is None, key=f"{prefix}step",
                   help="train one epoch, then pause: look at the attention, then go on", width="stretch"):
        select_run(start_training(config, store, pause_after_epoch=1).run_id)
        st.rerun()


def run_controls(run_id: int, progress: Progress) -> None:
    """Stop, and while paused between epochs: Resume or Next epoch. Drawn for the state the page
    read at the top of this run; its live view reruns the page when that state changes."""
    if not progress.running:
        return
    control = RunControl(store, run_id)
    stop, resume, step, _ = st.columns(4)
    if stop.button("Stop training", icon=":material/stop:", key=f"stop_{run_id}", width="stretch"):
        control.stop(wait=5)
        st.rerun()
    if progress.paused:
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


def follow_other_runs(runs: list[Run], shown: int | None) -> None:
    """Rerun the page when a listed run that trains (other than the one on show: its live view follows
    it) ends, so the run picker's labels say so."""
    others = [r.id for r in runs if r.status == "running" and r.id != shown]
    if not others:
        return

    @st.fragment(run_every=OTHERS_REFRESH_S)
    def watch() -> None:
        if any(RunControl(store, run_id).progress().status != "running" for run_id in others):
            st.rerun(scope="app")

    watch()


def layer_head_picker(stack: np.ndarray, key: str) -> tuple[int, int | None]:
    """Layer and head of a (layers, heads, q, k) stack; head None = the mean of the heads."""
    layers, heads = stack.shape[:2]
    left, right = st.columns(2)
    layer = left.selectbox("Layer", range(layers), key=f"{key}_layer", format_func=lambda i: f"layer {i}") \
        if layers > 1 else 0
    options = ["mean"] + list(range(heads)) if heads > 1 else [0]
    head = right.selectbox("Head", options, key=f"{key}_head",
                           format_func=lambda h: "mean of the heads" if h == "mean" else f"head {h}") \
        if heads > 1 else 0
    return layer, None if head == "mean" else head


def show_stack(stack: np.ndarray, keys: list[str], queries: list[str], title: str, key: str,
               x_title: str = "attends to (key)", y_title: str = "query",
               live: live_ui.LiveRun | None = None, version=None) -> None:
    """One head's map (and, on request, every head's). With a live view and the version of the
    data, a refresh that finds the same data reuses the figures instead of rebuilding them."""
    layer, head = layer_head_picker(stack, key)
    matrix = stack[layer].mean(0) if head is None else stack[layer, head]
    name = f"{title}, layer {layer}, " + ("mean of the heads" if head is None else f"head {head}")

    def figure(part: str, build):
        return build() if live is None else live.figure(f"{key}_{part}", (version, layer, head), build)

    st.plotly_chart(figure("map", lambda: charts.heatmap(matrix, keys, queries, name, x_title, y_title)),
                    key=f"{key}_map")
    if stack.shape[0] * stack.shape[1] > 1 and st.toggle("All layers and heads (model view)", key=f"{key}_grid"):
        st.plotly_chart(figure("all", lambda: charts.head_grid(stack, keys, queries, f"{title}: every layer and head")),
                        key=f"{key}_all")


def axes_for(kind: str, result) -> tuple[list[str], list[str], str, str]:
    """(keys, queries, x title, y title) of one kind of map. Row i of the decoder's maps is the step
    that produced output token i; its keys are the decoder inputs (BOS, then the outputs so far)."""
    decoder_inputs = ["<bos>"] + result.output[:-1]
    if kind == "encoder_self":
        return result.source, result.source, "input token (key)", "input token (query)"
    if kind == "decoder_self":
        return decoder_inputs, result.output, "decoder input (key)", "output being produced"
    return result.source, result.output, "input token", "output token"


# ==================================================================================================
st.title("Attention")
st.caption("Attention you can watch form while a model trains, on models you configure, and next to an "
           "attribution that says whether it explains anything.")
store = RunStore(runs_dir())

# A link from the training page (?run=ID) opens that run in the right view.
if "att_run" not in st.session_state:
    st.session_state.att_run = int(st.query_params["run"]) if st.query_params.get("run", "").isdigit() else None
    if st.session_state.att_run is not None and "view" not in st.query_params:
        try:
            linked = store.get_run(st.session_state.att_run).model
        except KeyError:
            linked = None
        if linked == LinearRnnJob.MODEL or linked in {s.name for s in specs_with("hidden_states")}:
            st.session_state.view = "Recurrent"
        if linked == LinearRnnJob.MODEL:  # the gradient demo's run (the Training page links here)
            st.session_state.lr_run = st.session_state.att_run
view = st.radio("View", VIEWS, horizontal=True, key="view", bind="query-params", label_visibility="collapsed")


# ---- trained sequence models ---------------------------------------------------------------------
def trained_models_view() -> None:
    runs = runs_with(store, "attention_maps")
    with st.expander("Train a model", expanded=not runs, icon=":material/model_training:"):
        train_form(tuple(s.name for s in specs_with("attention_maps")), TASK_ORDER, TRAIN_DEFAULTS, "att.")
    if not runs:
        st.info("No transformer or seq2seq runs yet: set one up above and press **Train** (reverse with the "
                "defaults takes well under a minute on a CPU).", icon=":material/arrow_upward:")
        return
    ids = [r.id for r in runs]
    current = st.session_state.att_run if st.session_state.att_run in ids else ids[0]
    labels = {r.id: f"#{r.id} {r.model} on {r.dataset} ({r.status}"
                    + (f", exact match {r.final['val_exact_match']:.3f}" if r.final.get("val_exact_match") is not None else "")
                    + ")" for r in runs}
    # The shown label is in the key: a browser keeps showing a selectbox's old label when only the
    # label of its value changes (the run's status), so a new status makes a new picker.
    run_id = st.selectbox("Run", ids, index=ids.index(current), format_func=labels.get,
                          key=f"att_pick_{current}_{labels[current]}")
    if run_id != st.session_state.att_run:
        select_run(run_id)
    follow_other_runs(runs, run_id)
    try:
        task = run_task(store, run_id)
    except (ParamError, KeyError) as err:
        st.error(str(err))
        return
    st.info(f"**What to expect on {TASKS[task.task][1].lower()}:** {task.expectation}", icon=":material/lightbulb:")
    progress = RunControl(store, run_id).progress()
    # What this run of the script draws for (buttons, slider or live bar): the live view reruns the
    # page when it changes (paused, resumed, ended; or the refresh pace, e.g. once the job is up).
    shown = (progress.status, progress.paused, live_ui.refresh_every(progress))
    live = live_ui.live_run(store, run_id)
    planned = store.get_run(run_id).params.get("epochs", 1)

    st.subheader("Attention while training", anchor=False)
    run_controls(run_id, progress)

    @st.fragment(run_every=live_ui.refresh_every(progress))
    def probe_view(run_id: int) -> None:
        """Polls the run's progress (and its new metric rows); the probe's maps are computed once per
        checkpoint: a refresh that finds the same epoch reuses them."""
        follower = live.follower
        follower.poll()
        p = follower.progress
        if (p.status, p.paused, live_ui.refresh_every(p)) != shown:
            st.rerun(scope="app")  # new buttons (Resume, Next epoch), the epoch slider once it ends
        total = p.epochs or planned
        epochs = store.checkpoint_epochs(run_id)
        if p.running:
            # The job saves an epoch's checkpoint before it reports the epoch (a run trained without
            # checkpoints, e.g. from the CLI, shows the newest it has).
            epoch = p.epoch if p.epoch in epochs else (epochs[-1] if epochs else 0)
            if not epoch:
                what = "starting its process" if p.state == "starting" else f"training epoch 1 of {total}"
                st.progress(0.0, text=f"{what}...")
                st.info("Training: the heatmaps appear when the first epoch's checkpoint is saved.",
                        icon=":material/hourglass_top:")
                return
            # The job writes "paused" with the epoch's metrics, after its checkpoint: read from the
            # store's progress, this cannot be missed however slow the machine.
            state, hint = ("paused", "press Resume or Next epoch") if p.paused else ("live", "refreshed every epoch")
            st.progress(min(epoch / max(total, 1), 1.0), text=f"{state}: after epoch {epoch} of {total}, {hint}")
        else:
            if p.status in ("diverged", "failed"):
                st.error(f"Run {run_id} {p.status}: {p.message}", icon=":material/error:")
            elif p.status != "completed":
                st.warning(f"Run {run_id} {p.status}: {p.message}", icon=":material/pause_circle:")
            if not epochs:
                st.info("This run saved no checkpoint: there is no attention to show.")
                return
            epoch = st.select_slider("Epoch", epochs, value=epochs[-1], key=f"att_epoch_{run_id}",
                                     help="replay the probe's attention as it formed, epoch by epoch") \
                if len(epochs) > 1 else epochs[0]
        metrics = follower.metrics
        at_epoch = metrics[(metrics.name == "val_exact_match") & (metrics.epoch == epoch)]
        score = f", validation exact match {at_epoch.value.iloc[-1]:.3f}" if len(at_epoch) else ""
        try:
            result, grid = live.figure("probe", epoch, lambda: probe_maps(run_id, epoch, task.probe))
        except ParamError as err:
            st.error(f"Cannot read the attention of run {run_id} at epoch {epoch}: {err}", icon=":material/error:")
            return
        st.markdown(f"Probe `{task.probe}` → `{result.text}` after epoch {epoch}{score}")
        st.plotly_chart(grid, key=f"probe_grid_{run_id}")

    probe_view(run_id)

    st.subheader("Your input", anchor=False)
    text_key = f"att_text_{run_id}"
    if text_key not in st.session_state:
        st.session_state[text_key] = task.probe

    def randomise():
        st.session_state.att_seed = st.session_state.get("att_seed", 0) + 1
        st.session_state[text_key] = task.random_input(10_000 + st.session_state.att_seed)

    # While the run trains, your own input follows the newest checkpoint too, at a slow pace (never
    # faster than the probe; paused, the page reruns when the next epoch is in).
    @st.fragment(run_every=live_ui.SLOW_S if progress.running and not progress.paused else None)
    def typed_input_view() -> None:
        left, right = st.columns([4, 1], vertical_alignment="bottom")
        text = left.text_input("Input sequence", key=text_key, max_chars=300,
                               help=f"characters from the task's vocabulary; at most {task.max_in}")
        right.button("Random example", icon=":material/casino:", on_click=randomise, width="stretch")
        epochs = store.checkpoint_epochs(run_id)
        if not epochs:
            st.info("The model can be queried once its first epoch is done.")
            return
        epoch = epochs[-1]
        # Computed once per (checkpoint, input): a refresh that finds neither changed reuses it (an
        # input the model rejects included: its checkpoint is not read again every refresh).
        result = live.figure("typed", (epoch, text), lambda: typed_attention(run_id, epoch, text))
        if isinstance(result, ParamError):
            st.error(str(result), icon=":material/error:")
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

    typed_input_view()


def probe_maps(run_id: int, epoch: int, probe: str):
    """The probe's attention at one checkpoint and its every-head grid (built once per checkpoint)."""
    result = cached_attention(str(store.root), run_id, epoch, probe)
    return result, charts.head_grid(result.maps["cross"], result.source, result.output,
                                    "Cross-attention for the probe: every layer and head")


def typed_attention(run_id: int, epoch: int, text: str):
    """The attention for a typed input, or the ParamError that says what is wrong with it."""
    try:
        return cached_attention(str(store.root), run_id, epoch, text)
    except ParamError as err:
        return err


# ---- MiniLM --------------------------------------------------------------------------------------
@st.cache_resource(show_spinner="Loading MiniLM (once per server)...")
def minilm_model():
    from engine.attention.minilm import load_minilm
    return load_minilm()


@st.cache_data(max_entries=64, show_spinner="Reading MiniLM's attention...")
def minilm_maps(a: str, b: str | None):
    from engine.attention.minilm import minilm_attention
    return minilm_attention(a, b)


@st.cache_data(max_entries=64, show_spinner=False)
def minilm_similarity(a: str, b: str) -> float:
    from engine.attention.minilm import pair_similarity
    return pair_similarity(a, b)


@st.cache_data(max_entries=32, show_spinner="Integrated gradients over the embeddings...")
def minilm_attributions(a: str, b: str, steps: int):
    from engine.attention.minilm import similarity_attributions
    return similarity_attributions(a, b, steps)


def minilm_view() -> None:
    st.markdown("**all-MiniLM-L6-v2**, a 6-layer, 12-head sentence encoder, loaded offline. Expect early layers "
                "to attend to the next or previous token and to `[SEP]`, later heads to link related words; a head "
                "that looks important may still matter little to the output: the attributions below say "
                "which tokens actually move the similarity of two sentences.")
    try:
        minilm_model()
    except (FileNotFoundError, OSError) as err:
        st.error(f"MiniLM is not available: {err}")
        return
    left, right = st.columns(2)
    a = left.text_area("Sentence A", "The cat sat on the mat.", key="mini_a", height=80, max_chars=2000)
    b = right.text_area("Sentence B (optional)", "A kitten was sitting on a rug.", key="mini_b", height=80,
                        max_chars=2000)
    pair = st.toggle("Attention over the pair (A [SEP] B) instead of A alone", key="mini_pair", value=False)
    try:
        maps = minilm_maps(a, b if pair else None)
    except ParamError as err:
        st.error(str(err), icon=":material/error:")
        return
    for notice in maps.notices:
        st.warning(notice, icon=":material/content_cut:")
    show_stack(maps.attentions, maps.tokens, maps.tokens, "MiniLM self-attention", "mini",
               "attends to (key)", "token (query)")

    st.subheader("Similarity and token attributions", anchor=False)
    if not b.strip():
        st.info("Type sentence B to compare the two sentences and attribute their similarity to tokens.")
        return
    try:
        similarity = minilm_similarity(a, b)
    except ParamError as err:
        st.error(str(err), icon=":material/error:")
        return
    st.metric("Cosine similarity of the sentence embeddings (mean pooling)", f"{similarity:.3f}")
    steps = st.select_slider("Integrated-gradients steps", [8, 16, 32, 64], value=16, key="mini_steps",
                             help="more steps: a closer path integral (smaller completeness error), slower")
    if not st.toggle("Compute token attributions (a few seconds on a CPU)", key="mini_ig"):
        return
    try:
        attr = minilm_attributions(a, b, steps)
    except ParamError as err:
        st.error(str(err))
        return
    layer, head = st.session_state.get("mini_layer", 0), st.session_state.get("mini_head", "mean")
    single = minilm_maps(a, None)
    stack = single.attentions[layer]
    # The sentence embedding is the mean over tokens, so the attention a token receives, averaged
    # over every query, is the attention-side counterpart of its attribution.
    received = (stack.mean(0) if head == "mean" else stack[head]).mean(0)
    col1, col2 = st.columns(2)
    col1.plotly_chart(charts.token_bars(single.tokens, received,
                                        f"Attention each token of A receives (layer {layer}, "
                                        f"{'mean of heads' if head == 'mean' else f'head {head}'})",
                                        "mean attention received"),
                      key="mini_cls")
    col2.plotly_chart(charts.token_bars(attr.tokens_a, attr.scores_a, "Integrated gradients: A's tokens → similarity"),
                      key="mini_ig_a")
    st.plotly_chart(charts.token_bars(attr.tokens_b, attr.scores_b, "Integrated gradients: B's tokens → similarity"),
                    key="mini_ig_b")
    st.caption(f"Attributions of each sentence's tokens with the other sentence held fixed; baseline: every word "
               f"replaced by [PAD]. Completeness error {attr.delta:.2g} (sum of attributions vs the change in "
               f"similarity from the baseline). Where the attention bars and the attribution bars disagree, the "
               f"attention is not what explains the output.")


# ---- positional encodings ------------------------------------------------------------------------
def positions_view() -> None:
    left, right = st.columns(2)
    length = left.slider("Positions", 4, 256, 64, key="pe_len")
    d_model = right.select_slider("d_model", [8, 16, 32, 64, 128, 256, 512], value=64, key="pe_d")
    st.markdown("Each position gets a vector of sines and cosines whose wavelengths grow geometrically from 2π "
                "(left columns, fast stripes) to 10000·2π (right columns, nearly constant). The dot product of two "
                "positions depends only on how far apart they are: a bright diagonal band that fades with distance, "
                "which is what lets attention find relative positions.")
    pe = sinusoidal_positions(length, d_model).numpy()
    idx = [str(i) for i in range(length)]
    dims = [str(i) for i in range(d_model)]
    col1, col2 = st.columns(2)
    col1.plotly_chart(charts.heatmap(pe, dims, idx, "Sinusoidal encoding", "dimension", "position", zmax=None,
                                     colorscale="RdBu", height=520, token_ticks=False), key="pe_matrix")
    col2.plotly_chart(charts.heatmap(position_similarity(length, d_model), idx, idx, "Dot product between positions",
                                     "position", "position", zmax=None, height=520, token_ticks=False),
                      key="pe_similarity")


# ---- recurrent -----------------------------------------------------------------------------------
def recurrent_view() -> None:
    st.markdown("Before attention, a recurrent network carried everything it knew in one state vector, updated "
                "step by step. Here an LSTM/GRU/RNN counts the ones in a binary sequence: watch the state "
                "(and, for an LSTM, its cell and gates) move as it reads each bit.")
    # Only the registered recurrent models: the linear-RNN demo's runs ("linear_rnn", also on
    # count_ones) have no checkpoint to unroll; they are shown by the demo below.
    runs = runs_with(store, "hidden_states")
    with st.expander("Train a counting model", expanded=not runs, icon=":material/model_training:"):
        train_form(tuple(s.name for s in specs_with("hidden_states")), ("count_ones",), COUNT_DEFAULTS, "rec.")
    if runs:
        ids = [r.id for r in runs]
        current = st.session_state.att_run if st.session_state.att_run in ids else ids[0]
        labels = {r.id: f"#{r.id} {r.params.get('cell', '')} hidden {r.params.get('hidden', '')} ({r.status}"
                        + (f", val acc {r.final['val_acc']:.3f}" if r.final.get("val_acc") is not None else "")
                        + ")" for r in runs}
        run_id = st.selectbox("Run", ids, index=ids.index(current), format_func=labels.get,
                              key=f"rec_pick_{current}_{labels[current]}")  # the label in the key: see above
        follow_other_runs(runs, run_id)
        recurrent_run(run_id)
    st.divider()
    gradient_flow_view()


def recurrent_run(run_id: int) -> None:
    progress = RunControl(store, run_id).progress()
    shown = (progress.status, progress.paused, live_ui.refresh_every(progress))
    live = live_ui.live_run(store, run_id)
    planned = store.get_run(run_id).params.get("epochs", 1)
    run_controls(run_id, progress)

    @st.fragment(run_every=live_ui.refresh_every(progress))
    def status_line(run_id: int) -> None:
        """The run's state from the store; the page reruns (the views below read the newest
        checkpoint, the buttons change) when it pauses, resumes or ends."""
        live.follower.poll()
        p = live.follower.progress
        if (p.status, p.paused, live_ui.refresh_every(p)) != shown:
            st.rerun(scope="app")
        total = p.epochs or planned
        done = p.epoch if p.running else len(store.checkpoint_epochs(run_id))
        state = "paused" if p.paused else "starting its process" if p.running and p.state == "starting" else p.status
        st.progress(min(done / max(total, 1), 1.0), text=f"{state}: epoch {done} of {total}")
        if p.status in ("diverged", "failed", "stopped", "interrupted"):
            st.warning(f"Run {run_id} {p.status}: {p.message}", icon=":material/pause_circle:")

    status_line(run_id)
    epochs = store.checkpoint_epochs(run_id)
    if not epochs:
        return
    run = store.get_run(run_id)
    length = run.params.get("dataset_options", {}).get("length", 20)
    bits_key = f"rec_bits_{run_id}"
    if bits_key not in st.session_state:
        st.session_state[bits_key] = "".join(str(int(b)) for b in np.random.default_rng(run_id).integers(0, 2, length))
    bits_text = st.text_input("Bits (0 and 1)", key=bits_key, max_chars=400)
    bad = sorted(set(bits_text) - {"0", "1"})
    if not bits_text or bad:
        st.error("Type a sequence of 0 and 1" + (f"; not allowed: {', '.join(repr(c) for c in bad)}" if bad else ""))
        return
    bits = [int(c) for c in bits_text]
    inside = cached_unroll(str(store.root), run_id, epochs[-1], tuple(bits))
    prediction = float(inside.outputs[-1]) if inside.outputs is not None else float("nan")
    note = "" if len(bits) == length else f" (trained on length {length}: other lengths are extrapolation)"
    st.markdown(f"**Ones:** {sum(bits)} · **model says:** {prediction:.2f} → {round(prediction)}{note} "
                f"(after epoch {epochs[-1]})")
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


def gradient_flow_view() -> None:
    st.subheader("Vanishing and exploding gradients", anchor=False)
    st.markdown("The last state of a plain RNN, backpropagated: the norm of the gradient that reaches each earlier "
                "step (how much the end still depends on it). The linear RNN s_t = x_t·u + s_(t-1)·w multiplies it by w at every step "
                "(w = 1.5 over 50 steps: 1.5⁵⁰ ≈ 6·10⁸); the tanh RNN shrinks it below an init scale of about 1.")
    c1, c2, c3 = st.columns(3)
    cell = c1.radio("RNN", ["linear", "tanh"], horizontal=True, key="gf_cell")
    length = c2.select_slider("Sequence length", [5, 10, 20, 40, 50, 100, 200, 500, 1000, 2000], value=50,
                              key="gf_len")
    if cell == "linear":
        w = c3.slider("Recurrent weight w", -2.0, 2.0, 1.5, 0.05, key="gf_w")
        others = st.multiselect("Compare with w =", [0.5, 0.9, 1.0, 1.1], default=[0.9, 1.0], key="gf_compare")
        results = [(f"w = {value:g}", gradient_flow(length, "linear", w=value)) for value in [w, *others]]
    else:
        scale = c3.slider("Init scale of W", 0.1, 4.0, 1.0, 0.1, key="gf_scale")
        others = st.multiselect("Compare with scale =", [0.5, 1.0, 2.0, 3.0], default=[0.5, 2.0], key="gf_compare_t")
        results = [(f"scale {value:g}", gradient_flow(length, "tanh", init_scale=value)) for value in [scale, *others]]
    st.plotly_chart(charts.gradient_norms([(name, r.norms) for name, r in results]), key="gf_norms")
    first = results[0][1]  # the slider's setting: its verdict; the others are there to compare
    (st.info if first.finite else st.error)(first.message)
    broken = [name for name, r in results[1:] if not r.finite]
    if broken:
        st.warning(f"Also overflowed (nan/inf, drawn as gaps): {', '.join(broken)}")

    linear_rnn_demo()


def linear_rnn_demo() -> None:
    """The classic exploding-gradient run: trained as a job (its own process, like every run), its
    curve drawn live from the store."""
    run_id = st.session_state.get("lr_run")
    try:
        progress = RunControl(store, run_id).progress() if run_id is not None else None
    except KeyError:  # deleted meanwhile
        run_id = progress = st.session_state.lr_run = None
    with st.expander("Train the linear RNN on counting (the classic exploding-gradient run)",
                     expanded=run_id is not None):
        a, b, c = st.columns(3)
        t_len = a.select_slider("Length", [10, 20, 40], value=40, key="lr_len")
        epochs = b.slider("Epochs", 5, 60, 30, key="lr_epochs")
        lr = c.select_slider("Learning rate", [1e-3, 5e-3, 1e-2, 2e-2, 3e-2, 5e-2], value=3e-2, key="lr_lr")
        st.caption("Plain gradient descent from u = -2, w = 0, length 40 with 12 ones each: at learning rate 0.03 "
                   "w overshoots past 1 and the loss becomes inf near epoch 29; at 0.01 it creeps down safely.")
        running = progress is not None and progress.running
        go, stop, _ = st.columns([1, 1, 2])
        if go.button("Train", key="lr_go", icon=":material/play_arrow:", disabled=running, width="stretch"):
            job = LinearRnnJob(store, t_len, epochs, lr, target_ones=12 if t_len >= 40 else None).start()
            st.session_state.lr_run = job.run_id
            st.rerun()
        if running and stop.button("Stop", key="lr_stop", icon=":material/stop:", width="stretch"):
            RunControl(store, run_id).stop(wait=5)
            st.rerun()
        if run_id is not None:
            linear_rnn_run(run_id, progress)


def linear_rnn_run(run_id: int, progress: Progress) -> None:
    live = live_ui.live_run(store, run_id)
    shown = (progress.status, progress.paused, live_ui.refresh_every(progress))
    params = store.get_run(run_id).params

    @st.fragment(run_every=live_ui.refresh_every(progress))
    def curve() -> None:
        """The run's loss and weights so far (only the new rows are read; the figure is rebuilt only
        when rows came in), and its verdict once it has ended."""
        follower = live.follower
        follower.poll()
        p = follower.progress
        if (p.status, p.paused, live_ui.refresh_every(p)) != shown:
            st.rerun(scope="app")  # the Train / Stop buttons follow the run's state
        setting = (f"length {params['length']}, learning rate {params['lr']:g}"
                   + (f", {params['target_ones']} ones each" if params.get("target_ones") is not None else ""))
        if p.running:
            what = "starting its process" if p.state == "starting" else f"epoch {p.epoch} of {p.epochs}"
            st.progress(p.done_fraction, text=f"Run {run_id} ({setting}): {what}...")
        metrics = follower.metrics
        if not metrics.empty:
            diverged_at = p.epoch if p.status == "diverged" else None
            st.plotly_chart(live.figure("lr_curve", (follower.rows, diverged_at), lambda: linear_rnn_figure(
                metrics, diverged_at)), key="lr_curve")
        final = p.final
        if p.status == "diverged":
            st.error(f"Run {run_id} ({setting}) diverged: {p.message}", icon=":material/error:")
        elif p.status == "completed":
            st.success(f"Run {run_id} ({setting}) trained {p.epoch} epochs: final loss {final['loss']:.4g}, "
                       f"u = {final['u']:.3f}, w = {final['w']:.3f} (ideal: u = 1, w = 1).",
                       icon=":material/check_circle:")
        elif not p.running:
            st.warning(f"Run {run_id} ({setting}) {p.status}: {p.message}", icon=":material/pause_circle:")

    curve()


def linear_rnn_figure(metrics, diverged_at: int | None):
    loss = metrics[metrics.name == "loss"]
    u, w = metrics[metrics.name == "u"], metrics[metrics.name == "w"]
    return charts.linear_rnn_curves(loss.step.to_numpy(), loss.value.to_numpy(dtype=float), u.step.to_numpy(),
                                    u.value.to_numpy(dtype=float), w.value.to_numpy(dtype=float), diverged_at)


{"Trained models": trained_models_view, "MiniLM (pretrained)": minilm_view,
 "Positional encodings": positions_view, "Recurrent": recurrent_view}[view]()
