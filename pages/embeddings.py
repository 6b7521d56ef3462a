"""Embeddings: word vectors (GloVe, trained here, uploaded) or image-classifier activations in 3D,
with search, neighbours in the original space, analogies, similarity heatmaps, evaluation, exports."""
from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from engine.embeddings import explore as emb
from engine.embeddings import project
from engine.core.device import default_device
from engine.core.paths import runs_dir
from engine.core.runs import RunStore
from engine.embeddings.vectors import MAX_UPLOAD_BYTES, WORD2VEC_MODELS, VectorsFormatError, WordVectors, load_glove50, \
    load_run_vectors, load_vectors_file
from pages._ui import embeddings_plot as plots
from pages._ui.embeddings_train import train_panel


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


@st.cache_data(max_entries=16, show_spinner="Clustering (k-means)...")
def kmeans_labels(source_key: str, _x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import MiniBatchKMeans
    return MiniBatchKMeans(n_clusters=k, random_state=0, n_init=3, batch_size=2048).fit_predict(_x)


@st.cache_data(max_entries=8, show_spinner="Evaluating on the Google analogies, WordSim-353 and SimLex-999...")
def evaluation(source_key: str, _wv: WordVectors) -> dict:
    return emb.evaluate(_wv, device=device)


def _is_image_dataset(name: str) -> bool:
    from engine.data import get_info
    try:
        return get_info(name).kind == "image"
    except (KeyError, ValueError):
        return False


try:
    device = default_device()
except ValueError:
    import torch
    device = torch.device("cpu")

st.title("Embeddings")
st.caption("Word vectors in 3D: pretrained GloVe, vectors you train here, or your own file; or what an image "
           "classifier sees. Neighbours and analogies use cosine similarity in the original space, not the map.")
store = RunStore(runs_dir())

# ---- source -----------------------------------------------------------------------------------------
SOURCES = {"glove": "GloVe 6B 50d", "trained": "Trained here", "upload": "Upload vectors", "image": "Image classifier"}
source = st.segmented_control("Vectors", list(SOURCES), format_func=SOURCES.get, default="glove", key="source")
source = source or "glove"
wv: WordVectors | None = None
source_key = ""
labels = None  # image embeddings: true labels
image_data = None

if source == "glove":
    try:
        wv = glove()
        source_key = "glove50"
    except (FileNotFoundError, VectorsFormatError) as err:
        st.error(str(err), icon=":material/error:")
elif source == "trained":
    # A stopped or killed run keeps the vectors of its finished epochs: they can be explored too.
    runs = [r for r in store.list_runs() if r.model in WORD2VEC_MODELS
            and r.status in ("completed", "stopped", "interrupted") and store.checkpoint_epochs(r.id)]
    with st.expander("Train new vectors with gensim", expanded=not runs or "w2v_job" in st.session_state):
        train_panel(store)
    if runs:
        def label(r) -> str:
            notes = [f"{r.final['vocabulary']:,} words"] if isinstance(r.final.get("vocabulary"), int) else []
            notes += [r.status] if r.status != "completed" else []
            return f"#{r.id} {r.model} on {r.dataset}" + (f" ({', '.join(notes)})" if notes else "")
        labels_of = {r.id: label(r) for r in runs}
        run_id = st.selectbox("Trained run", list(labels_of), format_func=labels_of.get, key="trained_run")
        run = store.get_run(run_id)
        wv = run_vectors(str(store.root), run_id, run.updated)
        source_key = f"run:{run_id}:{run.updated}"
    else:
        st.info("No trained vectors yet: train some above (the Lee corpus takes about a second).",
                icon=":material/info:")
elif source == "upload":
    left, right = st.columns(2)
    vec_file = left.file_uploader("Vectors: word2vec text/binary, GloVe .txt or Projector vectors.tsv (.gz too)",
                                  key="vec_upload", max_upload_size=MAX_UPLOAD_BYTES // 2**20)
    meta_file = right.file_uploader("Metadata (optional, Projector metadata.tsv)", key="meta_upload",
                                    max_upload_size=MAX_UPLOAD_BYTES // 2**20)
    if vec_file is not None:
        raw = vec_file.getvalue()
        meta = meta_file.getvalue() if meta_file is not None else None
        digest = hashlib.sha256(raw + b"\0" + (meta or b"")).hexdigest()
        try:
            wv = uploaded_vectors(digest, raw, vec_file.name, meta)
            source_key = f"upload:{digest}"
        except VectorsFormatError as err:
            st.error(f"Cannot read {vec_file.name}: {err}", icon=":material/error:")
    else:
        st.info("Upload a vectors file to explore it. Limit: "
                f"{MAX_UPLOAD_BYTES // 2**20} MB (uncompressed).", icon=":material/upload_file:")
else:
    image_runs = [r for r in store.list_runs() if r.model not in WORD2VEC_MODELS and r.status in ("completed", "stopped")
                  and _is_image_dataset(r.dataset)
                  and store.checkpoint_epochs(r.id)]
    if not image_runs:
        st.info("No image-classifier runs yet: train a CNN or MLP on MNIST or digits on the Training page "
                "(or `python -m engine train --model cnn --dataset mnist --epochs 1`).", icon=":material/info:")
    else:
        names = {r.id: f"#{r.id} {r.model} on {r.dataset}" for r in image_runs}
        left, right = st.columns(2)
        run_id = left.selectbox("Classifier run", list(names), format_func=names.get, key="image_run")
        limit = right.select_slider("Validation images", [500, 1000, 2000, 5000, 10000], value=2000, key="image_limit")
        try:
            image_data, wv = image_vectors(str(store.root), run_id, limit)
        except (ValueError, FileNotFoundError, KeyError) as err:
            st.error(f"Cannot embed run {run_id}: {err}", icon=":material/error:")
        if image_data is not None:
            labels = image_data.labels
            source_key = f"image:{run_id}:{limit}"
            st.caption(f"{len(wv):,} validation images, {wv.dim}-dimensional activations ({image_data.layer}).")

if wv is None:
    st.stop()

# ---- projection settings --------------------------------------------------------------------------
total = len(wv)
st.markdown(f"**{wv.name}**: {total:,} {'points' if labels is not None else 'words'} × {wv.dim} dimensions")
# A shared link may set the first view: ?top=5000&method=pca&q=king&colour=rank
url = st.query_params
c1, c2, c3, c4 = st.columns([1.2, 0.8, 2, 2])
methods = ["pca", "umap", "tsne"]
method = c1.selectbox("Projection", methods, key="method", index=methods.index(url.get("method", "pca"))
                      if url.get("method") in methods else 0,
                      format_func={"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}.get)
dims = c2.radio("Dimensions", [3, 2], horizontal=True, key="dims")
default_n = min(int(url["top"]) if url.get("top", "").isdigit() else 10_000, total)
top_n = c3.slider("Points (most frequent first)", min(10, total), total, default_n,
                  step=1 if total < 1000 else 100, key=f"top_n:{source_key}")
params: dict = {}
with c4:
    if method == "umap":
        p1, p2, p3 = st.columns(3)
        params["n_neighbors"] = p1.number_input("n_neighbors", 2, 200, 15, key="umap_nn")
        params["min_dist"] = p2.number_input("min_dist", 0.0, 1.0, 0.1, 0.05, key="umap_md")
        params["metric"] = p3.selectbox("metric", project.UMAP_METRICS, key="umap_metric")
    elif method == "tsne":
        p1, p2 = st.columns(2)
        params["perplexity"] = p1.number_input("perplexity", 2.0, 100.0, 30.0, 1.0, key="tsne_perplexity")
        params["n_iter"] = p2.number_input("iterations", 100, 2000, 500, 50, key="tsne_iter")
    else:
        st.caption("PCA: linear, instant. UMAP and t-SNE keep local neighbourhoods; they take longer and run "
                   "when you press the button.")

x = np.asarray(wv.vectors[:top_n], dtype=np.float32)
words = wv.words[:top_n]
result = None
try:
    result = project.cached(x, method, dims, **params)
    if result is None and method == "pca":
        result = project.fit_transform(x, method, dims, **params)
except ValueError as err:
    st.error(str(err), icon=":material/block:")
    st.stop()

if result is None:
    warming = method == "umap" and project.umap_warming()
    # The default GloVe maps (10k words, default params) are computed in the background at start.
    precomputing = (method == "umap" and source_key == "glove50" and top_n == project.DEFAULT_MAP_WORDS and dims == 3
                    and params == project.DEFAULTS["umap"] and project.default_map_pending())
    if warming or precomputing:
        st.info("UMAP is compiling in the background (30-45 s once per server start). PCA and t-SNE work "
                "meanwhile; this button turns on when it is ready." if warming else
                "The default UMAP map of GloVe's 10k most frequent words is being computed in the background "
                "since the app started: it appears here by itself when ready.", icon=":material/hourglass_top:")

        @st.fragment(run_every=2)
        def wait_for_umap():
            if project.umap_ready() and not (precomputing and project.default_map_pending()):
                st.rerun(scope="app")
        wait_for_umap()
    label = {"umap": "UMAP", "tsne": "t-SNE"}[method]
    if st.button(f"Run {label} on {top_n:,} points in {dims}D", type="primary", disabled=warming or precomputing,
                 icon=":material/play_arrow:", key="project_button"):
        bar = st.progress(0.0, text=f"{label}...")
        try:
            result = project.fit_transform(x, method, dims, progress=lambda f, m: bar.progress(f, text=m), **params)
            bar.empty()
        except (ValueError, MemoryError) as err:
            bar.empty()
            st.error(f"{label} failed: {err}", icon=":material/error:")
    if result is None:
        st.caption(f"{label} results are cached: the same vectors and settings come back instantly.")
        st.stop()

coords = result.coords
if result.explained_variance:
    variance = ", ".join(f"{v:.1%}" for v in result.explained_variance)
    st.caption(f"PCA variance explained per axis: {variance} (total {sum(result.explained_variance):.1%}).")
else:
    st.caption(f"{result.method.upper()} of {top_n:,} points"
               + (" (from the cache)" if result.cached else f" in {result.seconds:.1f} s"))

# ---- search -----------------------------------------------------------------------------------------
s1, s2, s3, s4 = st.columns([2, 1, 1.4, 1.6])
query = s1.text_input("Search a word" if labels is None else "Search a point (e.g. '3 #12')", url.get("q", ""),
                      key="query").strip()
k = s2.number_input("Neighbours", 1, 200, 10, key="k")
colour_options = ["cluster", "rank", "group"] if labels is None else ["label", "cluster"]
colour_by = s3.selectbox("Colour by", colour_options, key=f"colour_by:{labels is None}",
                         index=colour_options.index(url["colour"]) if url.get("colour") in colour_options else 0,
                         format_func={"cluster": "k-means cluster", "rank": "frequency rank", "group": "word group",
                                      "label": "true label"}.get)
n_labels = s4.slider("Labels on other points", 0, 200, 0 if labels is not None else 30, key="n_labels")

highlight, neighbour_rows, neighbour_table = [], [], None
if query:
    try:
        found = emb.neighbours(wv, query, k, device=device)
        i = wv.index[query]
        neighbour_table = [{"word": n.word, "cosine": round(n.similarity, 4), "rank": n.index + 1,
                            "on the map": n.index < top_n} for n in found]
        if i < top_n:
            highlight = [i]
        else:
            st.caption(f"'{query}' is word #{i + 1:,}: outside the {top_n:,} points on the map (raise the slider).")
        neighbour_rows = [n.index for n in found if n.index < top_n]
    except emb.UnknownWordError as err:
        st.warning(str(err), icon=":material/search_off:")

colour_mode, colour_values, categories = "continuous", None, None
if colour_by == "cluster":
    n_clusters = st.slider("Clusters", 2, 30, 10, key="n_clusters")
    colour_values = kmeans_labels(f"{source_key}:{top_n}", x, n_clusters)
    colour_mode, categories = "category", [f"cluster {c}" for c in range(n_clusters)]
elif colour_by == "label":
    colour_values, colour_mode = labels[:top_n], "category"
    categories = list(image_data.classes)
elif colour_by == "group":
    group_text = st.text_input("Word group (comma separated)", "red, green, blue, yellow, purple, orange",
                               key="group")
    group = {w.strip() for w in group_text.split(",") if w.strip()}
    colour_values, colour_mode = np.array([1 if w in group else 0 for w in words]), "group"
    missing = sorted(w for w in group if w not in wv.index or wv.index[w] >= top_n)
    if missing:
        st.caption(f"Not on the map: {', '.join(missing)}")
    highlight = highlight + [i for i, w in enumerate(words) if w in group]
else:
    colour_values = np.log10(np.arange(1, top_n + 1))

labelled = [i for i in range(min(n_labels, top_n))] if n_labels else []

map_col, side_col = st.columns([3, 1.3])
with map_col:
    fig = plots.cloud_figure(coords, words, colour_values, colour_mode, categories, highlight=highlight,
                             neighbours=neighbour_rows, labelled=labelled)
    st.plotly_chart(fig, key="cloud", config={"scrollZoom": True})
with side_col:
    if neighbour_table is not None:
        st.markdown(f"**Nearest to '{query}'** (cosine, original {wv.dim}-d space)")
        st.dataframe(neighbour_table, hide_index=True, key="neighbours_table", height=min(36 * (k + 2), 560))
    else:
        st.caption("Search a word to highlight it and list its nearest neighbours.")
    if image_data is not None and query and query in wv.index:
        st.image(image_data.images[wv.index[query], 0], caption=query, width=112, clamp=True)

# ---- linked 2D view for box / lasso selection -------------------------------------------------------
with st.expander("Select points (box or lasso on a 2D view of the same map)", expanded=False):
    event = st.plotly_chart(plots.selection_figure(coords, words, colour_values, colour_mode, categories),
                            key="select2d", on_select="rerun", selection_mode=("box", "lasso"))
    picked = sorted({int(p["point_index"]) for p in (event.selection.points if event else [])
                     if p.get("curve_number", 0) == 0})
    if picked:
        st.markdown(f"**{len(picked):,} selected**")
        if image_data is not None:
            st.image([image_data.images[i, 0] for i in picked[:48]], caption=[words[i] for i in picked[:48]],
                     width=56, clamp=True)
        else:
            st.write(", ".join(words[i] for i in picked[:500]) + (" ..." if len(picked) > 500 else ""))
    else:
        st.caption("Drag a box or a lasso around points to list them (3D plots have no selection tools).")

if labels is not None:
    st.stop()  # analogies, heatmaps and word benchmarks are for words

# ---- analogies, heatmap, evaluation, exports --------------------------------------------------------
analogy_tab, heatmap_tab, eval_tab, export_tab = st.tabs(["Analogies", "Similarity heatmap", "Evaluate", "Export"])
with analogy_tab:
    a1, a2, a3, a4 = st.columns(4)
    b = a1.text_input("b (e.g. king)", "king", key="an_b").strip()
    a = a2.text_input("minus a (e.g. man)", "man", key="an_a").strip()
    c = a3.text_input("plus c (e.g. woman)", "woman", key="an_c").strip()
    an_k = a4.number_input("results", 1, 50, 5, key="an_k")
    if a and b and c:
        try:
            answers = emb.analogy(wv, a, b, c, an_k, device=device)
            st.markdown(f"**{b} − {a} + {c} ≈ {answers[0].word}**")
            st.dataframe([{"word": n.word, "cosine": round(n.similarity, 4)} for n in answers], hide_index=True,
                         key="analogy_table")
        except emb.UnknownWordError as err:
            st.warning(str(err), icon=":material/search_off:")
with heatmap_tab:
    text = st.text_area("Words (comma or space separated)", "king queen man woman paris france london england",
                        key="heat_words")
    chosen = [w for w in text.replace(",", " ").split() if w]
    found_words, missing, matrix = emb.similarity_matrix(wv, chosen[:60], device=device)
    if missing:
        st.caption(f"Not in the vocabulary: {', '.join(missing)}")
    if found_words:
        st.plotly_chart(plots.similarity_heatmap(found_words, matrix), key="heatmap")
with eval_tab:
    st.caption("Google analogy accuracy (3CosAdd over the 300k most frequent words) and Spearman correlation with "
               "human judgements on WordSim-353 and SimLex-999; coverage = share of items in the vocabulary.")
    if st.button("Evaluate these vectors", key="evaluate", icon=":material/fact_check:"):
        st.session_state[f"eval:{source_key}"] = True
    if st.session_state.get(f"eval:{source_key}"):
        scores = evaluation(source_key, wv)
        g = scores["google analogies"]
        rows = [{"benchmark": "Google analogies", "score": f"{g['accuracy']:.1%} accuracy",
                 "coverage": f"{g['answered']:,} / {g['total']:,} ({g['coverage']:.0%})"}]
        for name, title in (("wordsim353", "WordSim-353"), ("simlex999", "SimLex-999")):
            s = scores[name]
            rows.append({"benchmark": title, "score": f"Spearman {s['spearman']:.3f}",
                         "coverage": f"{s['pairs']:,} / {s['total']:,} ({s['coverage']:.0%})"})
        st.dataframe(rows, hide_index=True, key="eval_table")
with export_tab:
    st.caption("Files are built when you click (the whole map may be large).")
    e1, e2, e3, e4 = st.columns(4)
    stem = source_key.replace(":", "-")[:40]
    meta_frame = wv.metadata.iloc[:top_n] if wv.metadata is not None else None
    e1.download_button("Coordinates (CSV)", lambda: emb.coords_csv(words, coords),
                       file_name=f"{stem}-{method}{dims}d.csv", mime="text/csv", icon=":material/download:",
                       on_click="ignore", key="dl_csv")
    e2.download_button("vectors.tsv (Projector)", lambda: emb.projector_tsvs(words, x, meta_frame)[0],
                       file_name="vectors.tsv", mime="text/tab-separated-values", icon=":material/download:",
                       on_click="ignore", key="dl_vectors")
    e3.download_button("metadata.tsv (Projector)", lambda: emb.projector_tsvs(words, x[:, :1], meta_frame)[1],
                       file_name="metadata.tsv", mime="text/tab-separated-values", icon=":material/download:",
                       on_click="ignore", key="dl_meta")
    if dims == 3:
        e4.download_button("Point cloud (.tsv.gz)", lambda: emb.pointcloud_gz(words, coords),
                           file_name=f"{stem}-points.tsv.gz", mime="application/gzip", icon=":material/download:",
                           on_click="ignore", key="dl_cloud")
    else:
        e4.caption("The point-cloud file (word, x, y, z) needs a 3D map.")
