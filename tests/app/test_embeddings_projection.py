"""AppTest of the Embeddings page's projections as background jobs (t-SNE's layout so far on the map,
Cancel keeps the previous map) and of the map per epoch of vectors trained here (the live map in the
training panel, the epoch slider, words traced through the epochs)."""
import re

import numpy as np

from engine.core.jobs import RunControl
from engine.core.runs import RunStore
from engine.embeddings import epoch_maps
from engine.embeddings.mapview import display_coords
from engine.embeddings.projection_job import job_store, latest_layout
from tests.app.test_embeddings_page import app_env, button, cloud, fresh, ok, widget  # noqa: F401 (app_env: fixture)
from tests.waiting import wait_for


def cloud_xyz(at) -> np.ndarray:
    """The map's points as drawn (coloured by rank: its quantile layers, in the map's row order)."""
    return np.array([row[:3] for layer in cloud(at) for row in layer["data"]], dtype=np.float32)


def drawn(layout: np.ndarray) -> np.ndarray:
    """A layout as the map draws it: centred and scaled onto its display cube (0.1 steps there)."""
    return display_coords(layout)


def test_tsne_animates_in_the_background_and_cancel_keeps_the_previous_map():
    at = fresh()
    widget(at, "colour_by:True").set_value("rank")
    widget(at, "method").set_value("pca")
    widget(at, "top_n:glove50").set_value(1000).run()
    ok(at)
    before = cloud_xyz(at)
    assert before.shape == (1000, 3)
    widget(at, "method").set_value("tsne").run()
    widget(at, "tsne_iter").set_value(2000).run()
    assert any(c.value == "The previous map (PCA of 1,000 points) stays until t-SNE is ready." for c in at.caption)
    np.testing.assert_array_equal(cloud_xyz(at), before)
    button(at, "project_button").click().run()
    ok(at)
    store = job_store()
    run_id = at.session_state["proj_job"][1]
    # Its layout so far replaces the map as it optimises (the page's fragment reruns it).
    wait_for(lambda: latest_layout(store, run_id), what="t-SNE's first layout")
    at.run()
    ok(at)
    shown = next(c.value for c in at.caption if c.value.startswith("t-SNE's layout so far ("))
    done = int(re.search(r"iteration (\d+) of (250|2000)\)", shown)[1])  # early exaggeration first
    iteration = done if "early exaggeration" in shown else 250 + done
    assert 10 <= iteration <= latest_layout(store, run_id)[0] and iteration % 10 == 0
    assert cloud_xyz(at).shape == (1000, 3) and not np.array_equal(cloud_xyz(at), before)
    assert any(p.proto.text.startswith("t-SNE: ") for p in at.get("progress"))
    button(at, "project_cancel").click().run()
    ok(at)
    assert RunControl(store, run_id).progress().status == "stopped"
    assert any(i.value == "t-SNE was cancelled; the previous map stays." for i in at.info)
    np.testing.assert_array_equal(cloud_xyz(at), before)


def test_vectors_trained_here_show_their_map_per_epoch_with_a_slider_and_traced_words(tmp_path):
    at = fresh()
    widget(at, "source").set_value("trained").run()
    widget(at, "w2v_corpus").set_value("lee")
    widget(at, "w2v.epochs").set_value(3)
    widget(at, "w2v.vector_size").set_value(16)
    button(at, "w2v_train").click().run()
    ok(at)
    run_id = at.session_state["w2v_job"]
    store = RunStore(tmp_path / "runs")
    wait_for(lambda: RunControl(store, run_id).progress().status != "running", what="the run to end")
    at.run()
    ok(at)
    # The training panel's map of the newest epoch.
    live = next(e for e in at.get("plotly_chart") if f"w2v_map_{run_id}" in e.proto.id)
    assert "after epoch 3 of 3" in live.proto.spec
    # The page's map opens on the run's epochs, the last one first; the slider replays the others.
    assert widget(at, "method").value == "epochs"
    source_key = next(w.key for w in at.select_slider if w.key.startswith("map_epoch:"))
    assert widget(at, source_key).options == ["1", "2", "3"] and widget(at, source_key).value == 3
    widget(at, "colour_by:True").set_value("rank").run()
    stored = epoch_maps.epoch_layouts(store, run_id, 3)
    top_n = len(cloud_xyz(at))
    np.testing.assert_allclose(cloud_xyz(at), drawn(stored[3][:top_n]), atol=0.051)
    widget(at, source_key).set_value(1).run()
    ok(at)
    np.testing.assert_allclose(cloud_xyz(at), drawn(stored[1][:top_n]), atol=0.051)
    widget(at, f"trace:{source_key.split(':', 1)[1]}").input("the said xyzzyq").run()
    ok(at)
    trace = next(e for e in at.get("plotly_chart") if "trace_chart" in e.proto.id)
    assert '"name":"the"' in trace.proto.spec.replace(" ", "") and '"name":"said"' in trace.proto.spec.replace(" ", "")
    assert any(c.value == "Not in these vectors: xyzzyq" for c in at.caption)
