"""Saliency: where a CNN looks. Any CNN run (or the shipped default), any epoch, any class, six
methods through captum, feature maps, and the two checks of whether a map can be trusted."""
from __future__ import annotations

import numpy as np
import streamlit as st

from engine.saliency.classifiers import DEFAULT, cnn_runs
from engine.data.image_input import MAX_PIXELS, prepare_array, prepare_bytes
from engine.core.paths import runs_dir
from engine.core.runs import RunStore
from engine.saliency.maps import BASELINES, METHODS, TITLES, conv_layers
from engine.saliency.render import COLORMAPS
from pages._ui import saliency_views as views
from pages._ui.saliency_state import classifier, describe_problem, test_predictions

st.title("Saliency")
st.caption("Where does the CNN look? Pick a model and an image; every map is computed for the class you choose. "
           "The Trust view says how far each map can be believed.")
store = RunStore(runs_dir())

# ---- model and checkpoint ------------------------------------------------------------------------
runs = cnn_runs(store)
labels = {DEFAULT: "Default MNIST CNN (ships in assets/)"}
labels |= {str(r.id): f"Run {r.id}: {r.model} on {r.dataset} · {r.status}"
           + (f" · val acc {r.final['val_acc']:.3f}" if "val_acc" in r.final else "") for r in runs}
handed = st.query_params.get("run")
if handed and handed not in labels:
    st.warning(f"Run {handed} from the link cannot be opened here: {describe_problem(store, handed)}. "
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
epochs = store.checkpoint_epochs(int(source)) if source != DEFAULT else []
epoch = None
if len(epochs) > 1:
    epoch = epoch_col.select_slider("Checkpoint epoch", epochs, value=epochs[-1], key=f"epoch_{source}",
                                    help="Slide through training: watch the maps sharpen as the model learns.")
elif epochs:
    epoch = epochs[0]
    epoch_col.caption(f"One checkpoint: epoch {epoch}")
try:
    clf, lock = classifier(str(store.root), source, epoch)
except (ValueError, FileNotFoundError) as err:
    st.error(str(err), icon=":material/error:")
    st.stop()
model, data, classes = clf.model, clf.data, [str(c) for c in clf.classes]
input_shape = tuple(data.info.input_shape)

# ---- input ---------------------------------------------------------------------------------------
st.subheader("Input")
mode = st.segmented_control("Input", ["Test set", "Draw", "Upload"], default="Test set", key="input_mode",
                            label_visibility="collapsed") or "Test set"
x, caption, true_label, test_positions = None, "", None, None
predictions, labels_true = test_predictions(str(store.root), source, epoch)
if mode == "Test set":
    c1, c2, c3 = st.columns([1, 1, 2])
    class_filter = c1.selectbox("True class", ["all"] + classes, key="class_filter")
    correct_filter = c2.selectbox("Prediction", ["all", "correct", "incorrect"], key="correct_filter")
    keep = np.ones(len(labels_true), bool)
    if class_filter != "all":
        keep &= labels_true == classes.index(class_filter)
    if correct_filter != "all":
        keep &= (predictions == labels_true) == (correct_filter == "correct")
    test_positions = np.flatnonzero(keep)
    if len(test_positions) == 0:
        st.warning("No test image matches these filters.", icon=":material/filter_alt_off:")
        st.stop()
    position = c3.number_input(f"Image (1 to {len(test_positions)} of those matching)", 1, len(test_positions),
                               1, key=f"position_{class_filter}_{correct_filter}")
    index = int(test_positions[position - 1])
    x = data.x_val[index:index + 1]
    true_label = int(labels_true[index])
    caption = f"test image {index}: true {classes[true_label]}, predicted {classes[predictions[index]]}"
elif mode == "Draw":
    if input_shape[0] != 1:
        st.info("Drawing is for greyscale digit models; this model takes colour images: upload one instead.")
        st.stop()
    from streamlit_drawable_canvas import st_canvas
    st.caption("Draw a digit with the mouse (white on black, like MNIST); it is centred and scaled as MNIST's were.")
    drawing = st_canvas(stroke_width=18, stroke_color="#ffffff", background_color="#000000", height=224, width=224,
                        drawing_mode="freedraw", key="canvas", display_toolbar=True)
    if drawing.image_data is None or np.asarray(drawing.image_data)[..., :3].max() == 0:
        st.info("Draw something on the canvas above to see its maps.")
        st.stop()
    prepared = prepare_array(np.asarray(drawing.image_data), input_shape)
    x, caption = prepared.tensor, "your drawing, prepared as the model sees it"
else:
    upload = st.file_uploader("An image (PNG, JPEG, GIF, BMP, TIFF, WebP)", key="upload",
                              help=f"Converted to the model's {input_shape[1]}x{input_shape[2]} input with "
                                   f"{input_shape[0]} channel(s); refused above {MAX_PIXELS:,} pixels.")
    if upload is None:
        st.info("Upload an image to see its maps.")
        st.stop()
    try:
        prepared = prepare_bytes(upload.getvalue(), input_shape, name=upload.name)
    except ValueError as err:
        st.error(str(err), icon=":material/broken_image:")
        st.stop()
    for note in prepared.notes:
        st.caption(f":material/info: {note}")
    x, caption = prepared.tensor, f"{upload.name}, prepared as the model sees it"

# ---- prediction and the class to explain ---------------------------------------------------------
with lock:
    probs = views.probabilities_of(model, x)
predicted = int(probs.argmax())
if st.session_state.get("target_for") != (source, caption):  # a new input: explain its prediction
    st.session_state["target"] = "predicted"
    st.session_state["target_for"] = (source, caption)


def _clicked_class():
    points = st.session_state["probs_chart"].selection.get("points", [])
    if points:
        st.session_state["target"] = str(points[0]["x"])


left, right = st.columns([1, 3])
with left:
    st.image(views.enlarge(x[0].numpy()), caption=caption, width=168)
with right:
    st.plotly_chart(views.probability_figure(probs, classes, predicted, true_label), key="probs_chart",
                    on_select=_clicked_class, selection_mode="points")
    target_name = st.selectbox("Class to explain (or click a bar)", ["predicted"] + classes, key="target",
                               format_func=lambda c: f"predicted ({classes[predicted]})" if c == "predicted" else c)
target = predicted if target_name == "predicted" else classes.index(target_name)

# ---- method settings -----------------------------------------------------------------------------
layers = list(conv_layers(model))
with st.expander("Method settings", icon=":material/tune:"):
    s1, s2, s3, s4 = st.columns(4)
    layer = s1.selectbox("Grad-CAM layer", layers, index=len(layers) - 1, key="layer",
                         help="Grad-CAM and guided Grad-CAM weigh this conv layer's maps; the last is the usual choice.")
    steps = s2.slider("Integrated-gradients steps", 4, 128, 32, key="ig_steps")
    baseline = s2.radio("IG baseline", BASELINES, horizontal=True, key="ig_baseline")
    side = min(input_shape[1:])
    window = s3.slider("Occlusion window (px)", 1, side, min(5, side), key="occ_window")
    stride = s3.slider("Occlusion stride (px)", 1, side, min(2, side), key="occ_stride")
    colormap = s4.selectbox("Colour map", COLORMAPS, key="colormap")
    opacity = s4.slider("Heatmap opacity", 0.0, 1.0, 0.5, 0.05, key="opacity")
options = dict(layer=layer, steps=steps, baseline=baseline, window=window, stride=stride)
look = dict(colormap=colormap, opacity=opacity)

# ---- views ---------------------------------------------------------------------------------------
view = st.segmented_control("View", ["Methods", "All side by side", "Batch", "Feature maps", "Trust"],
                            default="Methods", key="view") or "Methods"
st.caption(f"Explaining class **{classes[target]}** (p = {probs[target]:.3f})"
           + (f" · {clf.title}" + (f", epoch {clf.epoch}" if clf.epoch else "")))
if view == "Methods":
    chosen = st.multiselect("Methods", METHODS, default=["gradcam", "guided-backprop", "guided-gradcam"],
                            format_func=TITLES.get, key="methods")
    views.paper_rows(model, lock, x, target, chosen, options, look)
elif view == "All side by side":
    views.all_methods(model, lock, x, target, options, look)
elif view == "Batch":
    method = st.selectbox("Method", METHODS, format_func=TITLES.get, key="batch_method")
    positions = test_positions if test_positions is not None else np.arange(len(labels_true))
    pages = max(1, -(-len(positions) // views.BATCH))
    page_no = st.number_input(f"Page (of {pages}, {views.BATCH} test images each, same filters as above)",
                              1, pages, 1, key="batch_page")
    chunk = positions[(page_no - 1) * views.BATCH:page_no * views.BATCH]
    views.batch(model, lock, data, chunk, predictions, classes, method, options, look)
elif view == "Feature maps":
    views.feature_maps_view(model, lock, x)
else:
    chosen = st.multiselect("Methods to check", METHODS, default=["gradcam", "guided-backprop", "integrated-gradients"],
                            format_func=TITLES.get, key="trust_methods")
    views.trust(model, lock, x, target, chosen, options, look)
