"""Training: pick a model and dataset, set every knob, train, watch it learn, look inside, compare.

Runs train in their own processes (engine.core.jobs): this page starts them, sends them Stop / Step /
Resume through the run store, and draws what they write there. Its live views read only what is
new and rebuild only the charts whose data changed (pages/_ui/live.py), so watching a run costs it
almost nothing (bench/live_training.py measures it in a browser).
"""
from __future__ import annotations

import streamlit as st

from engine.training.curves import x_axis
from engine.data import get_info, list_datasets, load_dataset
from engine.training.inspection import count_confusion, flow_dot, misclassified, model_summary
from engine.core.jobs import RunControl, children
from engine.latent.gan_session import is_hand_gan
from engine.core.params import ParamError
from engine.core.paths import runs_dir
from engine.core.registry import TRAINING_PARAMS, get_spec, list_specs, validate
from engine.core.runs import RunStore
from engine.core.trainer import build_model, load_trained, run_config, start_training
from pages._ui import live as live_ui
from pages._ui import run_link
from pages._ui import training_charts as charts
from pages._ui.nav import PAGES, page
from pages._ui.params_ui import param_inputs

COMPARE_REFRESH_S = 5.0  # the comparison follows running runs (e.g. from the CLI) at this pace
EPOCH_VIEWS_S = 5.0      # the views that change once per epoch look for a new one at this pace
# Points of the live loss curve: redrawn twice a second, its cost in the browser grows with them
# (min/max thinning keeps every spike; ~1 point per pixel column of the chart).
LIVE_POINTS = 1000
INSPECT_PAGES = {"cnn": "saliency.py", "resnet": "saliency.py"}  # models each inspection page can open
# Model families looked inside on their own page; classifiers are looked inside here.
FAMILY_PAGES = {"sequence": "attention.py", "generative": "latent.py"}
# Runs of models outside the registry, and the page that trains and shows them.
OTHER_RUN_PAGES = {"word2vec": "embeddings.py", "fasttext": "embeddings.py", "linear_rnn": "attention.py"}


@st.cache_data(max_entries=32, show_spinner="Classifying the validation set...")
def stored_or_computed(store_root: str, run_id: int, epoch: int, name: str):
    """An array the run stored with its epoch (predictions, decision grid) or, for runs trained
    before runs stored them, the same computed once here from the checkpoint."""
    store = RunStore(store_root)
    found = store.artifact(run_id, name, epoch)
    if found is not None:
        return found[1]
    from engine.objectives.classification import CLASSIFICATION
    model, data, _ = load_trained(store, run_id, epoch)
    return CLASSIFICATION.evaluate(model, data, next(model.parameters()).device)[name]


@st.cache_data(max_entries=32)
def summary_of(store_root: str, run_id: int):
    """Layers, output shapes and parameter counts: they depend on the config, not on the weights."""
    config = run_config(RunStore(store_root).get_run(run_id).params)
    data = load_dataset(config.dataset, config.dataset_options)
    rows = model_summary(build_model(config, data), tuple(data.info.input_shape))
    return rows, flow_dot(rows)


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
try:
    current = store.get_run(run_id) if run_id is not None else None
except KeyError:
    current = None
control = RunControl(store, run_id) if current is not None else None
progress = control.progress() if control is not None else None
running = progress is not None and progress.running


def select_run(run_id: int | None) -> None:
    run_link.select_run("run_id", run_id)


with live:
    start, step, stop, reset = st.columns(4)
    paused = progress is not None and progress.paused and not is_hand_gan(current)  # a hand GAN waits for clicks
    if start.button("Resume" if paused else "Start", type="primary", icon=":material/play_arrow:",
                    disabled=(config is None and not paused) or (running and not paused), width="stretch"):
        if paused:
            control.resume()
        else:
            select_run(start_training(config, store).run_id)
        st.rerun()
    if step.button("Step", icon=":material/skip_next:", disabled=config is None and not running, width="stretch",
                   help="train one epoch, then pause (while training: pause after the epoch under way)"):
        if running:
            control.step()
        else:
            select_run(start_training(config, store, pause_after_epoch=1).run_id)
        st.rerun()
    if stop.button("Stop", icon=":material/stop:", disabled=not running, width="stretch"):
        control.stop(wait=5)
        st.rerun()
    if reset.button("Reset", icon=":material/restart_alt:", help="stop, and start over with fresh weights",
                    width="stretch"):
        if running:
            control.stop(wait=5)
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
        # Runs training right now, started elsewhere (another tab, the CLI): one click to watch one.
        for other in [r for r in store.list_runs(limit=50) if r.status == "running" and r.model in specs][:5]:
            if st.button(f"Watch run {other.id}: {other.model} on {other.dataset}, training now",
                         icon=":material/visibility:", key=f"watch_{other.id}"):
                select_run(other.id)
                st.rerun()
    elif current is None:
        st.warning(f"Run {run_id} no longer exists.")
        select_run(None)
    elif current.model not in specs:  # word vectors (gensim) and the linear-RNN demo: not Trainer models
        target = next(p for p in PAGES if p.file == OTHER_RUN_PAGES.get(current.model, "embeddings.py"))
        vectors = target.file == "embeddings.py"
        st.info(f"Run {run_id} is a {current.model} run on {'the ' if vectors else ''}{current.dataset}"
                f"{' corpus' if vectors else ''}, trained on the {target.title} page: "
                f"{'its vectors are explored' if vectors else 'it is shown'} there.", icon=":material/info:")
        st.page_link(page(target), label=f"Open the {target.title} page", icon=":material/arrow_forward:")
        current = None
    elif running and is_hand_gan(current):  # GAN Lab's buttons drive it, not Start / Step
        target = next(p for p in PAGES if p.file == "latent.py")
        st.info(f"Run {run_id} is a GAN trained by hand, one D or G step at a time, on the {target.title} page.",
                icon=":material/info:")
        st.page_link(page(target), label=f"Open the {target.title} page", icon=":material/arrow_forward:")
        current = None

    if current is not None:
        view = live_ui.live_run(store, current.id)
        shown = (progress.status, progress.paused)  # what the buttons above were drawn for

        @st.fragment(run_every=live_ui.refresh_every(progress))
        def status_and_curves(run_id: int):
            """Polls the run: status, progress and the curves. Redraws the whole page (buttons,
            pickers) only when the run pauses, resumes or ends."""
            follower = view.follower
            follower.poll()
            p = follower.progress
            if (p.status, p.paused) != shown:
                st.rerun(scope="app")
            metrics = follower.metrics
            st.markdown(f"**Run {run_id}**: {current.model} on {current.dataset} · **{p.status}**"
                        + (f" (paused after epoch {p.epoch})" if p.paused else ""))
            live_ui.progress_line(p, current.params.get("epochs", 1))
            if p.running and run_id not in children():
                st.caption("Trained by a process this server did not start (e.g. the CLI): it updates here live, "
                           "and Stop and Step work on it too.")

            steps = view.figure("step_loss", (follower.rows, x_mode, smoothing, log_y), lambda: charts.step_loss_figure(
                [(f"run {run_id}", x_axis(follower.steps, x_mode).to_numpy(dtype=float),
                  follower.steps.value.to_numpy(dtype=float), follower.smoothed_loss(smoothing))], x_mode, log_y,
                LIVE_POINTS))
            st.plotly_chart(steps, key="step_loss")
            left, right = st.columns(2)
            runs = [(f"run {run_id}", metrics)]
            per_epoch = (follower.epoch, x_mode, log_y)
            left.plotly_chart(view.figure("epoch_loss", per_epoch, lambda: charts.epoch_figure(
                runs, ("train_loss", "val_loss"), "Loss per epoch", x_mode, log_y)), key="epoch_loss")
            others = charts.other_epoch_metrics(metrics)
            title = "Accuracy per epoch" if others == ("train_acc", "val_acc") else "Metrics per epoch"
            right.plotly_chart(view.figure("epoch_other", per_epoch, lambda: charts.epoch_figure(
                runs, others, title, x_mode)), key="epoch_acc")

        status_and_curves(current.id)

        inside, gradients, summary = st.tabs(["Inside", "Gradient norms", "Model"])

        @st.fragment(run_every=EPOCH_VIEWS_S if running else None)
        def per_epoch_views(run_id: int):
            """What changes once per epoch: the inside views and the gradient norms."""
            follower = view.follower
            epochs = store.checkpoint_epochs(run_id) if follower.epoch else []
            run_info = get_info(current.dataset)
            with inside:
                family = get_spec(current.model).family
                if family in FAMILY_PAGES:
                    target = next(p for p in PAGES if p.file == FAMILY_PAGES[family])
                    st.info(f"Look inside this {current.model} run on the {target.title} page.")
                    st.page_link(page(target), label=f"Open run {run_id} on the {target.title} page",
                                 query_params={"run": run_id}, icon=":material/arrow_forward:")
                elif not epochs:
                    st.info("The first epoch's checkpoint will appear here when it is saved.")
                elif run_info.kind == "points":
                    epoch = epochs[-1]
                    figure = view.figure("boundary", epoch, lambda: charts.decision_figure(
                        *(stored_or_computed(str(store.root), run_id, epoch, k) for k in ("boundary_x", "boundary_y", "boundary_p")),
                        load_dataset(current.dataset, run_config(current.params).dataset_options)))
                    st.plotly_chart(figure, key="boundary")
                    st.caption(f"After epoch {epoch}: redrawn at every epoch.")
                else:
                    epoch = epochs[-1]
                    data = load_dataset(current.dataset, run_config(current.params).dataset_options)
                    predictions = stored_or_computed(str(store.root), run_id, epoch, "val_predictions")
                    figure = view.figure("confusion", epoch, lambda: charts.confusion_figure(
                        count_confusion(data.y_val, predictions, data.num_classes), run_info.classes))
                    st.plotly_chart(figure, key="confusion")
                    wrong = misclassified(predictions, data.y_val, limit=32)
                    st.markdown(f"**Misclassified validation images** (after epoch {epoch}, first {len(wrong)})")
                    if wrong:
                        st.image([data.x_val[i, 0].numpy() for i in wrong], width=72, clamp=True,
                                 caption=[f"pred {run_info.classes[predictions[i]]} / true {run_info.classes[data.y_val[i]]}"
                                          for i in wrong])
            with gradients:
                metrics = follower.metrics
                if (metrics.name.str.startswith("grad_norm/")).any():
                    st.plotly_chart(view.figure("grad_norms", follower.epoch, lambda: charts.grad_norm_figure(metrics)),
                                    key="grad_norms")
                    st.caption("Norms that shrink layer by layer towards the input are vanishing gradients "
                               "(try sigmoid with depth 8).")
                else:
                    st.info("Gradient norms are recorded at the end of each epoch.")
            if not follower.progress.running and current.model in INSPECT_PAGES and follower.progress.status == "completed":
                target = next(p for p in PAGES if p.file == INSPECT_PAGES[current.model])
                st.page_link(page(target), label=f"Open run {run_id} on the {target.title} page",
                             icon=":material/arrow_forward:", query_params={"run": str(run_id)})

        per_epoch_views(current.id)
        with summary:
            rows, dot = summary_of(str(store.root), current.id)
            st.dataframe([{"layer": r.name, "type": r.type, "output shape": str(r.output_shape),
                           "params": r.params} for r in rows], hide_index=True)
            st.caption(f"{sum(r.params for r in rows):,} parameters")
            st.graphviz_chart(dot)

# ---- compare runs --------------------------------------------------------------------------------
st.divider()
st.subheader("Compare runs")
# The run on show is followed by the live view above; other running runs (e.g. from the CLI) are
# followed here, at a slower pace.
others_running = any(r.status == "running" and r.id != run_id for r in store.list_runs())


@st.fragment(run_every=COMPARE_REFRESH_S if others_running else None)
def compare_runs():
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
        followers = [live_ui.live_run(store, i).follower for i in chosen]
        for follower in followers:
            follower.poll()
        version = (tuple(chosen), tuple(f.rows for f in followers), smoothing, log_y)
        view = live_ui.live_run(store, chosen[0])
        runs = [(f"#{f.run_id}", f.metrics) for f in followers]
        st.plotly_chart(view.figure("cmp_steps", version, lambda: charts.step_loss_figure(
            [(f"#{f.run_id}", f.steps.step.to_numpy(dtype=float), f.steps.value.to_numpy(dtype=float),
              f.smoothed_loss(smoothing)) for f in followers], "step", log_y)), key="cmp_steps")
        left, right = st.columns(2)
        primary = next((n for n in ("val_acc", "val_exact_match", "val_elbo") if any((m.name == n).any() for _, m in runs)),
                       "val_acc")
        left.plotly_chart(view.figure("cmp_acc", version, lambda: charts.epoch_figure(
            runs, (primary,), primary.replace("_", " ").capitalize(), "epoch")), key="cmp_acc")
        right.plotly_chart(view.figure("cmp_loss", version, lambda: charts.epoch_figure(
            runs, ("val_loss",), "Validation loss", "epoch")), key="cmp_loss")
        chosen_runs = [store.get_run(i) for i in chosen]
        st.dataframe([{"run": r.id, "status": r.status, **{k: v for k, v in r.params.items() if k != "dataset_options"},
                       **{f"final {k}": v for k, v in r.final.items()}} for r in chosen_runs], hide_index=True)
    pick = labels[st.selectbox("Run", list(labels), key="manage_run")]
    csv_col, delete_col = st.columns(2)
    # Made when clicked, not on every refresh: a long run's CSV is megabytes.
    csv_col.download_button("Download metrics (CSV)", lambda: store.export_csv(pick), file_name=f"run-{pick}-metrics.csv",
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
