"""The Embeddings page's choice of vectors: pretrained GloVe, vectors trained here, an uploaded file,
or an image classifier's activations. Each loads once (st.cache_resource: frozen, read-only)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import streamlit as st

from engine.core.runs import RunStore
from engine.core.uploads import size_text
from engine.embeddings import explore as emb
from engine.embeddings.vectors import MAX_UPLOAD_BYTES, WORD2VEC_MODELS, VectorsFormatError, WordVectors, check_usable, \
    load_glove50, load_run_vectors, load_vectors_file
from pages._ui.embeddings_state import kept_choice
from pages._ui.embeddings_train import train_panel
from pages._ui.safe_markdown import escape_markdown

SOURCES = {"glove": "GloVe 6B 50d", "trained": "Trained here", "upload": "Upload vectors", "image": "Image classifier"}
IMAGE_LIMITS = [500, 1000, 2000, 5000, 10000]


@dataclass(frozen=True)
class Source:
    vectors: WordVectors
    key: str  # names the vectors in caches, widget keys and file names ("glove50", "run:3:...")
    images: emb.ImageEmbeddings | None = None  # an image classifier's: true labels, classes, pictures


@st.cache_resource(show_spinner="Loading GloVe 6B 50d (memory-mapped)...")
def glove() -> WordVectors:
    return load_glove50()


@st.cache_resource(max_entries=8, show_spinner="Loading the run's vectors...")
def run_vectors(store_root: str, run_id: int, updated: float) -> WordVectors:
    return load_run_vectors(RunStore(store_root), run_id)


@st.cache_resource(max_entries=4, show_spinner="Reading the vectors file...")
def uploaded_vectors(digest: str, _raw: bytes, name: str, _meta: bytes | None) -> WordVectors:
    return load_vectors_file(_raw, name=name, metadata=_meta)


@st.cache_resource(max_entries=4, show_spinner="Running the classifier over the validation images...")
def image_vectors(store_root: str, run_id: int, limit: int) -> tuple[emb.ImageEmbeddings, WordVectors]:
    """The activations, and the same as WordVectors named by label (one object per run and limit, so
    its index and unit-vector cache are built once, not on every rerun)."""
    data = emb.image_activations(RunStore(store_root), run_id, limit=limit)
    names = [f"{data.classes[y]} #{i}" for i, y in enumerate(data.labels)]
    return data, WordVectors(f"run {run_id} ({data.layer})", names, data.vectors)


def _is_image_dataset(name: str) -> bool:
    from engine.data import get_info
    try:
        return get_info(name).kind == "image"
    except (KeyError, ValueError):
        return False


def pick_source(store: RunStore) -> Source | None:
    """The "Vectors" choice and its own settings; None (with the reason shown) while there are none."""
    source = st.segmented_control("Vectors", list(SOURCES), format_func=SOURCES.get, default="glove", key="source")
    source = source or "glove"
    if source == "glove":
        return glove_source()
    if source == "trained":
        return trained_source(store)
    if source == "upload":
        return upload_source()
    return image_source(store)


def glove_source() -> Source | None:
    try:
        return Source(glove(), "glove50")
    except (FileNotFoundError, VectorsFormatError) as err:
        st.error(escape_markdown(err), icon=":material/error:")
        return None


def run_label(r) -> str:
    notes = [f"{r.final['vocabulary']:,} words"] if isinstance(r.final.get("vocabulary"), int) else []
    notes += [r.status] if r.status != "completed" else []
    return f"#{r.id} {r.model} on {r.dataset}" + (f" ({', '.join(notes)})" if notes else "")


def trained_source(store: RunStore) -> Source | None:
    """Train new vectors (the panel), or pick a run that trained some."""
    # A stopped or killed run keeps the vectors of its finished epochs: they can be explored too.
    runs = [r for r in store.list_runs() if r.model in WORD2VEC_MODELS
            and r.status in ("completed", "stopped", "interrupted") and store.checkpoint_epochs(r.id)]
    with st.expander("Train new vectors with gensim", expanded=not runs or "w2v_job" in st.session_state):
        train_panel(store)
    if not runs:
        st.info("No trained vectors yet: train some above (the Lee corpus takes about a second).",
                icon=":material/info:")
        return None
    labels_of = {r.id: run_label(r) for r in runs}
    run_id = st.selectbox("Trained run", list(labels_of), format_func=labels_of.get,
                          key=kept_choice("trained_run", list(labels_of), runs[0].id))
    run = store.get_run(run_id)
    vectors = run_vectors(str(store.root), run_id, run.updated)
    try:
        check_usable(len(vectors), vectors.dim)  # a corpus of one repeated word trains one vector
    except VectorsFormatError as err:
        st.error(f"Run {run_id} cannot be explored: {err}", icon=":material/error:")
        return None
    return Source(vectors, f"run:{run_id}:{run.updated}")


def upload_source() -> Source | None:
    """A vectors file (and its metadata) uploaded here; read once per content."""
    left, right = st.columns(2)
    limit = f"Up to {size_text(MAX_UPLOAD_BYTES)}, also once decompressed."
    vec_file = left.file_uploader("Vectors: word2vec text/binary, GloVe .txt or Projector vectors.tsv (.gz too)",
                                  key="vec_upload", max_upload_size=MAX_UPLOAD_BYTES // 2**20, help=limit)
    meta_file = right.file_uploader("Metadata (optional, Projector metadata.tsv)", key="meta_upload",
                                    max_upload_size=MAX_UPLOAD_BYTES // 2**20, help=limit)
    if vec_file is None:
        st.info(f"Upload a vectors file to explore it. Limit: {size_text(MAX_UPLOAD_BYTES)} (uncompressed).",
                icon=":material/upload_file:")
        return None
    raw = vec_file.getvalue()
    meta = meta_file.getvalue() if meta_file is not None else None
    digest = hashlib.sha256(raw + b"\0" + (meta or b"")).hexdigest()
    try:
        return Source(uploaded_vectors(digest, raw, vec_file.name, meta), f"upload:{digest}")
    except VectorsFormatError as err:
        st.error(f"Cannot read {escape_markdown(vec_file.name)}: {escape_markdown(err)}", icon=":material/error:")
        return None


def image_source(store: RunStore) -> Source | None:
    """An image-classifier run's activations over its validation images."""
    image_runs = [r for r in store.list_runs() if r.model not in WORD2VEC_MODELS and r.status in ("completed", "stopped")
                  and _is_image_dataset(r.dataset)
                  and store.checkpoint_epochs(r.id)]
    if not image_runs:
        st.info("No image-classifier runs yet: train a CNN or MLP on MNIST or digits on the Training page "
                "(or `python -m engine train --model cnn --dataset mnist --epochs 1`).", icon=":material/info:")
        return None
    names = {r.id: f"#{r.id} {r.model} on {r.dataset}" for r in image_runs}
    left, right = st.columns(2)
    run_id = left.selectbox("Classifier run", list(names), format_func=names.get,
                            key=kept_choice("image_run", list(names), image_runs[0].id))
    limit = right.select_slider("Validation images", IMAGE_LIMITS, key=kept_choice("image_limit", IMAGE_LIMITS, 2000))
    try:
        image_data, wv = image_vectors(str(store.root), run_id, limit)
    except (ValueError, FileNotFoundError, KeyError) as err:
        st.error(f"Cannot embed run {run_id}: {escape_markdown(err)}", icon=":material/error:")
        return None
    st.caption(f"{len(wv):,} validation images, {wv.dim}-dimensional activations ({image_data.layer}).")
    return Source(wv, f"image:{run_id}:{limit}", image_data)
