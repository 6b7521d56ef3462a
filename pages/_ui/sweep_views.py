"""The Training page's Sweep tab: build a sweep from the page's own sliders, start it, watch its trials.

The settings on the left are every trial's; here a person picks which of them vary, and gives each
its values ("0.001, 0.01, 0.1") or a range to sample ("1e-4:1", log-uniform on a log slider). The
sweep runs in a process of its own (engine.sweep.job.SweepJob.start: Ray Tune inside), like a run;
this tab polls the store for its trials: a live table (status, values, best metric, a link to each
run), a heatmap of the metric over two varied settings, parallel coordinates over all of them, and
the best run's curves. Sweeps started from the CLI are listed too, and Stop stops any of them.
"""
from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from engine.core.params import Param, ParamError
from engine.core.registry import TRAINING_PARAMS, RunConfig, get_spec
from engine.core.runs import RunStore
from engine.core.sweep_records import Sweep
from engine.training.curves import other_epoch_metrics
from engine.sweep import results
from engine.sweep.job import SweepControl, SweepJob, default_parallel
from engine.sweep.spec import default_metric, make_spec, parse_grid, parse_ranges
from pages._ui import training_charts as charts
from pages._ui.run_link import run_url
from pages._ui.safe_markdown import escape_markdown

LIVE_S = 1.0  # the trials table's pace while the sweep runs
# Settings that make no sense to sweep (retention, determinism): not offered.
NOT_SWEPT = ("keep_last", "keep_every", "keep_best", "deterministic")


def sweepable(model: str) -> list[Param]:
    return [p for p in (*get_spec(model).params, *TRAINING_PARAMS) if p.name not in NOT_SWEPT]


def default_values(param: Param, value) -> str:
    """A first guess at the values to try, around the slider's value."""
    if param.kind == "choice":
        return ", ".join(str(c) for c in param.choices)
    if param.kind == "bool":
        return "false, true"
    if param.log and value:
        factor = 4 if param.kind == "int" else 10
        guesses = [value / factor, value, value * factor]
    else:
        guesses = [param.low, value, param.high]
    inside = sorted({min(max(v, param.low), param.high) for v in guesses})
    return ", ".join(f"{int(round(v))}" if param.kind == "int" else f"{v:g}" for v in inside)


def sweep_builder(store: RunStore, config: RunConfig | None, problem: str | None) -> None:
    """Which settings vary and how, the search, and Start sweep."""
    if config is None:
        st.info(f"Set the model and the data on the left first: {escape_markdown(problem or '')}",
                icon=":material/arrow_back:")
        return
    st.caption(f"Every trial is a run of **{config.model}** on **{escape_markdown(config.dataset)}** with the "
               "settings on the left, except those you vary here.")
    params = {p.name: p for p in sweepable(config.model)}
    resolved = {**config.model_params, **config.training}
    # The settings in use (momentum only with a momentum optimiser): validate refuses the others.
    current = {p.name: resolved[p.name] for p in (*get_spec(config.model).params, *TRAINING_PARAMS)
               if p.applies(resolved)}
    varied = st.multiselect("Vary", list(params), default=[n for n in ("lr",) if n in params], key="sweep_vary",
                            format_func=lambda n: params[n].title)
    grid, ranges = {}, {}
    for name in varied:
        param = params[name]
        text = st.text_input(f"{param.title}: values, or low:high to sample", key=f"sweep_values.{config.model}.{name}",
                             value=default_values(param, resolved[name]),
                             help="comma-separated values for a grid; a range low:high is sampled "
                                  "(log-uniformly on a log slider) by random or TPE search")
        (ranges if ":" in text else grid)[name] = text
    search_col, trials_col, parallel_col = st.columns(3)
    search = search_col.selectbox("Search", ["grid", "random", "tpe"], key="sweep_search",
                                  index=1 if ranges else 0,
                                  help="grid: every combination; random: samples; tpe: Optuna's TPE sampler")
    trials = trials_col.number_input("Trials (random, TPE)", 1, 1000, 8, key="sweep_trials",
                                     disabled=search == "grid")
    parallel = parallel_col.number_input("At once", 1, 64, default_parallel(), key="sweep_parallel",
                                         help="trials trained at the same time (each in its own process)")
    metric_col, prune_col = st.columns(2)
    metrics = ["val_acc", "val_loss", "train_loss"]
    metric = metric_col.selectbox("Rank by", metrics, key="sweep_metric",
                                  index=metrics.index(default_metric(config.dataset)[0]))
    prune = prune_col.selectbox("Prune trials that fall behind", ["no", "asha", "median"], key="sweep_prune",
                                help="after each epoch, stop the trials whose metric is behind the others' "
                                     "(ASHA: asynchronous successive halving)")
    if st.button("Start sweep", type="primary", icon=":material/play_arrow:", key="sweep_start"):
        try:
            spec = make_spec(config.model, config.dataset, current, config.dataset_options,
                             grid=parse_grid([f"{n}={v}" for n, v in grid.items()]),
                             ranges=parse_ranges([f"{n}={v}" for n, v in ranges.items()]), search=search,
                             trials=None if search == "grid" else int(trials),
                             metric=metric,  # its mode follows from it (make_spec)
                             prune=None if prune == "no" else prune, parallel=int(parallel))
        except ParamError as err:
            st.error(f"Not started: {escape_markdown(err)}", icon=":material/block:")
            return
        select_sweep(SweepJob(spec, store).start().sweep_id)
        st.rerun()


def select_sweep(sweep_id: int | None) -> None:
    st.session_state.sweep_id = sweep_id
    if sweep_id is None:
        st.query_params.pop("sweep", None)
    else:
        st.query_params["sweep"] = str(sweep_id)


def chosen_sweep(store: RunStore) -> Sweep | None:
    """The sweep on show: this session's, the URL's, else the newest; picked from every sweep in the store."""
    sweeps = store.list_sweeps(limit=50)
    if not sweeps:
        return None
    if "sweep_id" not in st.session_state and str(st.query_params.get("sweep", "")).isdigit():
        st.session_state.sweep_id = int(st.query_params["sweep"])
    ids = [s.id for s in sweeps]
    if st.session_state.get("sweep_id") not in ids:
        st.session_state.sweep_id = ids[0]
    by_id = {s.id: s for s in sweeps}
    picked = st.selectbox("Sweep", ids, key="sweep_id", format_func=lambda i: _label(by_id[i]))
    return by_id[picked]


def _label(sweep: Sweep) -> str:
    spec = sweep.spec
    return (f"Sweep {sweep.id}: {spec['model']} on {spec['dataset']}, {spec['search']} over "
            f"{', '.join([*spec.get('grid', {}), *spec.get('ranges', {})])}")


def sweep_tab(store: RunStore, config: RunConfig | None, problem: str | None) -> None:
    with st.expander("New sweep", expanded=not store.list_sweeps(limit=1)):
        sweep_builder(store, config, problem)
    sweep = chosen_sweep(store)
    if sweep is None:
        st.info("No sweeps yet: choose what to vary above and press **Start sweep**, or from a terminal: "
                "`python -m engine sweep --model mlp --dataset spiral --grid lr=1e-3,1e-2,1e-1 --grid width=4,16,64`.",
                icon=":material/info:")
        return
    running = sweep.running
    if st.button("Stop sweep", icon=":material/stop:", key="sweep_stop", disabled=not running):
        SweepControl(store, sweep.id).stop()
    st.fragment(run_every=LIVE_S if running else None)(sweep_live)(store, sweep.id, running)


def sweep_live(store: RunStore, sweep_id: int, was_running: bool) -> None:
    """Polls the store: the sweep's status, its trials, the pictures; redraws the page when it ends."""
    sweep = store.get_sweep(sweep_id)
    status = SweepControl(store, sweep_id).status()
    if (status == "running") != was_running:
        st.rerun(scope="app")
    trials = results.sweep_trials(store, sweep)
    best = results.best_trial(trials, sweep.mode)
    counts = {s: sum(t.run.status == s for t in trials) for s in dict.fromkeys(t.run.status for t in trials)}
    st.markdown(f"**Sweep {sweep.id}** · **{status}** · {len(trials)} of {sweep.spec['trials']} trial(s) started"
                + (" (" + ", ".join(f"{n} {s}" for s, n in counts.items()) + ")" if counts else "")
                + (f" · best: run {best.run.id}, {sweep.metric} {best.best:.4f}" if best else ""))
    if sweep.message and status != "running":
        (st.error if status == "failed" else st.caption)(escape_markdown(sweep.message))
    if not trials:
        st.caption("Starting Ray and the first trials...")
        return
    trials_table(trials, sweep)
    varied = [*sweep.spec.get("grid", {}), *sweep.spec.get("ranges", {})]
    scored = [t for t in trials if t.best is not None]
    if len(varied) >= 2 and scored:
        x_col, y_col = st.columns(2)
        x = x_col.selectbox("Heatmap across", varied, index=0, key="sweep_heat_x")
        y = y_col.selectbox("and", [v for v in varied if v != x], index=0, key="sweep_heat_y")
        st.plotly_chart(heatmap_figure(scored, x, y, sweep), key="sweep_heatmap")
        st.plotly_chart(parallel_figure(scored, varied, sweep), key="sweep_parcoords")
    elif scored:
        st.plotly_chart(one_param_figure(scored, varied[0], sweep), key="sweep_one")
    if best is not None:
        best_curves(store, best)


def trials_table(trials: list[results.Trial], sweep: Sweep) -> None:
    frame = results.trials_frame(trials, sweep)
    frame.insert(1, "open", [run_url(t.run) for t in trials])
    st.dataframe(frame, hide_index=True, width="stretch", key="sweep_trials_table", placeholder="—",
                 column_config={"open": st.column_config.LinkColumn("open", display_text="open run",
                                                                    help="the run on its page"),
                                f"best {sweep.metric}": st.column_config.NumberColumn(format="%.4f")})


def _axis(values: list) -> tuple[list[str], dict]:
    """Category labels in value order (numbers by size), and where each value sits."""
    distinct = sorted(set(values), key=lambda v: (not isinstance(v, (int, float)), v if isinstance(v, (int, float))
                                                   else str(v)))
    labels = [f"{v:g}" if isinstance(v, float) else str(v) for v in distinct]
    return labels, {v: i for i, v in enumerate(distinct)}


def heatmap_figure(trials: list[results.Trial], x: str, y: str, sweep: Sweep) -> go.Figure:
    """The metric over two settings: each cell the best of the trials with those two values."""
    x_labels, x_at = _axis([t.values[x] for t in trials])
    y_labels, y_at = _axis([t.values[y] for t in trials])
    z = np.full((len(y_labels), len(x_labels)), np.nan)
    better = max if sweep.mode == "max" else min
    for t in trials:
        i, j = y_at[t.values[y]], x_at[t.values[x]]
        z[i, j] = t.best if math.isnan(z[i, j]) else better(z[i, j], t.best)
    text = [["" if math.isnan(v) else f"{v:.3f}" for v in row] for row in z]
    cells = [[None if math.isnan(v) else float(v) for v in row] for row in z]  # a cell no trial reached: blank
    fig = go.Figure(go.Heatmap(z=cells, x=x_labels, y=y_labels, text=text, texttemplate="%{text}",
                               colorscale="Viridis", reversescale=sweep.mode == "min",
                               colorbar=dict(title=sweep.metric),
                               hovertemplate=f"{x} %{{x}}<br>{y} %{{y}}<br>{sweep.metric} %{{z:.4f}}<extra></extra>"))
    fig.update_layout(title=f"Best {sweep.metric} by {x} and {y}", height=380, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(title=x, type="category"), yaxis=dict(title=y, type="category"))
    return fig


def parallel_figure(trials: list[results.Trial], varied: list[str], sweep: Sweep) -> go.Figure:
    """Parallel coordinates: one line per trial through each varied setting to its metric."""
    dimensions = []
    for name in varied:
        values = [t.values[name] for t in trials]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            log = min(values) > 0 and max(values) / min(values) >= 100
            shown = [math.log10(v) for v in values] if log else values
            dimensions.append(dict(label=f"log10 {name}" if log else name, values=shown))
        else:
            labels, at = _axis(values)
            dimensions.append(dict(label=name, values=[at[v] for v in values], tickvals=list(range(len(labels))),
                                   ticktext=labels))
    scores = [t.best for t in trials]
    dimensions.append(dict(label=sweep.metric, values=scores))
    fig = go.Figure(go.Parcoords(dimensions=dimensions, line=dict(color=scores, colorscale="Viridis",
                                                                  reversescale=sweep.mode == "min", showscale=True)))
    fig.update_layout(title="Every trial across the varied settings", height=380, margin=dict(l=40, r=40, t=90, b=20))
    return fig


def one_param_figure(trials: list[results.Trial], name: str, sweep: Sweep) -> go.Figure:
    labels, at = _axis([t.values[name] for t in trials])
    fig = go.Figure(go.Scatter(x=[labels[at[t.values[name]]] for t in trials], y=[t.best for t in trials],
                               mode="markers", marker=dict(size=10)))
    fig.update_layout(title=f"Best {sweep.metric} by {name}", height=320, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(title=name, type="category"), yaxis_title=sweep.metric)
    return fig


def best_curves(store: RunStore, best: results.Trial) -> None:
    st.markdown(f"**The best run so far: run {best.run.id}** ({best.run.status}) · [open it]({run_url(best.run)})")
    metrics = store.metrics(best.run.id)
    runs = [(f"run {best.run.id}", metrics)]
    left, right = st.columns(2)
    others = other_epoch_metrics(metrics)  # accuracy, or a regression's or a VAE's own metrics
    charts.show(charts.epoch_figure(runs, ("train_loss", "val_loss"), "Loss per epoch", "epoch"), "sweep_best_loss", left)
    charts.show(charts.epoch_figure(runs, others, "Accuracy per epoch" if others == ("train_acc", "val_acc")
                                    else "Metrics per epoch", "epoch"), "sweep_best_acc", right)
