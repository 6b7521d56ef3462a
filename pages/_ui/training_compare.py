"""The Training page's comparison: runs overlaid (loss per step, the main validation metric and the
validation loss per epoch, settings and final values in a table), then one run's CSV or its deletion.

The run on show is followed by the live view above it; other running runs (e.g. from the CLI) are
followed here, at a slower pace.
"""
from __future__ import annotations

import streamlit as st

from engine.core.runs import Run, RunStore
from engine.training.curves import compared_metric
from pages._ui import live as live_ui
from pages._ui import training_charts as charts
from pages._ui.training_views import Look, select_run

COMPARE_REFRESH_S = 5.0  # the comparison follows running runs (e.g. from the CLI) at this pace


def compare_runs(store: RunStore, run_id: int | None, look: Look) -> None:
    others_running = any(r.status == "running" and r.id != run_id for r in store.list_runs())
    st.fragment(run_every=COMPARE_REFRESH_S if others_running else None)(compare_fragment)(store, run_id, look)


def compare_fragment(store: RunStore, run_id: int | None, look: Look) -> None:
    all_runs = store.list_runs()
    if not all_runs:
        st.caption("Finished and running runs (from this page or the CLI) are listed here.")
        return
    # Options are the labels themselves (plain strings serialise cleanly); ids are read back from them.
    # No status in the label: it changes while a run trains, and a selected label must stay valid.
    labels = {f"#{r.id} {r.model} on {r.dataset}": r.id for r in all_runs}
    default = [label for label, i in labels.items() if i == run_id] or [next(iter(labels))]
    # Keyed by the current run: a new run starts a fresh overlay that contains it.
    chosen = [labels[label] for label in st.multiselect("Runs to overlay", list(labels), default=default,
                                                        key=f"compare_{run_id}")]
    if chosen:
        overlay(store, chosen, look)
    manage(store, all_runs, labels, run_id)


def overlay(store: RunStore, chosen: list[int], look: Look) -> None:
    """The chosen runs' curves on shared charts, and their settings and final values."""
    followers = [live_ui.live_run(store, i).follower for i in chosen]
    for follower in followers:
        follower.poll()
    smoothing, log_y = look.smoothing, look.log_y
    version = (tuple(chosen), tuple(f.rows for f in followers), smoothing, log_y)
    view = live_ui.live_run(store, chosen[0])
    runs = [(f"#{f.run_id}", f.metrics) for f in followers]
    charts.show(view.figure("cmp_steps", version, lambda: charts.step_loss_figure(
        [(f"#{f.run_id}", f.steps.step.to_numpy(dtype=float), f.steps.value.to_numpy(dtype=float),
          f.smoothed_loss(smoothing)) for f in followers], "step", log_y)), "cmp_steps")
    left, right = st.columns(2)
    primary = compared_metric([m for _, m in runs])
    charts.show(view.figure("cmp_acc", version, lambda: charts.epoch_figure(
        runs, (primary,), primary.replace("_", " ").capitalize(), "epoch")), "cmp_acc", left)
    charts.show(view.figure("cmp_loss", version, lambda: charts.epoch_figure(
        runs, ("val_loss",), "Validation loss", "epoch")), "cmp_loss", right)
    chosen_runs = [store.get_run(i) for i in chosen]
    st.dataframe([{"run": r.id, "status": r.status, **{k: v for k, v in r.params.items() if k != "dataset_options"},
                   **{f"final {k}": v for k, v in r.final.items()}} for r in chosen_runs], hide_index=True)


def manage(store: RunStore, all_runs: list[Run], labels: dict[str, int], run_id: int | None) -> None:
    """One run's metrics as CSV, or its deletion (not while it runs)."""
    pick = labels[st.selectbox("Run", list(labels), key="manage_run")]
    csv_col, delete_col = st.columns(2)
    # Made when clicked, not on every refresh: a long run's CSV is megabytes.
    csv_col.download_button("Download metrics (CSV)", lambda: store.export_csv(pick), file_name=f"run-{pick}-metrics.csv",
                            mime="text/csv", icon=":material/download:")
    picked = next(r for r in all_runs if r.id == pick)
    if picked.status == "running":
        delete_col.caption("A running run cannot be deleted: stop it first.")
        return
    sure = delete_col.checkbox(f"Yes, delete run {pick} and its checkpoints", key=f"confirm_delete_{pick}")
    if delete_col.button("Delete run", icon=":material/delete:", disabled=not sure):
        store.delete_run(pick)
        if pick == run_id:
            select_run(None)
        st.rerun()
