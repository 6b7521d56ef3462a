"""The Attention page's MiniLM view: the pretrained all-MiniLM-L6-v2's attention for a sentence (or
a pair), the similarity of two sentences, and integrated gradients beside the attention each token
receives. MiniLM is loaded once per server (a frozen, read-only model)."""
from __future__ import annotations

import streamlit as st

from engine.attention.heads import attention_received
from engine.core.params import ParamError
from pages._ui import attention_charts as charts
from pages._ui.attention_heads import show_stack


@st.cache_resource(show_spinner="Loading MiniLM (once per server)...")
def minilm_model():
    from engine.attention.minilm import load_minilm
    return load_minilm()


@st.cache_data(max_entries=64, show_spinner="Reading MiniLM's attention...")
def minilm_maps(a: str, b: str | None):
    from engine.attention.minilm import minilm_attention
    return minilm_attention(a, b)


@st.cache_data(max_entries=64, show_spinner=False)
def minilm_similarity(a: str, b: str) -> float:
    from engine.attention.minilm import pair_similarity
    return pair_similarity(a, b)


@st.cache_data(max_entries=32, show_spinner="Integrated gradients over the embeddings...")
def minilm_attributions(a: str, b: str, steps: int):
    from engine.attention.minilm import similarity_attributions
    return similarity_attributions(a, b, steps)


def minilm_view() -> None:
    st.markdown("**all-MiniLM-L6-v2**, a 6-layer, 12-head sentence encoder, loaded offline. Expect early layers "
                "to attend to the next or previous token and to `[SEP]`, later heads to link related words; a head "
                "that looks important may still matter little to the output: the attributions below say "
                "which tokens actually move the similarity of two sentences.")
    try:
        minilm_model()
    except (FileNotFoundError, OSError) as err:
        st.error(f"MiniLM is not available: {err}")
        return
    left, right = st.columns(2)
    # Typed sentences are kept for the session: a switch to another view and back dropped them.
    a = left.text_area("Sentence A", "The cat sat on the mat.", key="mini_a", height=80, max_chars=2000,
                       persist_state="session")
    b = right.text_area("Sentence B (optional)", "A kitten was sitting on a rug.", key="mini_b", height=80,
                        max_chars=2000, persist_state="session")
    pair = st.toggle("Attention over the pair (A [SEP] B) instead of A alone", key="mini_pair", value=False)
    try:
        maps = minilm_maps(a, b if pair else None)
    except ParamError as err:
        st.error(str(err), icon=":material/error:")
        return
    for notice in maps.notices:
        st.warning(notice, icon=":material/content_cut:")
    show_stack(maps.attentions, maps.tokens, maps.tokens, "MiniLM self-attention", "mini",
               "attends to (key)", "token (query)")
    similarity_view(a, b)


def similarity_view(a: str, b: str) -> None:
    st.subheader("Similarity and token attributions", anchor=False)
    if not b.strip():
        st.info("Type sentence B to compare the two sentences and attribute their similarity to tokens.")
        return
    try:
        similarity = minilm_similarity(a, b)
    except ParamError as err:
        st.error(str(err), icon=":material/error:")
        return
    st.metric("Cosine similarity of the sentence embeddings (mean pooling)", f"{similarity:.3f}")
    steps = st.select_slider("Integrated-gradients steps", [8, 16, 32, 64], value=16, key="mini_steps",
                             help="more steps: a closer path integral (smaller completeness error), slower")
    if not st.toggle("Compute token attributions (a few seconds on a CPU)", key="mini_ig"):
        return
    try:
        attr = minilm_attributions(a, b, steps)
    except ParamError as err:
        st.error(str(err))
        return
    attributions_view(a, attr)


def attributions_view(a: str, attr) -> None:
    """The attention each token of A receives (at the layer and head picked above) beside the
    integrated gradients of both sentences' tokens."""
    layer, head = st.session_state.get("mini_layer", 0), st.session_state.get("mini_head", "mean")
    single = minilm_maps(a, None)
    # The sentence embedding is the mean over tokens, so the attention a token receives, averaged
    # over every query, is the attention-side counterpart of its attribution.
    received = attention_received(single.attentions, layer, None if head == "mean" else head)
    col1, col2 = st.columns(2)
    col1.plotly_chart(charts.token_bars(single.tokens, received,
                                        f"Attention each token of A receives (layer {layer}, "
                                        f"{'mean of heads' if head == 'mean' else f'head {head}'})",
                                        "mean attention received"),
                      key="mini_cls")
    col2.plotly_chart(charts.token_bars(attr.tokens_a, attr.scores_a, "Integrated gradients: A's tokens → similarity"),
                      key="mini_ig_a")
    st.plotly_chart(charts.token_bars(attr.tokens_b, attr.scores_b, "Integrated gradients: B's tokens → similarity"),
                    key="mini_ig_b")
    st.caption(f"Attributions of each sentence's tokens with the other sentence held fixed; baseline: every word "
               f"replaced by [PAD]. Completeness error {attr.delta:.2g} (sum of attributions vs the change in "
               f"similarity from the baseline). Where the attention bars and the attribution bars disagree, the "
               f"attention is not what explains the output.")
