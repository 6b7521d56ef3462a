"""The Embeddings page's "train your own vectors" panel: corpus, sliders, Train/Stop, live progress."""
from __future__ import annotations

import streamlit as st

from engine.params import ParamError
from engine.word2vec import CORPORA, PARAMS, WordVectorJob, active_jobs, corpus_from_bytes, load_corpus
from pages._ui.embeddings_plot import loss_figure
from pages._ui.params_ui import param_inputs


@st.cache_resource(max_entries=4, show_spinner="Reading the corpus...")
def bundled_corpus(name: str):
    return load_corpus(name)


def train_panel(store) -> None:
    """Settings and the Train button; the job's progress refreshes in a fragment while it runs."""
    kind = st.radio("Model", ["word2vec", "fasttext"], horizontal=True, key="w2v_kind",
                    format_func={"word2vec": "Word2Vec", "fasttext": "FastText (char n-grams)"}.get)
    corpus_name = st.selectbox("Corpus", [*CORPORA, "upload"], key="w2v_corpus",
                               format_func=lambda c: CORPORA.get(c, "Upload a text file (.txt, .txt.gz)"))
    upload = None
    if corpus_name == "upload":
        upload = st.file_uploader("Corpus file", type=["txt", "gz"], key="w2v_upload",
                                  help="plain text, one sentence or paragraph per line; gzipped is fine")
    values = param_inputs(PARAMS, prefix="w2v.")
    job_id = st.session_state.get("w2v_job")
    running = job_id in active_jobs()
    if st.button("Train vectors", type="primary", icon=":material/play_arrow:", disabled=running,
                 key="w2v_train"):
        try:
            if corpus_name == "upload":
                if upload is None:
                    raise ParamError("choose a corpus file to upload first")
                corpus = corpus_from_bytes(upload.getvalue(), name=f"upload:{upload.name}")
                for warning in corpus.warnings:
                    st.warning(warning, icon=":material/warning:")
            else:
                corpus = bundled_corpus(corpus_name)
            job = WordVectorJob(kind, corpus, values, store).start()
            st.session_state.w2v_job = job.run_id
            st.rerun()
        except (ParamError, ValueError, FileNotFoundError) as err:
            st.error(str(err), icon=":material/block:")
    if job_id is not None:
        job_progress(store, job_id)


def job_progress(store, run_id: int) -> None:
    """Polls twice a second while the job trains; once it ends the page redraws once and stops polling."""
    fragment = st.fragment(run_every=0.5 if run_id in active_jobs() else None)(_job_view)
    fragment(store, run_id)


def _job_view(store, run_id: int) -> None:
    job = active_jobs().get(run_id)
    try:
        run = store.get_run(run_id)
    except KeyError:
        st.session_state.pop("w2v_job", None)
        return
    if job is not None:
        st.progress(job.fraction, text=f"Run {run_id}: {job.note}")
        if st.button("Stop", icon=":material/stop:", key="w2v_stop"):
            job.stop()
    else:
        if run.status == "completed":
            st.success(f"Run {run_id} ({run.model} on {run.dataset}) is done: "
                       f"{run.final.get('vocabulary', 0):,} words. Pick it under **Trained here** above.",
                       icon=":material/check_circle:")
        elif run.status == "failed":
            st.error(f"Run {run_id} failed: {run.message}", icon=":material/error:")
        else:
            st.warning(f"Run {run_id} {run.status}: {run.message or ''}", icon=":material/pause_circle:")
        if st.session_state.get("w2v_seen") != run_id:  # redraw the page once so the run is listed
            st.session_state.w2v_seen = run_id
            st.rerun(scope="app")
    metrics = store.metrics(run_id, ["train_loss"])
    losses = metrics["value"].dropna().tolist()
    if losses:
        st.plotly_chart(loss_figure(losses), key=f"w2v_loss_{run_id}")
    elif run.model == "fasttext":
        st.caption("gensim reports no training loss for FastText; progress is per epoch.")
