"""AppTest of the Embeddings page: GloVe with its shipped UMAP map by default, search, analogies, heatmap, trained
vectors, t-SNE on demand, evaluation, image-classifier activations."""
import base64
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


def cloud(at: AppTest) -> list[dict]:
    """Traces of the 3D/2D cloud, numpy-encoded arrays decoded."""
    for element in at.get("plotly_chart"):
        if "cloud" in element.proto.id:
            traces = json.loads(element.proto.spec)["data"]
            for trace in traces:
                for axis in ("x", "y", "z"):
                    value = trace.get(axis)
                    if isinstance(value, dict) and "bdata" in value:
                        trace[axis] = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
            return traces
    raise KeyError("cloud")


def table(at: AppTest, first_column: str, contains: str | None = None):
    """The dataframe whose first column is `first_column` (and that holds `contains`, if given)."""
    return next(d.value for d in at.dataframe if d.value.columns[0] == first_column
                and (contains is None or contains in d.value.iloc[:, 0].tolist()))


def test_glove_opens_in_3d_with_the_shipped_umap_of_10k_words():
    at = fresh()
    assert at.title[0].value == "Embeddings"
    assert any("glove50" in m.value and "400,000 words × 50 dimensions" in m.value for m in at.markdown)
    assert any(c.value == "UMAP of 10,000 points (from the cache)" for c in at.caption)  # assets/projections
    clusters = [t for t in cloud(at) if t["name"].startswith("cluster ")]
    assert len(clusters) == 10 and all(t["type"] == "scatter3d" for t in clusters)  # k-means colours by default
    assert sum(len(t["x"]) for t in clusters) == sum(len(t["z"]) for t in clusters) == 10_000
    assert all(np.isfinite(t["x"]).all() for t in clusters)
    words = {w for t in clusters for w in t["hovertext"]}
    assert len(words) == 10_000 and {"the", ",", "."} <= words
    labels = next(t for t in cloud(at) if t.get("name") == "labels")
    assert labels["text"][:2] == ["the", ","]  # 30 most frequent words labelled by default


def test_search_lists_neighbours_in_the_original_space_and_highlights_them():
    at = fresh()
    widget(at, "query").input("king").run()
    ok(at)
    neighbours = table(at, "word", "queen")
    expected = emb.neighbours(load_glove50(), "king", 10, device=torch.device("cpu"))
    assert neighbours["word"].tolist() == [n.word for n in expected]
    np.testing.assert_allclose(neighbours["cosine"], [round(n.similarity, 4) for n in expected])
    traces = {t.get("name"): t for t in cloud(at)}
    assert traces["searched"]["text"] == ["king"]
    on_map = neighbours[neighbours["on the map"]]["word"].tolist()
    assert traces["neighbours"]["text"] == on_map and "queen" in on_map


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
    points = cloud(at)[0]
    assert points["type"] == "scattergl" and len(points["x"]) == 200 and points["hovertext"][0] == "the"
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
    traces = cloud(at)
    digits = [t for t in traces if t.get("name") in [str(d) for d in range(10)]]
    assert len(digits) == 10  # one trace (legend entry) per true label
    assert sum(len(t["x"]) for t in digits) == 360  # the digits validation set
    first = digits[0]["hovertext"][0]  # "<label> #<index>"
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
