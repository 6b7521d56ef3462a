"""Training: pick a model and dataset, set every knob, train, watch it learn, look inside, compare;
or, on the Sweep tab, train many runs at once over the values of chosen knobs (pages/_ui/sweep_views.py).

The chosen data is drawn before any run (pages/_ui/data_preview.py), as TF Playground shows its
points. Runs train in their own processes (engine.core.jobs): this page starts them, sends them
Stop / Step / Resume through the run store, and draws what they write there. Its live views read
only what is new and rebuild only the charts whose data changed (pages/_ui/live.py), so watching a
run costs it little (bench/live_training.py and, for the live boundary, bench/live_boundary.py
measure it in a browser).
"""
from __future__ import annotations

import streamlit as st

from engine.data import get_info, list_datasets
import engine.models  # noqa: F401  (registers the built-in models)
from engine.core.jobs import Progress, RunControl
from engine.latent.gan_session import is_hand_gan
from engine.core.params import ParamError
from engine.core.registry import TRAINING_PARAMS, list_specs, validate
from engine.core.runs import Run, RunStore
from engine.core.trainer import start_training
from pages._ui import images_input, points_input
from pages._ui import sweep_views
from pages._ui import training_views as views
from pages._ui.gan2d_views import POINTS_VIEW
from pages._ui.data_preview import data_preview
from pages._ui.nav import PAGES, page
from pages._ui.params_ui import param_inputs
from pages._ui.run_link import OTHER_RUN_PAGES, linked_run_id
from pages._ui.safe_markdown import escape_markdown
from pages._ui.suggested_settings import open_on_suggestion, suggestion_button
from pages._ui.training_compare import compare_runs
from pages._ui.training_views import PLANE_GANS, select_run
from pages._ui.store_views import open_store


# What the page opens on: TF Playground's spiral (for a model that trains on 2D points).
DEFAULT_MODEL = "playground"
DEFAULT_DATASET = "spiral"


def settings_panel(specs: dict, datasets: dict):
    """Model, dataset and every knob, all bound to the URL: (the validated config, None), or (None,
    why not: drawn under the Start button by run_buttons); then the dataset and its Data settings
    (for the preview)."""
    open_on_suggestion(DEFAULT_DATASET, specs)
    # Options are the registry names (not titles): a bound selectbox puts its label in the URL.
    names = list(specs)
    model_name = st.selectbox("Model", names, key="model", bind="query-params",
                              index=names.index(DEFAULT_MODEL) if DEFAULT_MODEL in names else 0)
    spec = specs[model_name]
    choices = [name for name, info in datasets.items() if info.kind in spec.data_kinds]
    dataset_choices = images_input.with_own_images(points_input.with_own_points(choices, spec.data_kinds),
                                                   spec.data_kinds)
    dataset_name = st.selectbox("Dataset", dataset_choices, key="dataset", bind="query-params",
                                index=dataset_choices.index(DEFAULT_DATASET) if DEFAULT_DATASET in dataset_choices else 0)
    if dataset_name == points_input.OWN_POINTS:  # upload or draw them: a dataset once they are saved
        st.caption(f"**{spec.title}**: {spec.description}")
        own_points_problem = points_input.own_points_panel()
        dataset_name = None
    elif dataset_name == images_input.OWN_IMAGES:  # a zip of photos, one folder per class
        st.caption(f"**{spec.title}**: {spec.description}")
        own_points_problem = images_input.own_images_panel()
        dataset_name = None
    else:
        info = get_info(dataset_name)
        st.caption(f"**{spec.title}**: {spec.description}  \n**{info.title}**: {info.description}")
        points_input.saved_note(dataset_name)
        images_input.saved_note(dataset_name)
        suggestion_button(dataset_name, specs)
    with st.expander("Model", expanded=True):
        model_values = param_inputs(spec.params, prefix=f"{model_name}.")
    with st.expander("Training", expanded=True):
        training_values = param_inputs(TRAINING_PARAMS)
    dataset_values = {}
    if dataset_name is None:
        return None, own_points_problem, (None, {})
    if info.params:
        with st.expander("Data"):
            dataset_values = param_inputs(info.params, prefix=f"{dataset_name}.")
    try:
        return validate(model_name, dataset_name, model_values | training_values, dataset_values), None, \
            (dataset_name, dataset_values)
    except ParamError as err:
        return None, str(err), (dataset_name, dataset_values)


def run_on_show(store: RunStore) -> tuple[int | None, Run | None, Progress | None]:
    """This session's run, or the one named in the URL (a refresh reattaches): its id, the run if
    it still exists, and its progress."""
    if "run_id" not in st.session_state and (linked := linked_run_id()) is not None:
        st.session_state.run_id = linked
    run_id = st.session_state.get("run_id")
    try:
        current = store.get_run(run_id) if run_id is not None else None
    except KeyError:
        current = None
    progress = RunControl(store, run_id).progress() if current is not None else None
    return run_id, current, progress


def run_buttons(store: RunStore, config, problem: str | None, current: Run | None,
                progress: Progress | None) -> None:
    """Start (Resume while paused), Step, Stop, Reset; under them, why the settings cannot start a run.

    Start and Step are never disabled for the settings: the browser draws a button as the script's
    last run left it, so after a slider change that mended the settings Start stayed disabled until
    that run was over, and a click in between was dropped. Now every click reaches the script,
    which decides with the settings sent along with it."""
    control = RunControl(store, current.id) if current is not None else None
    running = progress is not None and progress.running
    start, step, stop, reset = st.columns(4)
    paused = progress is not None and progress.paused and not is_hand_gan(current)  # a hand GAN waits for clicks
    start_clicked = start.button("Resume" if paused else "Start", type="primary", icon=":material/play_arrow:",
                                 disabled=running and not paused, width="stretch")
    step_clicked = step.button("Step", icon=":material/skip_next:", width="stretch",
                               help="train one epoch, then pause (while training: pause after the epoch under way)")
    if start_clicked and paused:
        control.resume()
        st.rerun()
    if step_clicked and running:
        control.step()
        st.rerun()
    if (start_clicked or step_clicked) and config is not None:
        select_run(start_training(config, store, pause_after_epoch=1 if step_clicked else None).run_id)
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
    if problem is not None:
        refused = start_clicked or step_clicked
        st.error(f"{'Not started' if refused else 'Cannot start a run'}: {problem}", icon=":material/block:")


def run_to_draw(store: RunStore, specs: dict, run_id: int | None, current: Run | None,
                progress: Progress | None) -> Run | None:
    """The run whose curves this page draws; or None, with a line that says why (and where it is shown)."""
    if run_id is None:
        no_run_yet(store, specs)
    elif current is None:
        st.warning(f"Run {run_id} no longer exists.")
        select_run(None)
    elif current.model not in specs:  # word vectors (gensim) and the linear-RNN demo: not Trainer models
        shown_elsewhere(current)
    elif progress.running and is_hand_gan(current):  # GAN Lab's buttons drive it, not Start / Step
        target = next(p for p in PAGES if p.file == "latent.py")
        st.info(f"Run {run_id} is a GAN trained by hand, one D or G step at a time, on the {target.title} page.",
                icon=":material/info:")
        st.page_link(page(target), label=f"Open the {target.title} page", icon=":material/arrow_forward:",
                     query_params={"view": POINTS_VIEW} if current.model in PLANE_GANS else None)
    else:
        return current
    return None


def no_run_yet(store: RunStore, specs: dict) -> None:
    st.info("Set the model and the data on the left, then press **Start** (or **Step** for one epoch at a time).",
            icon=":material/arrow_back:")
    # Runs training right now, started elsewhere (another tab, the CLI): one click to watch one.
    for other in [r for r in store.list_runs(limit=50) if r.status == "running" and r.model in specs][:5]:
        if st.button(f"Watch run {other.id}: {other.model} on {other.dataset}, training now",
                     icon=":material/visibility:", key=f"watch_{other.id}"):
            select_run(other.id)
            st.rerun()


def shown_elsewhere(current: Run) -> None:
    """A run of a model outside the registry: the page that trained it shows it."""
    target = next(p for p in PAGES if p.file == OTHER_RUN_PAGES.get(current.model, "embeddings.py"))
    vectors = target.file == "embeddings.py"
    st.info(f"Run {current.id} is a {current.model} run on {'the ' if vectors else ''}"
            f"{escape_markdown(current.dataset)}"
            f"{' corpus' if vectors else ''}, trained on the {target.title} page: "
            f"{'its vectors are explored' if vectors else 'it is shown'} there.", icon=":material/info:")
    st.page_link(page(target), label=f"Open the {target.title} page", icon=":material/arrow_forward:")


st.title("Training")
st.caption("Every registered model, every setting, live curves. Settings live in the URL: share it to share the run setup.")
store = open_store()
specs = {spec.name: spec for spec in list_specs()}
datasets = {info.name: info for info in list_datasets()}

# Two fifths for the settings: at a third, two-column grids cut values short ("momentum" in its box).
settings, live = st.columns([2, 3], gap="large")
with settings:
    config, problem, (dataset_name, dataset_values) = settings_panel(specs, datasets)
run_id, current, progress = run_on_show(store)
with live:  # lazy tabs (bound to ?tab=): only the open one runs
    run_tab, sweep_tab = st.tabs(["Run", "Sweep"], key="tab", bind="query-params")
look = None
if run_tab.open:
    with run_tab:
        run_buttons(store, config, problem, current, progress)
        drawn = run_to_draw(store, specs, run_id, current, progress)
        if drawn is None:  # nothing trained yet: the data it will learn, as soon as it is chosen
            data_preview(dataset_name, dataset_values)
        else:
            with st.expander(f"The data of the next run: {get_info(dataset_name).title}"):
                data_preview(dataset_name, dataset_values, compact=True)
        look = views.look_settings()
        if drawn is not None:
            views.run_views(store, drawn, progress, look)
if sweep_tab.open:  # many runs at once, over the settings on the left (Ray Tune)
    with sweep_tab:
        sweep_views.sweep_tab(store, config, problem)

if look is not None:
    st.divider()
    st.subheader("Compare runs")
    compare_runs(store, run_id, look)
