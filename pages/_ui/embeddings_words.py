"""The Embeddings page's tabs for word vectors: analogies, a similarity heatmap, the standard
benchmarks and the exports (CSV, TensorFlow Projector files, a point cloud)."""
from __future__ import annotations

import streamlit as st

from engine.embeddings import explore as emb
from engine.embeddings.vectors import WordVectors
from pages._ui import embeddings_plot as plots
from pages._ui.embeddings_projection import Points
from pages._ui.embeddings_sources import Source
from pages._ui.embeddings_state import kept, kept_number
from pages._ui.safe_markdown import escape_markdown

BENCHMARKS = (("wordsim353", "WordSim-353"), ("simlex999", "SimLex-999"))


@st.cache_data(max_entries=8, show_spinner="Evaluating on the Google analogies, WordSim-353 and SimLex-999...")
def evaluation(source_key: str, _wv: WordVectors, _device) -> dict:
    return emb.evaluate(_wv, device=_device)


def word_tabs(source: Source, points: Points | None, device) -> None:
    analogy_tab, heatmap_tab, eval_tab, export_tab = st.tabs(["Analogies", "Similarity heatmap", "Evaluate", "Export"])
    with analogy_tab:
        analogies(source.vectors, device)
    with heatmap_tab:
        heatmap(source.vectors, device)
    with eval_tab:
        evaluate(source, device)
    with export_tab:
        exports(source, points)


def analogies(wv: WordVectors, device) -> None:
    """b − a + c: the nearest words (3CosAdd)."""
    a1, a2, a3, a4 = st.columns(4)
    b = a1.text_input("b (e.g. king)", key=kept("an_b", "king")).strip()
    a = a2.text_input("minus a (e.g. man)", key=kept("an_a", "man")).strip()
    c = a3.text_input("plus c (e.g. woman)", key=kept("an_c", "woman")).strip()
    an_k = a4.number_input("results", 1, 50, key=kept_number("an_k", 1, 50, 5))
    if not (a and b and c):
        return
    try:
        answers = emb.analogy(wv, a, b, c, an_k, device=device)
    except (emb.UnknownWordError, emb.ZeroVectorError) as err:
        st.warning(escape_markdown(err), icon=":material/search_off:")
        return
    if not answers:  # the three words are the whole vocabulary (or all of it but repeats)
        st.info(f"No answer: an analogy needs a fourth word, and these vectors hold only {len(wv)}.",
                icon=":material/info:")
        return
    shown = [escape_markdown(w) for w in (b, a, c, answers[0].word)]  # typed words and a file's words
    st.markdown("**{} − {} + {} ≈ {}**".format(*shown))
    st.dataframe([{"word": n.word, "cosine": round(n.similarity, 4)} for n in answers], hide_index=True,
                 key="analogy_table")


def heatmap(wv: WordVectors, device) -> None:
    """Cosine similarity of every pair of the words typed here (up to 60)."""
    text = st.text_area("Words (comma or space separated)",
                        key=kept("heat_words", "king queen man woman paris france london england"))
    chosen = [w for w in text.replace(",", " ").split() if w]
    found_words, missing, matrix = emb.similarity_matrix(wv, chosen[:60], device=device)
    if missing:
        st.caption(f"Not in the vocabulary: {escape_markdown(', '.join(missing))}")
    if found_words:
        st.plotly_chart(plots.similarity_heatmap(found_words, matrix), key="heatmap")


def evaluate(source: Source, device) -> None:
    """The Google analogies, WordSim-353 and SimLex-999, on a button (then kept for these vectors)."""
    st.caption("Google analogy accuracy (3CosAdd over the 300k most frequent words) and Spearman correlation with "
               "human judgements on WordSim-353 and SimLex-999; coverage = share of items in the vocabulary.")
    if st.button("Evaluate these vectors", key="evaluate", icon=":material/fact_check:"):
        st.session_state[f"eval:{source.key}"] = True
    if not st.session_state.get(f"eval:{source.key}"):
        return
    scores = evaluation(source.key, source.vectors, device)
    g = scores["google analogies"]
    rows = [{"benchmark": "Google analogies", "score": f"{g['accuracy']:.1%} accuracy",
             "coverage": f"{g['answered']:,} / {g['total']:,} ({g['coverage']:.0%})"}]
    for name, title in BENCHMARKS:
        s = scores[name]
        score = f"Spearman {s['spearman']:.3f}" if s["spearman"] is not None else "too few pairs in the vocabulary"
        rows.append({"benchmark": title, "score": score,
                     "coverage": f"{s['pairs']:,} / {s['total']:,} ({s['coverage']:.0%})"})
    st.dataframe(rows, hide_index=True, key="eval_table")


def exports(source: Source, points: Points | None) -> None:
    """Download buttons; each file is built when its button is clicked."""
    if points is None:
        st.caption("The exports hold the map's points: they are offered once the map is drawn.")
        return
    st.caption("Files are built when you click (the whole map may be large).")
    e1, e2, e3, e4 = st.columns(4)
    words, x, coords, top_n = points.words, points.x, points.coords, len(points.words)
    stem = source.key.replace(":", "-")[:40]
    meta_frame = source.vectors.metadata.iloc[:top_n] if source.vectors.metadata is not None else None
    e1.download_button("Coordinates (CSV)", lambda: emb.coords_csv(words, coords),
                       file_name=f"{stem}-{points.method}{points.dims}d.csv", mime="text/csv",
                       icon=":material/download:", on_click="ignore", key="dl_csv")
    e2.download_button("vectors.tsv (Projector)", lambda: emb.projector_tsvs(words, x, meta_frame)[0],
                       file_name="vectors.tsv", mime="text/tab-separated-values", icon=":material/download:",
                       on_click="ignore", key="dl_vectors")
    e3.download_button("metadata.tsv (Projector)", lambda: emb.projector_tsvs(words, x[:, :1], meta_frame)[1],
                       file_name="metadata.tsv", mime="text/tab-separated-values", icon=":material/download:",
                       on_click="ignore", key="dl_meta")
    if points.dims == 3:
        e4.download_button("Point cloud (.tsv.gz)", lambda: emb.pointcloud_gz(words, coords),
                           file_name=f"{stem}-points.tsv.gz", mime="application/gzip", icon=":material/download:",
                           on_click="ignore", key="dl_cloud")
    else:
        e4.caption("The point-cloud file (word, x, y, z) needs a 3D map.")
