"""Training: pick a model and dataset, set every knob, train, watch it learn, look inside, compare."""
from __future__ import annotations

import streamlit as st

from engine.data import get_info, list_datasets, load_dataset
from engine.inspection import confusion_matrix, decision_grid, flow_dot, misclassified, model_summary
from engine.params import ParamError
from engine.paths import runs_dir
from engine.registry import TRAINING_PARAMS, get_spec, list_specs, validate
from engine.runs import RunStore
from engine.train import active_jobs, build_model, load_trained, run_config, start_training
from pages._ui import training_charts as charts
from pages._ui import run_link
from pages._ui.nav import PAGES, page
from pages._ui.params_ui import param_inputs

REFRESH_S = 0.5  # live view refresh while a run trains (bench/live_updates.py measures its cost)
INSPECT_PAGES = {"cnn": "saliency.py", "resnet": "saliency.py"}  # models each inspection page can open
# Model families looked inside on their own page; classifiers are looked inside here.
FAMILY_PAGES = {"sequence": "attention.py", "generative": "latent.py"}


@st.cache_data(max_entries=32, show_spinner="Drawing the decision boundary...")
def boundary(store_root: str, run_id: int, epoch: int):
    model, data, _ = load_trained(RunStore(store_root), run_id, epoch)
    return decision_grid(model, data.x_train), data


@st.cache_data(max_entries=32)
def summary_of(store_root: str, run_id: int):
    """Layers, output shapes and parameter counts: they depend on the config, not on the weights."""
    config = run_config(RunStore(store_root).get_run(run_id).params)
    data = load_dataset(config.dataset, config.dataset_options)
    rows = model_summary(build_model(config, data), tuple(data.info.input_shape))
    return rows, flow_dot(rows)


@st.cache_data(max_entries=16, show_spinner="Classifying the validation set...")
def confusion(store_root: str, run_id: int, epoch: int):
    model, data, _ = load_trained(RunStore(store_root), run_id, epoch)
    matrix, predictions = confusion_matrix(model, data.x_val, data.y_val, data.num_classes)
    wrong = misclassified(predictions, data.y_val, limit=32)
    images = [data.x_val[i, 0].numpy() for i in wrong]
    captions = [f"pred {data.info.classes[predictions[i]]} / true {data.info.classes[data.y_val[i]]}" for i in wrong]
    return matrix, images, captions


st.title("Training")
st.caption("Every registered model, every setting, live curves. Settings live in the URL: share it to share the run setup.")
store = RunStore(runs_dir())
specs = {spec.name: spec for spec in list_specs()}
datasets = {info.name: info for info in list_datasets()}

# ---- settings ------------------------------------------------------------------------------------
settings, live = st.columns([1, 2], gap="large")
with settings:
    # Options are the registry names (not titles): a bound selectbox puts its label in the URL.
    model_name = st.selectbox("Model", list(specs), key="model", bind="query-params")
    spec = specs[model_name]
    choices = [name for name, info in datasets.items() if info.kind in spec.data_kinds]
    dataset_name = st.selectbox("Dataset", choices, key="dataset", bind="query-params")
    info = get_info(dataset_name)
    st.caption(f"**{spec.title}**: {spec.description}  \n**{info.title}**: {info.description}")
    with st.expander("Model", expanded=True):
        model_values = param_inputs(spec.params, prefix=f"{model_name}.")
    with st.expander("Training", expanded=True):
        training_values = param_inputs(TRAINING_PARAMS)
    dataset_values = {}
    if info.params:
        with st.expander("Data"):
            dataset_values = param_inputs(info.params, prefix=f"{dataset_name}.")
    try:
        config, problem = validate(model_name, dataset_name, model_values | training_values, dataset_values), None
    except ParamError as err:
        config, problem = None, str(err)
        st.error(problem, icon=":material/block:")

# ---- the current run: this session's, or the one named in the URL (a refresh reattaches) ----------
if "run_id" not in st.session_state and st.query_params.get("run", "").isdigit():
    st.session_state.run_id = int(st.query_params["run"])
run_id = st.session_state.get("run_id")
job = active_jobs().get(run_id) if run_id is not None else None


def select_run(run_id: int | None) -> None:
    run_link.select_run("run_id", run_id)


with live:
    start, step, stop, reset = st.columns(4)
    paused = job is not None and job.progress.paused
    if start.button("Resume" if paused else "Start", type="primary", icon=":material/play_arrow:",
                    disabled=(config is None and not paused) or (job is not None and not paused), width="stretch"):
        if paused:
            job.resume()
        else:
            select_run(start_training(config, store).run_id)
        st.rerun()
    if step.button("Step", icon=":material/skip_next:", help="train one epoch, then pause",
                   disabled=(config is None and not paused) or (job is not None and not paused), width="stretch"):
        if paused:
            job.step_epoch()
        else:
            select_run(start_training(config, store, pause_after_epoch=1).run_id)
        st.rerun()
    if stop.button("Stop", icon=":material/stop:", disabled=job is None, width="stretch"):
        job.stop()
        job.join(10)
        st.rerun()
    if reset.button("Reset", icon=":material/restart_alt:", help="stop, and start over with fresh weights",
                    width="stretch"):
        if job is not None:
            job.stop()
            job.join(10)
        select_run(None)
        st.rerun()

# ---- live view -----------------------------------------------------------------------------------
with live:
    view1, view2, view3 = st.columns(3)
    smoothing = view1.slider("Smoothing", 0.0, 0.99, 0.6, 0.01, help="exponential moving average, as in TensorBoard")
    x_mode = view2.radio("x axis", ["step", "epoch", "wall"], horizontal=True,
                         format_func=lambda m: {"step": "step", "epoch": "epoch", "wall": "time"}[m])
    log_y = view3.toggle("log-scale loss")

    if run_id is None:
        st.info("Set the model and the data on the left, then press **Start** (or **Step** for one epoch at a time).",
                icon=":material/arrow_back:")
    else:
        try:
            current = store.get_run(run_id)
        except KeyError:
            st.warning(f"Run {run_id} no longer exists.")
            select_run(None)
            current = None
        if current is not None and current.model not in specs:  # word vectors, trained by gensim
            target = next(p for p in PAGES if p.file == "embeddings.py")
            st.info(f"Run {run_id} is a {current.model} run on the {current.dataset} corpus, trained on the "
                    f"{target.title} page: its vectors are explored there.", icon=":material/info:")
            st.page_link(page(target), label=f"Open the {target.title} page", icon=":material/arrow_forward:")
            current = None

        @st.fragment(run_every=REFRESH_S if current is not None and current.status == "running" else None)
        def live_view(run_id: int, was_running: bool):
            run = store.get_run(run_id)
            if was_running and run.status != "running":
                st.rerun(scope="app")  # finished: redraw the whole page once, then stop polling
            job = active_jobs().get(run_id)
            progress = job.progress if job is not None else None
            metrics = store.metrics(run_id)
            epochs_total = run.params.get("epochs", 1)
            epochs_done = int(metrics.epoch[metrics.name == "epoch_time"].max()) if (metrics.name == "epoch_time").any() else 0

            st.markdown(f"**Run {run.id}**: {run.model} on {run.dataset} · **{run.status}**"
                        + (" (paused)" if progress is not None and progress.paused else ""))
            text = f"epoch {epochs_done}/{epochs_total}"
            if progress is not None and progress.samples_per_s:
                text += f" · {progress.samples_per_s:,.0f} samples/s"
            if progress is not None and progress.eta_s is not None and run.status == "running":
                text += f" · ETA {progress.eta_s:,.0f} s"
            done = epochs_done / max(epochs_total, 1)
            if progress is not None and progress.total_steps and run.status == "running":
                done = progress.step / progress.total_steps  # finer than epochs while it trains here
            st.progress(min(done, 1.0), text=text)
            if run.status in ("diverged", "failed"):
                st.error(run.message, icon=":material/error:")
            elif run.status in ("stopped", "interrupted"):
                st.warning(run.message, icon=":material/pause_circle:")
            elif run.status == "running" and job is None:
                st.caption("Trained by another process (e.g. the CLI): it updates here live; stop it there.")

            curves, inside, gradients, summary = st.tabs(["Curves", "Inside", "Gradient norms", "Model"])
            with curves:
                runs = [(f"run {run.id}", metrics)]
                st.plotly_chart(charts.step_loss_figure(runs, x_mode, smoothing, log_y), key="step_loss")
                left, right = st.columns(2)
                left.plotly_chart(charts.epoch_figure(runs, ("train_loss", "val_loss"), "Loss per epoch", x_mode, log_y),
                                  key="epoch_loss")
                others = charts.other_epoch_metrics(metrics)
                title = "Accuracy per epoch" if others == ("train_acc", "val_acc") else "Metrics per epoch"
                right.plotly_chart(charts.epoch_figure(runs, others, title, x_mode), key="epoch_acc")
            epochs = store.checkpoint_epochs(run_id)
            run_info = get_info(run.dataset)
            with inside:
                family = get_spec(run.model).family
                if family in FAMILY_PAGES:
                    target = next(p for p in PAGES if p.file == FAMILY_PAGES[family])
                    st.info(f"Look inside this {run.model} run on the {target.title} page.")
                    st.page_link(page(target), label=f"Open run {run_id} on the {target.title} page",
                                 query_params={"run": run_id}, icon=":material/arrow_forward:")
                elif not epochs:
                    st.info("The first epoch's checkpoint will appear here when it is saved.")
                elif run_info.kind == "points":
                    (xs, ys, probs), data = boundary(str(store.root), run_id, epochs[-1])
                    st.plotly_chart(charts.decision_figure(xs, ys, probs, data), key="boundary")
                    st.caption(f"After epoch {epochs[-1]}: redrawn at every epoch.")
                else:
                    matrix, images, captions = confusion(str(store.root), run_id, epochs[-1])
                    st.plotly_chart(charts.confusion_figure(matrix, run_info.classes), key="confusion")
                    st.markdown(f"**Misclassified validation images** (after epoch {epochs[-1]}, first {len(images)})")
                    if images:
                        st.image(images, caption=captions, width=72, clamp=True)
            with gradients:
                if (metrics.name.str.startswith("grad_norm/")).any():
                    st.plotly_chart(charts.grad_norm_figure(metrics), key="grad_norms")
                    st.caption("Norms that shrink layer by layer towards the input are vanishing gradients "
                               "(try sigmoid with depth 8).")
                else:
                    st.info("Gradient norms are recorded at the end of each epoch.")
            with summary:
                rows, dot = summary_of(str(store.root), run_id)
                st.dataframe([{"layer": r.name, "type": r.type, "output shape": str(r.output_shape),
                               "params": r.params} for r in rows], hide_index=True)
                st.caption(f"{sum(r.params for r in rows):,} parameters")
                st.graphviz_chart(dot)
            if run.status == "completed" and run.model in INSPECT_PAGES:
                target = next(p for p in PAGES if p.file == INSPECT_PAGES[run.model])
                st.page_link(page(target), label=f"Open run {run.id} on the {target.title} page",
                             icon=":material/arrow_forward:", query_params={"run": str(run.id)})

        if current is not None:
            live_view(current.id, current.status == "running")

# ---- compare runs --------------------------------------------------------------------------------
st.divider()
st.subheader("Compare runs")
any_running = any(r.status == "running" for r in store.list_runs())


# Refreshes by itself while any run trains, so runs started from the CLI show up and grow live.
@st.fragment(run_every=2 * REFRESH_S if any_running else None)
def compare_runs():
    all_runs = store.list_runs()
    if not all_runs:
        st.caption("Finished and running runs (from this page or the CLI) are listed here.")
    else:
        # Options are the labels themselves (plain strings serialise cleanly); ids are read back from them.
        # No status in the label: it changes while a run trains, and a selected label must stay valid.
        labels = {f"#{r.id} {r.model} on {r.dataset}": r.id for r in all_runs}
        default = [label for label, i in labels.items() if i == run_id] or [next(iter(labels))]
        # Keyed by the current run: a new run starts a fresh overlay that contains it.
        chosen = [labels[label] for label in st.multiselect("Runs to overlay", list(labels), default=default,
                                                            key=f"compare_{run_id}")]
        if chosen:
            runs = [(f"#{i}", store.metrics(i)) for i in chosen]
            st.plotly_chart(charts.step_loss_figure(runs, "step", smoothing, log_y), key="cmp_steps")
            left, right = st.columns(2)
            primary = next((n for n in ("val_acc", "val_exact_match", "val_elbo") if any((m.name == n).any() for _, m in runs)),
                           "val_acc")
            left.plotly_chart(charts.epoch_figure(runs, (primary,), primary.replace("_", " ").capitalize(), "epoch"),
                              key="cmp_acc")
            right.plotly_chart(charts.epoch_figure(runs, ("val_loss",), "Validation loss", "epoch"), key="cmp_loss")
            chosen_runs = [store.get_run(i) for i in chosen]
            st.dataframe([{"run": r.id, "status": r.status, **{k: v for k, v in r.params.items() if k != "dataset_options"},
                           **{f"final {k}": v for k, v in r.final.items()}} for r in chosen_runs], hide_index=True)
        pick = labels[st.selectbox("Run", list(labels), key="manage_run")]
        csv_col, delete_col = st.columns(2)
        csv_col.download_button("Download metrics (CSV)", store.export_csv(pick), file_name=f"run-{pick}-metrics.csv",
                                mime="text/csv", icon=":material/download:")
        picked = next(r for r in all_runs if r.id == pick)
        if picked.status == "running":
            delete_col.caption("A running run cannot be deleted: stop it first.")
        else:
            sure = delete_col.checkbox(f"Yes, delete run {pick} and its checkpoints", key=f"confirm_delete_{pick}")
            if delete_col.button("Delete run", icon=":material/delete:", disabled=not sure):
                store.delete_run(pick)
                if pick == run_id:
                    select_run(None)
                st.rerun()


compare_runs()
