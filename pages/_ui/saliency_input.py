"""The saliency page's input: a test image (filtered by true class and by right / wrong prediction),
a digit drawn with the mouse, or an uploaded image. Each stops the page with a line saying what to
do when there is nothing to explain yet."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from engine.data import Dataset
from engine.data.image_input import MAX_IMAGE_BYTES, MAX_PIXELS, prepare_array, prepare_bytes
from engine.saliency.selection import matching
from pages._ui.safe_markdown import escape_markdown


@dataclass
class Input:
    x: torch.Tensor                       # (1, C, H, W), as the model sees it
    caption: str
    true_label: int | None = None         # known for test images only
    test_positions: np.ndarray | None = None  # the test images the filters leave (the batch view pages them)


def from_test_set(data: Dataset, classes: list[str], predictions: np.ndarray, labels_true: np.ndarray) -> Input:
    c1, c2, c3 = st.columns([1, 1, 2])
    class_filter = c1.selectbox("True class", ["all"] + classes, key="class_filter", persist_state="page")
    correct_filter = c2.selectbox("Prediction", ["all", "correct", "incorrect"], key="correct_filter",
                                    persist_state="page")
    test_positions = matching(predictions, labels_true,
                              None if class_filter == "all" else classes.index(class_filter),
                              None if correct_filter == "all" else correct_filter == "correct")
    if len(test_positions) == 0:
        st.warning("No test image matches these filters.", icon=":material/filter_alt_off:")
        st.stop()
    position = c3.number_input(f"Image (1 to {len(test_positions)} of those matching)", 1, len(test_positions),
                               1, key=f"position_{class_filter}_{correct_filter}", persist_state="page")
    index = int(test_positions[position - 1])
    true_label = int(labels_true[index])
    caption = f"test image {index}: true {classes[true_label]}, predicted {classes[predictions[index]]}"
    return Input(data.x_val[index:index + 1], caption, true_label, test_positions)


def drawn(input_shape: tuple) -> Input:
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
    return Input(prepared.tensor, "your drawing, prepared as the model sees it")


def uploaded(input_shape: tuple) -> Input:
    upload = st.file_uploader("An image (PNG, JPEG, GIF, BMP, TIFF, WebP)", key="upload",
                              max_upload_size=MAX_IMAGE_BYTES // 2**20,
                              help=f"Converted to the model's {input_shape[1]}x{input_shape[2]} input with "
                                   f"{input_shape[0]} channel(s); refused above {MAX_PIXELS:,} pixels or "
                                   f"{MAX_IMAGE_BYTES // 2**20} MB.")
    if upload is None:
        st.info("Upload an image to see its maps.")
        st.stop()
    try:
        prepared = prepare_bytes(upload.getvalue(), input_shape, name=upload.name)
    except ValueError as err:
        st.error(escape_markdown(err), icon=":material/broken_image:")
        st.stop()
    for note in prepared.notes:
        st.caption(f":material/info: {escape_markdown(note)}")
    return Input(prepared.tensor, f"{upload.name}, prepared as the model sees it")
