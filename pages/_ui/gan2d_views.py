"""The GAN on 2D points, drawn as GAN Lab draws it: the discriminator's probability field as the
background, the real points, the generated points and the generator's manifold (the image of a
grid of z values, as lines), redrawn live while it trains; its losses, KL / JS and modes covered
per epoch (or per click); Start / Stop, and GAN Lab's Step D / Step G / Step both.

It trains in a process of its own: with Start through the Trainer (engine.core.trainer), by hand
through engine.latent.gan_session. Both save the model's live frame (engine.objectives.gan2d) in the
run store; this view polls `store.frame_step` (one tiny query) and rebuilds the picture only when
a new frame has come.

The Latent space page shows it as its "GAN on 2D points" view (`gan2d_section`); the Training page
draws a gan2d run's plane with `live_frame_view`.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from engine.core.jobs import Progress, RunControl
from engine.core.params import ParamError
from engine.core.registry import TRAINING_PARAMS, RunConfig, get_spec, validate
from engine.core.runs import Run, RunStore
from engine.core.trainer import start_training
from engine.data import get_info, list_datasets, load_dataset
from engine.latent import gan_session
from engine.objectives import gan2d_measures as measures
from pages._ui import live as live_ui
from pages._ui.params_ui import param_inputs
from pages._ui.plane import b64, draw_plane, point_arrays, quantised
from pages._ui.safe_markdown import escape_markdown

MODEL = "gan2d"
RUN_KEY = "gan2d_run"                 # st.session_state: the run this view shows
FRAME_POLL_S = 0.3                    # frames come every 0.2 s while it trains: poll about as often
STEPS_PER_CLICK = (1, 10, 100, 500)
SHOWN_TRAINING = ("batch_size", "epochs", "seed")  # the rest of the training settings are unused or rare
DEFAULT_EPOCHS = 30                   # 3,750 steps: the ring is covered in the first few hundred
# GAN Lab's colours: green is real, purple is fake (the field: D's belief, the dots: the points).
REAL, FAKE, MANIFOLD = "#1b7837", "#762a83", "rgba(118, 42, 131, 0.45)"
FIELD_COLOURS = [[0.0, "#c2a5cf"], [0.5, "#f7f7f7"], [1.0, "#a6dba0"]]
PLANE_PX = 520
# The Latent space page's two views. A bound widget puts its option's text in the URL (?view=...),
# so the options are the words shown.
IMAGES_VIEW, POINTS_VIEW = "Images: VAEs and GANs", "GAN on 2D points"  # the image GANs: DCGAN and WGAN


# ---- figures ---------------------------------------------------------------------------------------
def plane_data(arrays: dict[str, np.ndarray], step: int, height: int = PLANE_PX) -> dict:
    """The live frame as the plane canvas (pages/_ui/plane.py) draws it: D's field, the manifold's
    lines, real and fake points. A canvas, not a chart: a chart whose data changes is a new element
    in Streamlit, and the browser showed a blank plot while it rebuilt one at every frame."""
    real, fake = arrays["real"], arrays.get("fake", np.zeros((0, 2), np.float32))
    data = {"step": step, "extent": [float(v) for v in arrays["plane"]], "range": [0.0, 1.0],
            "height": height, "scale": [FIELD_COLOURS[0][1], FIELD_COLOURS[1][1], FIELD_COLOURS[2][1]],
            "label": "D: real", "classes": ["real", "fake"], "colours": [REAL, FAKE], "plain": True,
            "train": point_arrays(np.concatenate([real, fake]), np.r_[np.zeros(len(real)), np.ones(len(fake))]),
            "test": None, "surface": None, "lines": None}
    if "field_p" in arrays:
        q = quantised(arrays["field_p"], 0.0, 1.0, discretise=False)
        data["surface"] = {"nx": int(q.shape[1]), "ny": int(q.shape[0]), "q": b64(q)}
    if "manifold" in arrays:
        lines = np.asarray(arrays["manifold"], np.float32)
        data["lines"] = {"xy": b64(lines.reshape(-1)), "n": int(lines.shape[0]), "m": int(lines.shape[1]),
                         "colour": MANIFOLD, "label": "manifold (G of a z grid)"}
    return data


def plane_figure(arrays: dict[str, np.ndarray], height: int = PLANE_PX) -> go.Figure:
    """The live frame as GAN Lab draws it: D's field, the manifold's lines, real and fake points."""
    x0, x1, y0, y1 = (float(v) for v in arrays["plane"])
    fig = go.Figure()
    if "field_p" in arrays:
        fig.add_heatmap(x=arrays["field_x"], y=arrays["field_y"], z=arrays["field_p"].astype(np.float32),
                        zmin=0, zmax=1, colorscale=FIELD_COLOURS, name="D(x)",
                        colorbar=dict(title="D: real", thickness=10, len=0.6, tickvals=[0, 0.5, 1]),
                        hovertemplate="D(x) = %{z:.2f}<extra></extra>")
    if "manifold" in arrays:
        lines = arrays["manifold"]
        gaps = np.full((len(lines), 1, 2), np.nan, dtype=np.float32)  # one trace: lines split by gaps
        joined = np.concatenate([lines, gaps], axis=1).reshape(-1, 2)
        fig.add_scatter(x=joined[:, 0], y=joined[:, 1], mode="lines", name="manifold (G of a z grid)",
                        line=dict(color=MANIFOLD, width=1), hoverinfo="skip", connectgaps=False)
    fig.add_scattergl(x=arrays["real"][:, 0], y=arrays["real"][:, 1], mode="markers", name="real",
                      marker=dict(size=4, color=REAL, opacity=0.6), hoverinfo="skip")
    if "fake" in arrays:
        fig.add_scattergl(x=arrays["fake"][:, 0], y=arrays["fake"][:, 1], mode="markers", name="fake",
                          marker=dict(size=4, color=FAKE, opacity=0.8), hoverinfo="skip")
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=10, b=10), uirevision="plane",
                      legend=dict(orientation="v", y=1, x=0, xanchor="right"), plot_bgcolor="white")
    fig.update_xaxes(range=[x0, x1], showgrid=False, zeroline=False, constrain="domain")
    fig.update_yaxes(range=[y0, y1], showgrid=False, zeroline=False, scaleanchor="x", scaleratio=1,
                     constrain="domain")
    return fig


@st.cache_data(max_entries=16, show_spinner=False)
def target_arrays(dataset: str, options: dict) -> dict[str, np.ndarray]:
    """The target alone (before any run): its training points, on the plane a run will use."""
    data = load_dataset(dataset, options)
    real = np.concatenate([data.x_train.numpy(), data.x_val.numpy()])
    return {"real": data.x_train.numpy(), "plane": measures.plane_of(real).as_array()}


def frame_words(arrays: dict[str, np.ndarray]) -> tuple[str | None, str, str]:
    """(how the coverage reads: "success" | "warning" | "info" | None, the sentence, the numbers line)."""
    numbers = ""
    if "divergence" in arrays:
        kl, js = (float(v) for v in arrays["divergence"])
        numbers = f"KL(real ‖ fake) {kl:.2f} · JS {js:.3f} nats (0: the same; JS ln 2 = 0.693: no overlap)"
    if "coverage" not in arrays:
        return None, "", numbers
    covered, total, quality = (float(v) for v in arrays["coverage"])
    sentence = measures.coverage_sentence(int(covered), int(total), quality)
    kind = "success" if covered >= total else "warning" if quality >= measures.COLLAPSE_QUALITY else "info"
    return kind, sentence, numbers


def _series(metrics: pd.DataFrame, name: str) -> pd.DataFrame:
    return metrics[metrics.name == name].dropna(subset=["value"])


def curve_figures(metrics: pd.DataFrame) -> list[go.Figure]:
    """D and G losses (per step by hand, per epoch from the Trainer), KL and JS, modes covered."""
    figures = []
    hand = (metrics.name == "d_loss").any() or (metrics.name == "g_loss").any()
    losses = ("d_loss", "g_loss") if hand else ("train_d_loss", "train_g_loss")
    if metrics.name.isin(losses).any():  # none before the first step (or epoch)
        fig = go.Figure()
        for name, label, colour in zip(losses, ("D loss", "G loss"), ("#2c7bb6", "#d7191c")):
            rows = _series(metrics, name)
            fig.add_scatter(x=rows.step.to_numpy(), y=rows.value.to_numpy(), mode="lines", name=label,
                            line=dict(color=colour))
        figures.append(_small(fig, "D and G losses"))
    kl, js = _series(metrics, "val_kl"), _series(metrics, "val_js")
    if not kl.empty:
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        fig.add_scatter(x=kl.step.to_numpy(), y=kl.value.to_numpy(), mode="lines+markers", name="KL(real ‖ fake)",
                        marker=dict(size=4), line=dict(color="#5e3c99"))
        fig.add_scatter(x=js.step.to_numpy(), y=js.value.to_numpy(), mode="lines+markers", name="JS",
                        marker=dict(size=4), line=dict(color="#e66101"), secondary_y=True)
        fig.update_yaxes(title_text="KL, nats", rangemode="tozero", secondary_y=False)
        fig.update_yaxes(title_text="JS, nats", range=[0, 0.7], tickmode="linear", dtick=0.2, showgrid=False,
                         secondary_y=True)
        figures.append(_small(fig, "Real vs fake"))
    covered = _series(metrics, "val_modes_covered")
    if not covered.empty:
        total = float(_series(metrics, "val_modes").value.iloc[-1])
        fig = go.Figure()
        fig.add_scatter(x=covered.step.to_numpy(), y=covered.value.to_numpy(), mode="lines+markers",
                        name="modes covered", line=dict(color=REAL, shape="hv"), marker=dict(size=4))
        fig.add_hline(y=total, line=dict(color="grey", dash="dot"))
        fig.update_yaxes(range=[-0.3, total + 0.5])
        figures.append(_small(fig, f"Modes covered (of {total:.0f})"))
    return figures


def _small(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(title=title, height=240, margin=dict(l=10, r=10, t=35, b=10),
                      legend=dict(orientation="h", y=-0.2), showlegend=True)
    # The x axis is the step (said under the curves); a lone point at step 0 gets a range of whole steps.
    steps = [x for trace in fig.data for x in (trace.x if trace.x is not None else ())]
    fig.update_xaxes(title=None, tickformat="~s", rangemode="nonnegative", nticks=4,
                     range=[0, 10] if not steps or max(steps) < 10 else None)
    return fig


# ---- the live plane: also for the Training page -----------------------------------------------------
def live_frame_view(store: RunStore, run_id: int, key: str = "gan2d_plane", view: live_ui.LiveRun | None = None) -> bool:
    """Draw a gan2d run's newest live frame (the plane, the coverage sentence, KL and JS); returns
    False, with a line that says so, while it has none yet. Call it in a fragment that reruns while
    the run trains: the picture is rebuilt only when a new frame has come (`store.frame_step`)."""
    view = view or live_ui.live_run(store, run_id)
    step = store.frame_step(run_id)
    if step is None:
        st.info("The generator's first picture appears as soon as its process has built the model.",
                icon=":material/hourglass_top:")
        return False
    data, words = view.figure(f"{key}_frame", step, lambda: _frame_parts(store, run_id, step))
    draw_plane(data, key=key)
    kind, sentence, numbers = words
    if kind is not None:
        {"success": st.success, "warning": st.warning, "info": st.info}[kind](
            sentence, icon={"success": ":material/check_circle:", "warning": ":material/warning:",
                            "info": ":material/timelapse:"}[kind])
    st.caption(f"Step {step:,} · {numbers}" if numbers else f"Step {step:,}")
    return True


def _frame_parts(store: RunStore, run_id: int, step: int):
    found = store.frame(run_id)
    arrays = found[1] if found is not None else {}
    return (plane_data(arrays, step) if "real" in arrays else {}), frame_words(arrays)


# ---- the section on the Latent space page -----------------------------------------------------------
def chosen_view() -> str:
    """The Latent space page's view: its image models, or the GAN on 2D points (in the URL as ?view=)."""
    return st.segmented_control("View", (IMAGES_VIEW, POINTS_VIEW), default=IMAGES_VIEW, required=True,
                                key="view", bind="query-params", label_visibility="collapsed")


def gan2d_section(store: RunStore) -> None:
    """Settings and buttons on the left; the run's plane and curves on the right."""
    st.subheader("GAN on 2D points")
    st.caption("GAN Lab's view with PyTorch models: the background is the discriminator's belief that a point is "
               "real (green) or fake (purple); green dots are real points, purple ones the generator's from fixed "
               "noise, and the lines are the generator's manifold: where it sends a grid of z values. Train it with "
               "**Start**, or step D and G by hand.")
    run_id, run, progress = current_run(store)
    left, main = st.columns([1, 2.3], gap="large")
    with left:
        config, dataset, options = settings_form()
        buttons(store, config, run, progress)
    with main:
        if run is None:
            st.info("Press **Start** to train on this target (the generator spreads over the ring within seconds), "
                    "or **New hand GAN** to step it yourself.", icon=":material/arrow_back:")
            if dataset is not None:
                st.plotly_chart(plane_figure(target_arrays(dataset, options), height=420), key="gan2d_target",
                                config={"displayModeBar": False})
        else:
            follow(store, run, progress)


def current_run(store: RunStore) -> tuple[int | None, Run | None, Progress | None]:
    run_id = st.session_state.get(RUN_KEY)
    if run_id is None:
        return None, None, None
    try:
        run = store.get_run(run_id)
    except KeyError:  # deleted elsewhere
        st.session_state[RUN_KEY] = None
        return None, None, None
    return run_id, run, RunControl(store, run_id).progress()


def settings_form() -> tuple[RunConfig | None, str | None, dict]:
    """Target, the model's sliders, a few training settings and the target's own; the validated
    config (None, with the reason shown, when the values do not fit together)."""
    spec = get_spec(MODEL)
    infos = sorted((i for i in list_datasets() if i.kind in spec.data_kinds), key=lambda i: i.kind != "distribution")
    titles = {i.name: i.title.removesuffix(" (GAN target, 2D)") for i in infos}  # the list says what they are
    dataset = st.selectbox("Target", list(titles), format_func=titles.get, key="g2_target", bind="query-params",
                           help="the distribution the generator learns to imitate: a GAN target, or any 2D "
                                "point set (its classes are ignored)")
    info = get_info(dataset)
    st.caption(escape_markdown(info.description))
    with st.expander("Model", expanded=True):
        model_values = param_inputs(spec.params, prefix=f"{MODEL}.")
    with st.expander("Training and data", expanded=False):
        shown = [replace(p, default=DEFAULT_EPOCHS) if p.name == "epochs" else p
                 for p in TRAINING_PARAMS if p.name in SHOWN_TRAINING]
        training_values = param_inputs(shown, prefix="g2.")
        options = param_inputs(info.params, prefix=f"g2.{dataset}.")
    try:
        return validate(MODEL, dataset, model_values | training_values, options), dataset, options
    except ParamError as err:
        st.error(str(err), icon=":material/block:")
        return None, dataset, {}


def buttons(store: RunStore, config: RunConfig | None, run: Run | None, progress: Progress | None) -> None:
    """Start / Stop (the Trainer), then New hand GAN and Step D / Step G / Step both (by hand)."""
    running = progress is not None and progress.running
    hand = run is not None and gan_session.is_hand_gan(run)
    busy = hand and running and gan_session.hand_gan_state(store, progress).busy
    start, stop = st.columns(2)
    if start.button("Start", type="primary", icon=":material/play_arrow:", disabled=config is None, width="stretch",
                    key="g2_start", help="train with these settings in a process of its own (a run on show that "
                                         "still trains is stopped first; its checkpoints are kept)"):
        _stop_if_running(store, run, running)
        st.session_state[RUN_KEY] = start_training(config, store).run_id
        st.rerun()
    if stop.button("Stop", icon=":material/stop:", disabled=not running, width="stretch", key="g2_stop"):
        RunControl(store, run.id).stop(wait=5)
        st.rerun()
    st.caption("Or by hand, as in GAN Lab: update only the discriminator, only the generator, or both.")
    if st.button("New hand GAN", icon=":material/back_hand:", disabled=config is None, width="stretch",
                 key="g2_new_hand", help="fresh weights with these settings, waiting for your clicks"):
        _stop_if_running(store, run, running)
        st.session_state[RUN_KEY] = gan_session.start_gan_session(config, store).run_id
        st.rerun()
    step_d, step_g = st.columns(2)
    step_both, per_click = st.columns(2)
    n = per_click.selectbox("Steps per click", STEPS_PER_CLICK, index=1, key="g2_per_click",
                            label_visibility="collapsed", format_func=lambda k: f"{k} per click")
    for col, what, text in ((step_d, "d", "Step D"), (step_g, "g", "Step G"), (step_both, "both", "Step both")):
        if col.button(text, disabled=not (hand and running) or busy, width="stretch", key=f"g2_step_{what}"):
            RunControl(store, run.id).step(n, what=what)
            st.rerun()


def _stop_if_running(store: RunStore, run: Run | None, running: bool) -> None:
    if run is not None and running:
        RunControl(store, run.id).stop(wait=5)


def follow(store: RunStore, run: Run, progress: Progress) -> None:
    """The run's plane and curves, followed live: at the frame pace while it trains or works on a
    click, slowly while a hand session waits, not at all once it has ended; the whole page is
    redrawn (its buttons) when that state changes."""
    hand = gan_session.is_hand_gan(run)
    busy = hand and progress.running and gan_session.hand_gan_state(store, progress).busy
    shown = (progress.status, progress.paused, busy)
    if not progress.running:
        every = None
    elif hand and not busy:
        every = live_ui.SLOW_S
    else:
        every = FRAME_POLL_S

    @st.fragment(run_every=every)
    def live_view(run_id: int):
        view = live_ui.live_run(store, run_id)
        follower = view.follower
        follower.poll()
        p = follower.progress
        now_busy = hand and p.running and gan_session.hand_gan_state(store, p).busy
        if (p.status, p.paused, now_busy) != shown:
            st.rerun(scope="app")
        status_line(run, p, hand)
        live_frame_view(store, run_id, view=view)
        figures = view.figure("gan2d_curves", follower.rows, lambda: curve_figures(follower.metrics))
        for i, (col, fig) in enumerate(zip(st.columns(3), figures)):
            col.plotly_chart(fig, key=f"gan2d_curve_{i}", config={"displayModeBar": False})
        st.caption("Curves against the training step: per epoch with Start, per click by hand. KL and JS compare "
                   "1,000 fakes from fixed noise with every real point (2D histograms, smoothed); a mode is covered "
                   "when a fifth of its fair share of the fakes lie within 3 standard deviations of it.")

    live_view(run.id)


def status_line(run: Run, p: Progress, hand: bool) -> None:
    what = "by hand" if hand else "with Start"
    st.markdown(f"**Run {run.id}**: the 2D GAN on {escape_markdown(run.dataset)}, trained {what} · **{p.status}**")
    if hand:
        final = p.final or {}  # the session's note says the counts while it waits ("waiting for a click (...)")
        st.caption(p.note if p.running and p.note else f"{final.get('d_steps', 0)} D steps and "
                                                      f"{final.get('g_steps', 0)} G steps")
        if not p.running and p.message:
            (st.success if p.status == "completed" else st.warning)(p.message)
    else:
        live_ui.progress_line(p, run.params.get("epochs", 1))
