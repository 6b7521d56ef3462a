"""The Embeddings page's "train your own vectors" panel: corpus, sliders, Train/Stop, live progress,
and the vocabulary's map, redrawn after each epoch (aligned to the last: words move as they learn).

The vectors train in a process of their own (engine.embeddings.word2vec.WordVectorJob): this panel starts the
job, stops it through the run store (RunControl) and draws what the job writes there. A bundled
corpus is read by the job's process, never by the server; an upload is read here (its problems are
shown before any run exists) and travels to the job packed.
"""
from __future__ import annotations

import numpy as np
import streamlit as st

from engine.core.jobs import RunControl
from engine.core.params import ParamError
from engine.core.uploads import size_text
from engine.embeddings import epoch_maps
from engine.embeddings.vectors import words_path
from engine.embeddings.word2vec import CORPORA, MAX_CORPUS_BYTES, PARAMS, WordVectorJob, corpus_from_bytes
from pages._ui import live as live_ui
from pages._ui.embeddings_epochs import PREFER, live_map_figure
from pages._ui.embeddings_plot import loss_figure
from pages._ui.params_ui import param_inputs
from pages._ui.safe_markdown import escape_markdown


def train_panel(store) -> None:
    """Settings and the Train button; the job's progress refreshes in a fragment while it runs."""
    kind = st.radio("Model", ["word2vec", "fasttext"], horizontal=True, key="w2v_kind",
                    format_func={"word2vec": "Word2Vec", "fasttext": "FastText (char n-grams)"}.get)
    corpus_name = st.selectbox("Corpus", [*CORPORA, "upload"], key="w2v_corpus",
                               format_func=lambda c: CORPORA.get(c, "Upload a text file (.txt, .txt.gz)"))
    upload = None
    if corpus_name == "upload":
        upload = st.file_uploader("Corpus file", type=["txt", "gz"], key="w2v_upload",
                                  max_upload_size=MAX_CORPUS_BYTES // 2**20,
                                  help=f"Plain text, one sentence or paragraph per line; gzipped is fine. Up to "
                                       f"{size_text(MAX_CORPUS_BYTES)}, also once decompressed.")
    values = param_inputs(PARAMS, prefix="w2v.")
    run_id = st.session_state.get("w2v_job")
    try:
        progress = RunControl(store, run_id).progress() if run_id is not None else None
    except KeyError:  # the run was deleted (e.g. on the Training page)
        st.session_state.pop("w2v_job", None)
        run_id, progress = None, None
    running = progress is not None and progress.running
    if st.button("Train vectors", type="primary", icon=":material/play_arrow:", disabled=running,
                 key="w2v_train"):
        try:
            corpus = chosen_corpus(corpus_name, upload)
            job = WordVectorJob(kind, corpus, values, store).start()
            st.session_state.w2v_job = job.run_id
            st.session_state[PREFER] = job.run_id  # once it ends, the page's map opens on its epochs
            # Shown under the run's progress (the rerun below would wipe a warning drawn now).
            st.session_state.w2v_warnings = (job.run_id, getattr(corpus, "warnings", []))
            st.rerun()
        except (ParamError, ValueError, FileNotFoundError) as err:
            st.error(escape_markdown(err), icon=":material/block:")
    if progress is not None:
        job_progress(store, run_id, progress)


def chosen_corpus(corpus_name: str, upload):
    """A bundled corpus by name (read by the job's process), or the uploaded file read here (its
    problems are shown before any run exists)."""
    if corpus_name != "upload":
        return corpus_name
    if upload is None:
        raise ParamError("choose a corpus file to upload first")
    return corpus_from_bytes(upload.getvalue(), name=f"upload:{upload.name}")


def job_progress(store, run_id: int, progress) -> None:
    """Polls the run while it trains; once it ends, the page redraws once (so the run is listed and
    Train is enabled again) and polling stops."""
    view = live_ui.live_run(store, run_id)
    run = store.get_run(run_id)  # read after `progress`: as fresh as what the page drew
    shown = (progress.status, progress.paused)  # what the full run drew (the Train button's state)
    warned_id, warnings = st.session_state.get("w2v_warnings", (None, []))
    for warning in warnings if warned_id == run_id else []:
        st.warning(escape_markdown(warning), icon=":material/warning:")
    # A run just started is "starting" for the second its process takes to come up: poll fast
    # then too, or the whole run would be followed at the slow pace (run_every is fixed until the
    # page reruns, and going from starting to training does not rerun it).
    every = live_ui.FAST_S if progress.running and progress.state == "starting" else live_ui.refresh_every(progress)

    @st.fragment(run_every=every)
    def job_view():
        follower = view.follower
        follower.poll()
        p = follower.progress
        if (p.status, p.paused) != shown:
            rerun_to_show(store, run_id, p)
        if p.running:
            text = f"Run {run_id}: " + (f"paused after epoch {p.epoch} of {p.epochs}" if p.paused else
                                        p.note or "starting its process...")
            if p.samples_per_s and not p.paused:
                text += f" · {p.samples_per_s:,.0f} words/s"
            # In steps of 0.5 %: the bar animates each time it moves, and that costs the browser.
            st.progress(round(p.done_fraction * 200) / 200, text=text)
            if st.button("Stop", icon=":material/stop:", key="w2v_stop",
                         help="stops within a second; the vectors of the epochs already finished are kept"):
                RunControl(store, run_id).stop(wait=5)
                rerun_to_show(store, run_id, RunControl(store, run_id).progress())
        elif p.status == "completed":
            st.success(f"Run {run_id} ({run.model} on {escape_markdown(run.dataset)}) is done: "
                       f"{run.final.get('vocabulary', 0):,} words, shown below.",
                       icon=":material/check_circle:")
        elif p.status == "failed":
            st.error(f"Run {run_id} failed: {escape_markdown(p.message)}", icon=":material/error:")
        else:  # stopped, interrupted
            st.warning(f"Run {run_id} {p.status}: {escape_markdown(p.message or '')}", icon=":material/pause_circle:")
        live_map(store, run_id, view, p)
        metrics = follower.metrics
        losses = metrics.value[metrics.name == "train_loss"].dropna().tolist()
        if losses:
            st.plotly_chart(view.figure("w2v_loss", len(losses), lambda: loss_figure(losses)),
                            key=f"w2v_loss_{run_id}")
        elif run.model == "fasttext":
            st.caption("gensim reports no training loss for FastText; progress is per epoch.")

    job_view()


def live_map(store, run_id: int, view, progress) -> None:
    """The newest epoch's map of the vocabulary (the job stores one per epoch, aligned to the last),
    rebuilt only when an epoch has ended: the map moves while the vectors train."""
    found = store.artifact(run_id, epoch_maps.NAMES[2])
    if found is None:
        if progress.running:
            st.caption("The vocabulary's map appears here after the first epoch, and moves with each epoch.")
        return
    epoch, coords = found

    def build():
        words = words_path(store, run_id).read_text(encoding="utf-8").split("\n")[:-1]
        return live_map_figure(coords.astype(np.float32), words[:len(coords)], epoch, progress.epochs or epoch)
    st.plotly_chart(view.figure("w2v_map", epoch, build), key=f"w2v_map_{run_id}")


def rerun_to_show(store, run_id: int, progress) -> None:
    """Redraw the page for the run's new state; a run that has ended with vectors (completed, or
    stopped after an epoch) is picked in the page's "Trained run" list, so they are shown next."""
    if not progress.running and store.checkpoint_epochs(run_id):
        st.session_state.trained_run = run_id
    st.rerun(scope="app")
