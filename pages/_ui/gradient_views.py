"""Vanishing and exploding gradients, at the foot of the Attention page's Recurrent view: the gradient
norm a plain RNN's last state sends back to each earlier step, and the classic linear-RNN run whose
loss overflows, trained as a job (its own process, like every run) with its curve drawn live."""
from __future__ import annotations

import streamlit as st

from engine.attention.recurrent import gradient_flow
from engine.attention.rnn_demo import LinearRnnJob
from engine.core.jobs import Progress, RunControl
from engine.core.runs import RunStore
from pages._ui import attention_charts as charts
from pages._ui import live as live_ui
from pages._ui.attention_training import drawn_for


def gradient_flow_view(store: RunStore) -> None:
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

    linear_rnn_demo(store)


def linear_rnn_demo(store: RunStore) -> None:
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
            linear_rnn_run(store, run_id, progress)


def linear_rnn_run(store: RunStore, run_id: int, progress: Progress) -> None:
    live = live_ui.live_run(store, run_id)
    params = store.get_run(run_id).params
    setting = (f"length {params['length']}, learning rate {params['lr']:g}"
               + (f", {params['target_ones']} ones each" if params.get("target_ones") is not None else ""))
    st.fragment(linear_rnn_curve, run_every=live_ui.refresh_every(progress))(run_id, live, drawn_for(progress), setting)


def linear_rnn_curve(run_id: int, live: live_ui.LiveRun, shown: tuple, setting: str) -> None:
    """The run's loss and weights so far (only the new rows are read; the figure is rebuilt only
    when rows came in), and its verdict once it has ended."""
    follower = live.follower
    follower.poll()
    p = follower.progress
    if drawn_for(p) != shown:
        st.rerun(scope="app")  # the Train / Stop buttons follow the run's state
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


def linear_rnn_figure(metrics, diverged_at: int | None):
    loss = metrics[metrics.name == "loss"]
    u, w = metrics[metrics.name == "u"], metrics[metrics.name == "w"]
    return charts.linear_rnn_curves(loss.step.to_numpy(), loss.value.to_numpy(dtype=float), u.step.to_numpy(),
                                    u.value.to_numpy(dtype=float), w.value.to_numpy(dtype=float), diverged_at)
