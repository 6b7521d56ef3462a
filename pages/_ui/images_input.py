"""Your own photos on the Training page: a zip with one folder per class, uploaded.

The archive is read in memory within the stated limits (engine/data/image_folders.py: never extracted,
files that are not readable images skipped and listed) and saved as a dataset by content hash
(engine/data/saved_images.py), which the page's dataset picker then selects, as your own 2D points
are (pages/_ui/points_input.py). With the `transfer` model the pretrained EfficientNet-Lite0 learns
them in seconds (its features computed once); every image model can train on them.
"""
from __future__ import annotations

import streamlit as st

from engine.core.registry import TRAINING_PARAMS, get_spec
from engine.core.uploads import UploadError
from engine.data import get_info, train_size
from engine.data.image_folders import LIMITS, MAX_ARCHIVE_BYTES, ImagesError, read_archive
from engine.data.saved_images import PREFIX, save_images
from engine.data.suggested import SHAPES_TRANSFER
from pages._ui.safe_markdown import escape_markdown
from pages._ui.suggested_settings import _apply as apply_suggestion, describe

OWN_IMAGES = "Your own images (a zip, one folder per class)"  # the picker's choice
PICKER, BATCH = "dataset", "batch_size"  # the keys of the Training page's dataset picker and batch slider
UPLOAD = "own_images_zip"
EXAMPLE_DATASET = "shapes"  # the built-in example (engine/data/suggested.py SHAPES_TRANSFER)
# Session state: a problem with the last upload; the dataset just saved with what to say about it.
PROBLEM, SAVED = "own_images_problem", "own_images_saved"


def with_own_images(choices: list[str], data_kinds) -> list[str]:
    """The picker's choices, with "your own images" for a model that trains on images."""
    return [*choices, OWN_IMAGES] if "image" in data_kinds else choices


def own_images_panel() -> str:
    """The upload; returns why no run can start yet."""
    st.caption(f"A zip with one folder of images per class, e.g. `cats/1.jpg`, `dogs/7.png`: {LIMITS}. "
               "Images are cropped to a centred square and resized to 224 x 224; files that are not readable "
               "images are skipped and listed.")
    st.file_uploader("Upload a zip of images", type=["zip"], key=UPLOAD, on_change=_uploaded,
                     max_upload_size=MAX_ARCHIVE_BYTES // 2**20,
                     help="saved as a dataset that stays in the picker; the Transfer learning model learns it "
                          "in seconds with its frozen backbone")
    if (problem := st.session_state.get(PROBLEM)) is not None:
        st.error(escape_markdown(problem), icon=":material/error:")
    example_button()
    return "upload a zip of images, one folder per class"


def example_button() -> None:
    """The built-in example that needs no upload: transfer learning on the shapes at 224 px."""
    example = SHAPES_TRANSFER
    spec = get_spec(example.model)
    st.button("Built-in example: transfer to shapes at 224 px", icon=":material/category:", key="transfer_example",
              on_click=apply_suggestion, args=(EXAMPLE_DATASET, example, spec),
              help="no images at hand: the pretrained backbone learns the ten classes of the shapes dataset, "
                   "rendered at 224 x 224")
    st.caption(escape_markdown(describe(example, spec)))


def saved_note(dataset: str) -> None:
    """Under the picker, once: which dataset the upload became and the files it skipped."""
    saved = st.session_state.get(SAVED)
    if saved is None or saved[0] != dataset or not dataset.startswith(PREFIX):
        return
    del st.session_state[SAVED]
    _, skipped, batch_note = saved
    st.success(f"Saved and selected: {escape_markdown(get_info(dataset).title)}, dataset `{dataset}`.{batch_note} "
               "Press Start to train on it.", icon=":material/check_circle:")
    if skipped:
        st.warning(f"{len(skipped)} file(s) skipped:\n\n" + "\n".join(f"- {escape_markdown(s)}" for s in skipped[:20])
                   + (f"\n- ... and {len(skipped) - 20} more" if len(skipped) > 20 else ""), icon=":material/warning:")


def _uploaded() -> None:
    """The uploader's callback (before the script: it may set the picker's value)."""
    file = st.session_state.get(UPLOAD)
    st.session_state.pop(PROBLEM, None)
    if file is None:
        return
    try:
        images = read_archive(file, file.name)
    except (ImagesError, UploadError) as err:
        st.session_state[PROBLEM] = f"{file.name}: {err}" if not str(err).startswith(file.name) else str(err)
        return
    dataset = save_images(images)
    st.session_state[PICKER] = dataset
    st.session_state[SAVED] = (dataset, list(images.skipped), _fit_batch(dataset))


def _fit_batch(dataset: str) -> str:
    """A batch no larger than the training images, else Start would only say it is too large."""
    images = train_size(dataset)
    batch = st.session_state.get(BATCH, next(p.default for p in TRAINING_PARAMS if p.name == BATCH))
    if batch <= images:
        return ""
    fitted = 2 ** (images.bit_length() - 1)  # the batch slider offers powers of two
    st.session_state[BATCH] = fitted
    return f" Batch size set to {fitted} to fit its {images} training images."
