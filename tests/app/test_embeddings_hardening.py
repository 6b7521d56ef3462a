"""AppTest of the Embeddings page against bad and unusual input (issue #13): uploads over their
stated limits (a gzip bomb), tiny or 1-dimensional vocabularies, and widgets that must show the
setting the map uses after the page changed under them (a t-SNE run, an evaluation, a switch of
vectors). Each test names its input."""
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine.core.runs import RunStore
from engine.embeddings.word2vec import load_corpus, train_vectors
from tests.app.test_embeddings_page import PAGE, app_env, button, cloud, cloud_words, deck_map, ok, widget  # noqa: F401 (app_env: fixture)

HIGHLIGHT = [0xD5, 0x5E, 0x00]  # the word list's colour (Okabe-Ito vermillion)
from tests.bombs import gzip_bomb
from tests.waiting import projected

GROUP = ["red", "green", "blue"]


def vectors_file(n: int, dim: int = 3) -> bytes:
    """word2vec text: n words (red, green, blue, w3, w4, ...) of `dim` random dimensions."""
    rng = np.random.default_rng(n)
    words = (GROUP + [f"w{i}" for i in range(3, n)])[:n]
    rows = [w + " " + " ".join(f"{v:.4f}" for v in row) for w, row in zip(words, rng.normal(size=(n, dim)))]
    return (f"{n} {dim}\n" + "\n".join(rows) + "\n").encode()


def open_with_upload(content: bytes, name: str = "v.txt", **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    widget(at, "source").set_value("upload").run()
    at.file_uploader[0].set_value((name, content, "text/plain")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown(w) -> str:
    """What the browser draws in a selectbox or radio it mounts afresh (as it does when the widget
    comes back, or moved on the page): the value the page sent with it, else the default option."""
    proto = w.proto
    return proto.raw_value if proto.set_value else proto.options[proto.default]


def place(at: AppTest, found) -> tuple:
    """Where on the page (the path of child indices) the first node `found(node)` accepts sits."""
    def walk(node, path):
        for i, child in getattr(node, "children", {}).items():
            if found(child):
                return path + (i,)
            hit = walk(child, path + (i,))
            if hit:
                return hit
        return None
    return walk(at.main, ())


def is_cloud(node) -> bool:
    return node.type == "deck_gl_json_chart" and "cloud" in node.proto.id


def is_tabs(node) -> bool:
    return node.type == "tab_container"


def group_colours(at: AppTest) -> dict:
    """word -> colour of its layer (a map coloured by word group)."""
    return {row[3]: t["getFillColor"][:3] for t in cloud(at) for row in t["data"]}


# ---- widgets show what the map uses ----------------------------------------------------------------

def test_colour_by_word_group_stays_shown_and_used_through_a_tsne_run_and_an_evaluation():
    """Input: the link ?colour=rank, a 120-word upload; Colour by -> word group; Projection -> t-SNE;
    Run t-SNE; Evaluate these vectors. The box read "frequency rank" over a map coloured by word
    group, Evaluate switched the colouring back, and the map and the tabs moved on the page (a faded
    copy of the map stayed, the tabs went back to the first)."""
    at = open_with_upload(vectors_file(120, 8), colour="rank")
    assert shown(widget(at, "colour_by:True")) == "frequency rank"
    widget(at, "colour_by:True").set_value("group").run()
    widget(at, "method").set_value("tsne").run()
    ok(at)
    assert any(c.value == "PCA of these 120 points until t-SNE is ready." for c in at.caption)  # never blank
    button(at, "project_button").click().run()
    projected(at)
    ok(at)
    colour_by = widget(at, "colour_by:True")
    assert (colour_by.value, shown(colour_by)) == ("group", "word group")
    colours = group_colours(at)
    assert all(colours[w] == HIGHLIGHT for w in GROUP) and colours["w3"] != HIGHLIGHT
    assert widget(at, "method").value == "tsne" and shown(widget(at, "method")) == "t-SNE"
    where = place(at, is_cloud), place(at, is_tabs)
    button(at, "evaluate").click().run()
    ok(at)
    colour_by = widget(at, "colour_by:True")
    assert (colour_by.value, shown(colour_by)) == ("group", "word group")
    assert group_colours(at) == colours
    assert (place(at, is_cloud), place(at, is_tabs)) == where  # nothing moved: no stale copy, same tab
    scores = next(d.value for d in at.dataframe if d.value.columns[0] == "benchmark")
    assert scores["score"].tolist()[1:] == ["too few pairs in the vocabulary"] * 2  # was a TypeError


def test_trained_here_shows_the_projection_its_map_uses(tmp_path):
    """Input: the link ?method=umap, one trained run; Projection -> t-SNE on GloVe, perplexity 12,
    then Vectors -> Trained here. The box read "UMAP" beside t-SNE's settings and a Run t-SNE button."""
    job = train_vectors("word2vec", load_corpus("lee"), {"epochs": 1, "vector_size": 8}, RunStore(tmp_path / "runs"))
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["method"] = "umap"
    at.run()
    assert shown(widget(at, "method")) == "UMAP"
    widget(at, "method").set_value("tsne").run()
    ok(at)
    widget(at, "source").set_value("trained").run()
    ok(at)
    assert widget(at, "trained_run").value == job.run_id
    method = widget(at, "method")
    assert (method.value, shown(method)) == ("tsne", "t-SNE")
    assert button(at, "project_button").label.startswith("Run t-SNE on ")
    # A setting survives runs in which its widget is not drawn (t-SNE's perplexity while UMAP is chosen).
    perplexity = next(w for w in at.number_input if w.key.startswith("tsne_perplexity:"))
    perplexity.set_value(12.0).run()
    widget(at, "method").set_value("umap").run()
    at.run()
    widget(at, "method").set_value("tsne").run()
    ok(at)
    assert next(w for w in at.number_input if w.key.startswith("tsne_perplexity:")).value == 12.0


# ---- tiny vocabularies ------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [2, 3, 4, 5, 10, 11])
def test_an_uploaded_vocabulary_of_2_to_11_words(n):
    """Input: an uploaded word2vec text file of n words x 3 dimensions (below 11 words the page
    failed with StreamlitInvalidMinMaxError: a points slider from 10 to 10 or less)."""
    at = open_with_upload(vectors_file(n))
    ok(at)
    widget(at, "heat_words").input("red green blue").run()
    ok(at)
    heat = next(json.loads(e.proto.spec)["data"][0] for e in at.get("plotly_chart") if "heatmap" in e.proto.id)
    assert heat["x"] == GROUP[:n]
    if n < 4:
        assert [i.value for i in at.info] == [f"A map needs at least 4 points; these vectors hold {n}. The search above "
                                              "the map, the analogies and the heatmap work with any number."]
        assert not any(is_cloud(e) for e in at.get("deck_gl_json_chart"))
        widget(at, "query").input("red").run()
        ok(at)
        neighbours = next(d.value for d in at.dataframe if d.value.columns[0] == "word")
        assert set(neighbours["word"]) == set(GROUP[:n]) - {"red"} and not neighbours["projected"].any()
        return
    assert len(cloud_words(at)) == n
    flat = {row[2] for t in cloud(at) for row in t["data"]} == {0.0}
    dims = widget(at, "dims")
    if n == 4:  # 3D needs 5 points
        assert dims.options == ["2"] and flat
        assert dims.proto.help == "A 3D map needs vectors of at least 3 dimensions and at least 5 points; these " \
                                  "have 3 and 4."
    else:
        assert dims.options == ["3", "2"] and not flat
    if n <= 10:
        assert f"All {n} points are on the map." in [c.value for c in at.caption]
    else:
        top_n = next(s for s in at.slider if s.key.startswith("top_n:"))
        assert (top_n.min, top_n.max, top_n.value) == (10, 11, 11)
    clusters = next(s for s in at.slider if s.key.startswith("n_clusters:"))
    assert (clusters.min, clusters.max, clusters.value) == (2, min(30, n - 1), min(10, n - 1))


def test_five_words_run_t_sne_and_three_words_give_no_analogy():
    """Inputs: 5 uploaded words, t-SNE in 3D (perplexity held below the 5 points); 3 uploaded words
    and the analogy blue - red + green (no fourth word to answer with: was an IndexError)."""
    at = open_with_upload(vectors_file(5))
    widget(at, "method").set_value("tsne").run()
    perplexity = next(w for w in at.number_input if w.key.startswith("tsne_perplexity:"))
    assert (perplexity.max, perplexity.value) == (4.0, 4.0)
    button(at, "project_button").click().run()
    projected(at)
    ok(at)
    assert len(cloud_words(at)) == 5
    at = open_with_upload(vectors_file(3))
    for key, word in (("an_b", "blue"), ("an_a", "red"), ("an_c", "green")):
        widget(at, key).input(word)
    at.run()
    ok(at)
    assert [i.value for i in at.info][-1] == "No answer: an analogy needs a fourth word, and these vectors hold only 3."


@pytest.mark.parametrize("content, message", [
    (b"1 3\nred 1 2 3\n", "the file holds 1 word: neighbours, analogies and maps need at least 2"),
    (b"", "the file is empty"),
    (b"red 1\ngreen 2\nblue -1\n", "the vectors have 1 dimension: every cosine similarity would be +1 or -1; at "
                                   "least 2 are needed (a 2D map needs 2, a 3D map 3)"),
])
def test_one_word_no_word_or_one_dimension_is_refused_with_a_message(content, message):
    """Inputs: a 1-word file, an empty file, 3 words of 1 dimension (every cosine was 1.0 and PCA
    failed inside sklearn)."""
    at = open_with_upload(content)
    assert not at.exception
    from pages._ui.safe_markdown import escape_markdown
    assert [e.value for e in at.error] == [f"Cannot read v.txt: {escape_markdown(message)}"]  # the file's text, escaped


def test_two_dimensional_vectors_get_a_2d_map_only():
    """Input: 40 uploaded words of 2 dimensions (a 3D PCA needs a third axis)."""
    at = open_with_upload(vectors_file(40, 2))
    ok(at)
    assert widget(at, "dims").options == ["2"]
    assert {row[2] for t in cloud(at) for row in t["data"]} == {0.0} and deck_map(at)["initialViewState"]["rotationX"] == 0


# ---- the similarity heatmap -----------------------------------------------------------------------

def test_heatmap_cells_and_hover_show_two_decimals():
    """Input: the default heatmap words on GloVe (cells printed "0.7799999713897705")."""
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    ok(at)
    heat = next(json.loads(e.proto.spec)["data"][0] for e in at.get("plotly_chart") if "heatmap" in e.proto.id)
    assert "text" not in heat  # no float32 values printed as they are
    assert heat["texttemplate"] == "%{z:.2f}"
    assert heat["hovertemplate"] == "%{y} · %{x}: cosine %{z:.2f}<extra></extra>"


# ---- uploads over their stated limits ---------------------------------------------------------------

def test_a_gzip_bomb_of_vectors_is_refused_with_the_stated_limit(tmp_path):
    """Input: 1 GiB of zeros gzipped to 1 MB, uploaded as vectors."""
    at = open_with_upload(gzip_bomb(tmp_path / "bomb.vec.gz"), name="bomb.vec.gz")
    vectors, metadata = at.file_uploader
    assert vectors.proto.max_upload_size_mb == metadata.proto.max_upload_size_mb == 200
    assert vectors.help == metadata.help == "Up to 200 MB, also once decompressed."
    assert [e.value for e in at.error] == ["Cannot read bomb.vec.gz: the decompressed file is larger than the limit "
                                           "of 200 MB (its 1.0 MB gzipped expand past it)"]


def test_a_gzip_bomb_corpus_is_refused_with_the_stated_limit_before_any_run(tmp_path):
    """Input: 1 GiB of zeros gzipped to 1 MB, uploaded as a corpus to train on (it peaked at 2.4 GB)."""
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    widget(at, "source").set_value("trained").run()
    widget(at, "w2v_corpus").set_value("upload").run()
    corpus = at.file_uploader[0]
    assert corpus.proto.max_upload_size_mb == 50
    assert corpus.help.endswith("Up to 50 MB, also once decompressed.")
    corpus.set_value(("bomb.txt.gz", gzip_bomb(tmp_path / "bomb.txt.gz"), "application/gzip")).run()
    button(at, "w2v_train").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["the decompressed corpus is larger than the limit of 50 MB (its 1.0 MB "
                                           "gzipped expand past it)"]
    assert RunStore(tmp_path / "runs").list_runs() == []


@pytest.mark.parametrize("top, points", [("0", 10), ("3", 10), ("99999999999999999999999", 400_000)])
def test_a_link_asking_for_too_few_or_too_many_points_opens_within_the_slider(top, points):
    """Input: the link ?top=0, ?top=3 (below the slider's 10) or ?top=10^23 (above GloVe's 400k words)."""
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params["top"] = top
    at.query_params["colour"] = "rank"  # no k-means over 400k words
    at.run()
    ok(at)
    assert widget(at, "top_n:glove50").value == points
