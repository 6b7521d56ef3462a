"""Attention: train a transformer or a seq2seq model on a sequence task and watch its attention
form; type inputs and read every head; the pretrained MiniLM with integrated-gradients beside its
attention; positional encodings; and the recurrent models attention replaced.

Every run here (the linear-RNN demo's too) trains in its own process (engine.core.jobs): the page starts
it, sends Stop / Resume / Next epoch through the run store (RunControl), and its live views read
the run's progress from the store, rebuilding the attention maps only when a new checkpoint appears.
Each view is a function in pages/_ui/ (attention_views, minilm_views, positional_views, recurrent_views).
"""
from __future__ import annotations

import streamlit as st

from engine.attention.rnn_demo import LinearRnnJob
import engine.models  # noqa: F401  (registers the built-in models)
from engine.core.registry import specs_with
from engine.core.runs import RunStore
from pages._ui import attention_views, minilm_views, positional_views, recurrent_views
from pages._ui.store_views import open_store
from pages._ui.run_link import linked_run_id

VIEWS = ("Trained models", "MiniLM (pretrained)", "Positional encodings", "Recurrent")


def open_linked_run(store: RunStore) -> None:
    """A link from the training page (?run=ID) opens that run in the right view."""
    st.session_state.att_run = linked_run_id()
    if st.session_state.att_run is None or "view" in st.query_params:
        return
    try:
        linked = store.get_run(st.session_state.att_run).model
    except KeyError:
        linked = None
    if linked == LinearRnnJob.MODEL or linked in {s.name for s in specs_with("hidden_states")}:
        st.session_state.view = "Recurrent"
    if linked == LinearRnnJob.MODEL:  # the gradient demo's run (the Training page links here)
        st.session_state.lr_run = st.session_state.att_run


st.title("Attention")
st.caption("Attention you can watch form while a model trains, on models you configure, and next to an "
           "attribution that says whether it explains anything.")
store = open_store()
if "att_run" not in st.session_state:
    open_linked_run(store)
view = st.radio("View", VIEWS, horizontal=True, key="view", bind="query-params", label_visibility="collapsed")

{"Trained models": lambda: attention_views.trained_models_view(store),
 "MiniLM (pretrained)": minilm_views.minilm_view,
 "Positional encodings": positional_views.positions_view,
 "Recurrent": lambda: recurrent_views.recurrent_view(store)}[view]()
