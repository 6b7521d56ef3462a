"""AppTest of the Embeddings page: GloVe with its shipped UMAP map by default, search, analogies, heatmap, trained
vectors, t-SNE on demand, evaluation, image-classifier activations."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from engine.embeddings import explore as emb
from engine.core.jobs import RunControl
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob
from engine.embeddings.vectors import load_glove50
from engine.embeddings.word2vec import load_corpus, train_vectors
from tests.waiting import projected, wait_for

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "embeddings.py")


@pytest.fixture(autouse=True)
def app_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(tmp_path))
    monkeypatch.setenv("DEEP_PLAYGROUND_DEVICE", "cpu")
    monkeypatch.setenv("DEEP_PLAYGROUND_NO_UMAP_WARMUP", "1")  # these tests never run UMAP
    return tmp_path


def fresh() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    ok(at)
    return at


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def widget(at: AppTest, key: str):
    for kind in ("selectbox", "select_slider", "slider", "number_input", "text_input", "text_area", "radio",
                 "segmented_control"):
        for w in getattr(at, kind):
            if w.key == key:
                return w
    raise KeyError(key)


def button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def deck_map(at: AppTest) -> dict:
    """The map's deck.gl spec (pages/_ui/embeddings_deck.py), its layers by id."""
    for element in at.get("deck_gl_json_chart"):
        if "cloud" in element.proto.id:
            spec = json.loads(element.proto.json)
            spec["by_id"] = {layer["id"]: layer for layer in spec["layers"]}
            return spec
    raise KeyError("cloud")


def cloud(at: AppTest) -> list[dict]:
    """The map's coloured point layers (not the faded whole map under an isolated set): each with its
    rows [x, y, z, word] as "data" and its colour as "getFillColor"."""
    return [layer for layer in deck_map(at)["layers"] if layer["id"].startswith("g")]


def cloud_words(at: AppTest) -> list[str]:
    return [row[3] for layer in cloud(at) for row in layer["data"]]


def labels(at: AppTest, layer_id: str) -> list[str]:
    layer = deck_map(at)["by_id"].get(layer_id)
    return [row["t"] for row in layer["data"]] if layer else []


def table(at: AppTest, first_column: str, contains: str | None = None):
    """The dataframe whose first column is `first_column` (and that holds `contains`, if given)."""
    return next(d.value for d in at.dataframe if d.value.columns[0] == first_column
                and (contains is None or contains in d.value.iloc[:, 0].tolist()))


def test_glove_opens_in_3d_with_the_shipped_umap_of_10k_words():
    at = fresh()
    assert at.title[0].value == "Embeddings"
    assert any("glove50" in m.value and "400,000 words × 50 dimensions" in m.value for m in at.markdown)
    assert any(c.value == "UMAP of 10,000 points (from the cache)" for c in at.caption)  # assets/projections
    clusters = cloud(at)
    assert len(clusters) == 10 and all(t["@@type"] == "ScatterplotLayer" for t in clusters)  # k-means by default
    assert deck_map(at)["views"][0]["@@type"] == "OrbitView"
    xyz = np.array([row[:3] for t in clusters for row in t["data"]])
    assert xyz.shape == (10_000, 3) and np.isfinite(xyz).all() and np.abs(xyz).max() == 100.0
    assert len(set(cloud_words(at))) == 10_000 and {"the", ",", "."} <= set(cloud_words(at))
    assert labels(at, "tier0")[:2] == ["the", ","] and len(labels(at, "tier0")) == 200  # words, not dots
    assert len(labels(at, "tier1")) == 2000  # readable as you zoom in
    assert len({tuple(t["getFillColor"][:3]) for t in clusters}) == 10


def test_search_lists_neighbours_in_the_original_space_and_highlights_them():
    at = fresh()
    widget(at, "query").input("king").run()
    ok(at)
    neighbours = table(at, "word", "queen")
    expected = emb.neighbours(load_glove50(), "king", 10, device=torch.device("cpu"))
    assert neighbours["word"].tolist() == [n.word for n in expected]
    np.testing.assert_allclose(neighbours["cosine"], [round(n.similarity, 4) for n in expected])
    assert labels(at, "searched") == ["king"]
    on_map = neighbours[neighbours["projected"]]["word"].tolist()
    assert sorted(labels(at, "emphasised")) == sorted(on_map) and "queen" in on_map
    # isolated: the whole map faded under the search and its neighbours, in their colours
    assert len(deck_map(at)["by_id"]["faded"]["data"]) == 10_000
    assert sorted(cloud_words(at)) == sorted(on_map + ["king"])
    assert any(c.value.startswith("Isolated: 'king' and") for c in at.caption)
    button(at, "show_all").click().run()
    ok(at)
    assert widget(at, "query").value == "" and "faded" not in deck_map(at)["by_id"]
    assert len(cloud_words(at)) == 10_000


def test_a_word_rarer_than_the_map_is_placed_by_its_projected_neighbours_isolated_and_labelled():
    at = fresh()
    widget(at, "query").input("frog").run()  # GloVe's word #12,261; the default map holds 10k
    ok(at)
    neighbours = table(at, "word", "toad")
    assert neighbours["word"].tolist() == [n.word for n in emb.neighbours(load_glove50(), "frog", 10,
                                                                          device=torch.device("cpu"))]
    assert any(c.value.startswith("'frog' is word #12,261, outside the 10,000 words projected: it is placed by its "
                                  "10 nearest projected words") for c in at.caption)
    assert labels(at, "searched") == ["frog"]
    assert sorted(labels(at, "emphasised")) == sorted(neighbours["word"])  # every neighbour labelled
    placed = next(layer for layer in cloud(at) if layer["getFillColor"][:3] == [0x1A, 0x1A, 0x1A])
    off = set(neighbours[~neighbours["projected"]]["word"]) | {"frog"}
    assert {row[3] for row in placed["data"]} == off and "toad" in off
    # the faded map under it is the projected 10k and the placed words, framed as before
    assert len(deck_map(at)["by_id"]["faded"]["data"]) == 10_000 + len(off)
    assert any(c.value.startswith("Isolated: 'frog' and 10 neighbours (") for c in at.caption)
    assert "placed by its neighbours" in next(h.proto.body for h in at.get("html") if "dp-map-legend" in h.proto.body)
    button(at, "show_all").click().run()
    ok(at)
    assert len(cloud_words(at)) == 10_000


def test_unknown_word_suggests_spellings():
    at = fresh()
    widget(at, "query").input("kingg").run()
    assert not at.exception
    assert any("'kingg' is not in the vocabulary; did you mean" in w.value and "king" in w.value for w in at.warning)


def test_analogy_and_heatmap_defaults():
    at = fresh()
    answers = table(at, "word", "queen")
    assert answers["word"].iloc[0] == "queen"
    assert any(m.value == "**king − man + woman ≈ queen**" for m in at.markdown)
    widget(at, "heat_words").input("cat dog xyzzyq car").run()
    ok(at)
    assert any("Not in the vocabulary: xyzzyq" in c.value for c in at.caption)
    heat = next(json.loads(e.proto.spec)["data"][0] for e in at.get("plotly_chart") if "heatmap" in e.proto.id)
    assert heat["x"] == ["cat", "dog", "car"]


def test_trained_vectors_tsne_on_demand_and_evaluation(tmp_path):
    store = RunStore(tmp_path / "runs")
    job = train_vectors("word2vec", load_corpus("lee"), {"epochs": 2, "vector_size": 16}, store)
    at = fresh()
    widget(at, "source").set_value("trained").run()
    ok(at)
    assert widget(at, "trained_run").value == job.run_id
    assert any(f"run {job.run_id} (word2vec on lee)" in m.value for m in at.markdown)
    widget(at, "method").set_value("tsne").run()
    widget(at, f"top_n:run:{job.run_id}:{store.get_run(job.run_id).updated}").set_value(200)
    widget(at, "dims").set_value(2).run()
    ok(at)
    assert any(c.value == "PCA of these 200 points until t-SNE is ready." for c in at.caption)  # never blank
    button(at, "project_button").click().run()
    projected(at)
    ok(at)
    widget(at, "colour_by:True").set_value("rank").run()
    assert len(cloud_words(at)) == 200 and cloud(at)[0]["data"][0][3] == "the"  # rank quantiles: the first first
    assert {row[2] for t in cloud(at) for row in t["data"]} == {0.0}  # a 2D map: z = 0, seen from above
    assert deck_map(at)["initialViewState"]["rotationX"] == 0
    at.run()  # a rerun comes from the cache
    assert any("(from the cache)" in c.value for c in at.caption)
    button(at, "evaluate").click().run()
    ok(at)
    scores = table(at, "benchmark")
    assert scores["benchmark"].tolist() == ["Google analogies", "WordSim-353", "SimLex-999"]
    assert scores["coverage"].str.contains("/ 19,544").iloc[0]


def test_image_classifier_activations_coloured_by_label(tmp_path):
    store = RunStore(tmp_path / "runs")
    job = TrainingJob(validate("mlp", "digits", {"epochs": 1, "width": 16}), store, device="cpu")
    assert job.run() == "completed"
    at = fresh()
    widget(at, "source").set_value("image").run()
    ok(at)
    digits = cloud(at)
    assert len(digits) == 10  # one layer (legend entry) per true label
    assert len(cloud_words(at)) == 360  # the digits validation set
    first = digits[0]["data"][0][3]  # "<label> #<index>"
    widget(at, "query").input(first).run()
    ok(at)
    assert table(at, "word")["word"].str.match(r"\d #\d+").all()  # neighbours among the images
    assert len(at.get("image")) == 1  # the searched digit is drawn beside its neighbours


def test_train_vectors_from_the_sliders_then_explore_them(tmp_path):
    at = fresh()
    widget(at, "source").set_value("trained").run()
    ok(at)
    assert any("No trained vectors yet" in i.value for i in at.info)
    widget(at, "w2v_corpus").set_value("lee")
    widget(at, "w2v.epochs").set_value(2)
    widget(at, "w2v.vector_size").set_value(16)
    widget(at, "w2v.algorithm").set_value("cbow")
    button(at, "w2v_train").click().run()
    ok(at)
    run_id = at.session_state["w2v_job"]
    store = RunStore(tmp_path / "runs")
    control = RunControl(store, run_id)  # the job trains in its own process: the page only reads the store
    wait_for(lambda: control.progress().status != "running", what="the run to end")
    run = store.get_run(run_id)
    assert (run.model, run.dataset, run.status) == ("word2vec", "lee", "completed")
    assert run.params["epochs"] == 2 and run.params["vector_size"] == 16 and run.params["algorithm"] == "cbow"
    at.run()
    ok(at)
    assert widget(at, "trained_run").value == run_id
    assert any(f"run {run_id} (word2vec on lee)" in m.value and "× 16 dimensions" in m.value for m in at.markdown)
    assert any(f"Run {run_id} (word2vec on lee) is done" in s.value for s in at.success)
    assert not button(at, "w2v_train").disabled


def test_stop_a_training_run_from_the_page(tmp_path):
    at = fresh()
    widget(at, "source").set_value("trained").run()
    widget(at, "w2v_corpus").set_value("lee")
    widget(at, "w2v.epochs").set_value(100)
    widget(at, "w2v.vector_size").set_value(8)
    button(at, "w2v_train").click().run()
    ok(at)
    run_id = at.session_state["w2v_job"]
    store = RunStore(tmp_path / "runs")
    wait_for(lambda: RunControl(store, run_id).progress().epoch >= 1, what="the first epoch")
    at.run()  # AppTest does not rerun fragments on their timer: a full run draws the live panel
    ok(at)
    assert button(at, "w2v_train").disabled
    assert any(p.proto.text.startswith(f"Run {run_id}: epoch ") for p in at.get("progress"))
    button(at, "w2v_stop").click().run()
    ok(at)
    run = store.get_run(run_id)
    assert run.status == "stopped" and run.message.startswith("stopped by the user")
    assert any(f"Run {run_id} stopped: stopped by the user" in w.value for w in at.warning)
    assert widget(at, "trained_run").value == run_id  # its finished epochs' vectors are listed
    assert not button(at, "w2v_train").disabled


def test_a_bad_upload_fails_before_any_run_exists(tmp_path):
    at = fresh()
    widget(at, "source").set_value("trained").run()
    widget(at, "w2v_corpus").set_value("upload").run()
    button(at, "w2v_train").click().run()
    assert any("choose a corpus file to upload first" in e.value for e in at.error)
    assert RunStore(tmp_path / "runs").list_runs() == []
