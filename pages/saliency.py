"""Saliency: where a CNN looks. Any CNN run (or the shipped default), any epoch, any class, six
methods through captum, feature maps, and the two checks of whether a map can be trusted."""
from __future__ import annotations

from functools import partial

import numpy as np
import streamlit as st

from engine.saliency.classifiers import DEFAULT, cnn_runs
from engine.saliency.imagenet import SOURCE as PHOTO_SOURCE, TITLE as PHOTO_TITLE
from engine.saliency.maps import conv_layers
from engine.saliency.methods import BASELINES, METHODS, TITLES
from engine.saliency.render import COLORMAPS
from engine.saliency.selection import page_count, page_of
from pages._ui import photo_saliency, pointing_views
from pages._ui import saliency_input as inputs
from pages._ui import saliency_views as views
from pages._ui.safe_markdown import escape_markdown
from pages._ui.saliency_state import classifier, describe_problem, test_predictions
from pages._ui.store_views import open_store


def model_picker() -> tuple[str, int | None]:
    """The default CNN or a CNN run (the one handed over in the URL first), and the checkpoint epoch."""
    runs = cnn_runs(store)
    labels = {DEFAULT: "Default MNIST CNN (ships in assets/)"}
    labels[PHOTO_SOURCE] = PHOTO_TITLE  # photos on the pretrained ImageNet CNN: pages/_ui/photo_saliency.py
    labels |= {str(r.id): f"Run {r.id}: {r.model} on {r.dataset} · {r.status}"
               + (f" · val acc {r.final['val_acc']:.3f}" if "val_acc" in r.final else "") for r in runs}
    handed = st.query_params.get("run")
    if handed and handed not in labels:
        st.warning(f"Run {escape_markdown(handed)} from the link cannot be opened here: "
                   f"{escape_markdown(describe_problem(store, handed))}. "
                   "Showing the default CNN instead.", icon=":material/warning:")
        handed = None
    model_col, epoch_col = st.columns([2, 1])
    source = model_col.selectbox("Model", list(labels), format_func=labels.get,
                                 index=list(labels).index(handed) if handed else 0, key="source",
                                 help="The default CNN, or any CNN run with a saved checkpoint (train one on the Training page).")
    if source != DEFAULT:
        st.query_params["run"] = source
    elif "run" in st.query_params:
        del st.query_params["run"]
    return source, epoch_picker(epoch_col, source)


def epoch_picker(column, source: str) -> int | None:
    epochs = store.checkpoint_epochs(int(source)) if source not in (DEFAULT, PHOTO_SOURCE) else []
    if len(epochs) > 1:
        return column.select_slider("Checkpoint epoch", epochs, value=epochs[-1], key=f"epoch_{source}",
                                    help="Slide through training: watch the maps sharpen as the model learns.")
    if epochs:
        column.caption(f"One checkpoint: epoch {epochs[0]}")
        return epochs[0]
    return None


# Every setting from here on is made with persist_state="page": a run can stop above it (the Draw input
# with an empty canvas, no upload yet, filters that match nothing, a damaged checkpoint) or leave its view
# off the page, and the browser then drops the widget while the server keeps its value. Without it the
# widget came back showing its default while the page used the old value (three method chips, four rows).
def input_mode() -> str:
    st.subheader("Input")
    return st.segmented_control("Input", ["Test set", "Draw", "Upload"], default="Test set", key="input_mode",
                                required=True, label_visibility="collapsed", persist_state="page")


def input_picker(mode: str) -> inputs.Input:
    if mode == "Test set":
        return inputs.from_test_set(data, classes, predictions, labels_true)
    if mode == "Draw":
        return inputs.drawn(input_shape)
    return inputs.uploaded(input_shape)


def _clicked_class(chart_key: str):
    points = st.session_state[chart_key].selection.get("points", [])
    if points:
        st.session_state["target"] = str(points[0]["x"])


def class_to_explain() -> tuple[np.ndarray, int]:
    """The input beside its class probabilities; the class to explain (a bar clicked, or picked)."""
    with lock:
        probs = views.probabilities_of(model, picked.x)
    predicted = int(probs.argmax())
    if st.session_state.get("target_for") != (source, picked.caption):  # a new input: explain its prediction
        st.session_state["target"] = "predicted"
        st.session_state["target_for"] = (source, picked.caption)
    # The chart marks the class explained, and is drawn anew (its key) whenever that class changes: a bar
    # the browser still showed selected from an earlier click would contradict a class picked in the box.
    explaining = st.session_state.get("target", "predicted")
    explaining = explaining if explaining in classes else "predicted"
    chart_key = f"probs_chart:{explaining}"
    left, right = st.columns([1, 3])
    left.image(views.enlarge(picked.x[0].numpy()), caption=picked.caption, width=168)
    with right:
        figure = views.probability_figure(probs, classes, predicted, picked.true_label,
                                          predicted if explaining == "predicted" else classes.index(explaining))
        st.plotly_chart(figure, key=chart_key, on_select=partial(_clicked_class, chart_key), selection_mode="points")
        target_name = st.selectbox("Class to explain (or click a bar)", ["predicted"] + classes, key="target",
                                   persist_state="page",
                                   format_func=lambda c: f"predicted ({classes[predicted]})" if c == "predicted" else c)
    return probs, (predicted if target_name == "predicted" else classes.index(target_name))


def method_settings() -> tuple[dict, dict]:
    """(the methods' options, how the maps look)."""
    layers = list(conv_layers(model))
    with st.expander("Method settings", icon=":material/tune:"):
        s1, s2, s3, s4 = st.columns(4)
        layer = s1.selectbox("Grad-CAM layer", layers, index=len(layers) - 1, key="layer", persist_state="page",
                             help="Grad-CAM and guided Grad-CAM weigh this conv layer's maps; the last is the usual choice.")
        steps = s2.slider("Integrated-gradients steps", 4, 128, 32, key="ig_steps", persist_state="page")
        baseline = s2.radio("IG baseline", BASELINES, horizontal=True, key="ig_baseline", persist_state="page")
        side = min(input_shape[1:])
        window = s3.slider("Occlusion window (px)", 1, side, min(5, side), key="occ_window", persist_state="page")
        stride = s3.slider("Occlusion stride (px)", 1, side, min(2, side), key="occ_stride", persist_state="page")
        colormap = s4.selectbox("Colour map", COLORMAPS, key="colormap", persist_state="page")
        opacity = s4.slider("Heatmap opacity", 0.0, 1.0, 0.5, 0.05, key="opacity", persist_state="page")
    options = dict(layer=layer, steps=steps, baseline=baseline, window=window, stride=stride)
    return options, dict(colormap=colormap, opacity=opacity)


def methods_view() -> None:
    chosen = st.multiselect("Methods", METHODS, default=["gradcam", "guided-backprop", "guided-gradcam"],
                            format_func=TITLES.get, key="methods", persist_state="page")
    views.paper_rows(model, lock, picked.x, target, chosen, options, look)


def all_methods_view() -> None:
    views.all_methods(model, lock, picked.x, target, options, look)


def batch_view() -> None:
    method = st.selectbox("Method", METHODS, format_func=TITLES.get, key="batch_method", persist_state="page")
    positions = picked.test_positions if picked.test_positions is not None else np.arange(len(labels_true))
    pages = page_count(len(positions), views.BATCH)
    page_no = st.number_input(f"Page (of {pages}, {views.BATCH} test images each, same filters as above)",
                              1, pages, 1, key="batch_page", persist_state="page")
    views.batch(model, lock, data, page_of(positions, page_no, views.BATCH), predictions, classes, method, options, look)


def feature_maps_view() -> None:
    views.feature_maps_view(model, lock, picked.x)


def trust_view() -> None:
    chosen = st.multiselect("Methods to check", METHODS, default=["gradcam", "guided-backprop", "integrated-gradients"],
                            format_func=TITLES.get, key="trust_methods", persist_state="page")
    views.trust(model, lock, picked.x, target, chosen, options, look)


def pointing_view() -> None:
    pointing_views.pointing_view(model, lock, data, options, look, key=f"{source}:{epoch}")


VIEWS = {"Methods": methods_view, "All side by side": all_methods_view, "Batch": batch_view,
         "Feature maps": feature_maps_view, "Trust": trust_view}

st.title("Saliency")
st.caption("Where does the CNN look? Pick a model and an image; every map is computed for the class you choose. "
           "The Trust view says how far each map can be believed.")
store = open_store()

source, epoch = model_picker()
if source == PHOTO_SOURCE:  # the ImageNet CNN on photos has its own inputs and views
    photo_saliency.show()
    st.stop()
try:
    clf, lock = classifier(str(store.root), source, epoch)
except (ValueError, FileNotFoundError) as err:
    st.error(str(err), icon=":material/error:")
    st.stop()
model, data, classes = clf.model, clf.data, [str(c) for c in clf.classes]
input_shape = tuple(data.info.input_shape)

mode = input_mode()
predictions, labels_true = test_predictions(str(store.root), source, epoch)
picked = input_picker(mode)
probs, target = class_to_explain()
options, look = method_settings()

if pointing_views.available(data):  # a dataset that knows where its objects are (shapes)
    VIEWS["Pointing game"] = pointing_view
view = st.segmented_control("View", list(VIEWS), default="Methods", key="view", required=True,
                            persist_state="page")
st.caption(f"Explaining class **{classes[target]}** (p = {probs[target]:.3f})"
           + (f" · {clf.title}" + (f", epoch {clf.epoch}" if clf.epoch else "")))
VIEWS[view]()
