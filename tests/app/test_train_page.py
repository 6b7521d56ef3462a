"""AppTest of the training page: settings from the schema, a real run, validation, the URL."""
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine.core.jobs import RunControl
from engine.core.runs import RunStore
from pages._ui.training_charts import confusion_figure
from tests.app.helpers import button, chart_rows, open_page, place, widget

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "train.py")


@pytest.fixture(autouse=True)
def app_env(shared_data_dir, monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(shared_data_dir))
    monkeypatch.delenv("DEEP_PLAYGROUND_DEVICE", raising=False)
    return shared_data_dir


def fresh(**query) -> AppTest:
    return open_page(PAGE, **query)


def test_mlp_on_spiral_trains_to_90_percent_from_the_sliders(shared_data_dir):
    at = fresh()
    widget(at, "model").set_value("mlp").run()
    widget(at, "dataset").set_value("spiral").run()
    widget(at, "mlp.depth").set_value(3)
    widget(at, "mlp.width").set_value(32)
    widget(at, "lr").set_value(0.01)
    widget(at, "batch_size").set_value(32)
    widget(at, "epochs").set_value(150)
    widget(at, "spiral.noise").set_value(0.0)
    at.run()
    assert not at.error, [e.value for e in at.error]
    button(at, "Start").click().run()
    run_id = at.session_state.run_id
    assert at.query_params["run"] in (str(run_id), [str(run_id)])

    store = RunStore(shared_data_dir / "runs")
    deadline = time.monotonic() + 120
    while store.get_run(run_id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.5)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    run = store.get_run(run_id)
    assert run.status == "completed" and run.params["depth"] == 3 and run.params["lr"] == 0.01
    assert any(f"Run {run_id}" in m.value and "completed" in m.value for m in at.markdown)

    next(r for r in at.radio if r.label == "x axis").set_value("epoch").run()
    acc = chart_rows(at, "Accuracy per epoch")
    val = acc[acc.series == "val acc"]
    assert val.x.tolist() == list(range(1, 151))  # one point per epoch
    assert val.y.iloc[-1] > 0.9
    assert val.y.iloc[-1] == pytest.approx(run.final["val_acc"])


POOLING_TOO_DEEP = "4 pooling blocks shrink a 8x8 image below one pixel: use at most 3 blocks, or pooling 'none'"


def test_invalid_combination_starts_nothing_and_says_why(shared_data_dir):
    """Input: a CNN on digits with 4 pooling blocks, then Start, then Step.

    Start and Step stay clickable (were disabled: a click made before the page caught up with a
    mending slider change was dropped, see the test below); a click starts nothing and says why."""
    store = RunStore(shared_data_dir / "runs")
    before = {r.id for r in store.list_runs()}
    at = fresh()
    widget(at, "model").set_value("cnn").run()
    widget(at, "dataset").set_value("digits").run()
    widget(at, "cnn.blocks").set_value(4).run()
    assert any("4 pooling blocks shrink a 8x8 image below one pixel" in e.value for e in at.error)
    assert [e.value for e in at.error] == [f"Cannot start a run: {POOLING_TOO_DEEP}"]
    for label in ("Start", "Step"):
        button(at, label).click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert [e.value for e in at.error] == [f"Not started: {POOLING_TOO_DEEP}"]
        assert "run_id" not in at.session_state or at.session_state.run_id is None
    assert {r.id for r in store.list_runs()} == before
    widget(at, "cnn.blocks").set_value(2).run()
    assert not at.error and not button(at, "Start").disabled


def test_why_a_run_cannot_start_is_drawn_right_under_the_start_button():
    """Input: a link to a CNN on digits with 4 pooling blocks. The reason was drawn at the foot of
    the settings column, some 900 px below the buttons."""
    at = fresh(model="cnn", dataset="digits", **{"cnn.blocks": "4"})
    # (columns, right column, tabs, the Run tab, buttons row, its first column, button)
    start = place(at, "button", "Start")
    reason = place(at, "error", "Cannot start a run: ")
    assert reason == start[:4] + (start[4] + 1,), (start, reason)  # the next thing in the Run tab


def test_a_mending_slider_change_sent_with_start_starts_the_mended_run(shared_data_dir):
    """Input: a CNN on digits with 4 pooling blocks (refused), then blocks 2 and a click on Start in
    one script run, as a browser sends them when Start is clicked before the slider's rerun is over.
    Start was drawn disabled for the refused settings, and that click was dropped."""
    at = fresh(model="cnn", dataset="digits", epochs="1", **{"cnn.blocks": "4", "cnn.channels": "4",
                                                             "cnn.dense": "0"})
    widget(at, "cnn.blocks").set_value(2)
    button(at, "Start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    store = RunStore(shared_data_dir / "runs")
    run_id = at.session_state.run_id
    assert (store.get_run(run_id).params["blocks"], store.get_run(run_id).params["channels"]) == (2, 4)
    assert RunControl(store, run_id).wait_until_done(120) == "completed"


def test_a_slider_change_sent_with_start_starts_a_run_with_the_new_value(shared_data_dir):
    """Input: an MLP on spiral, then epochs 3 and seed 12 and a click on Start in one script run."""
    at = fresh(model="mlp", dataset="spiral", epochs="2")
    widget(at, "epochs").set_value(3)
    widget(at, "seed").set_value(12)
    button(at, "Start").click().run()
    store = RunStore(shared_data_dir / "runs")
    run = store.get_run(at.session_state.run_id)
    assert (run.params["epochs"], run.params["seed"]) == (3, 12)
    assert RunControl(store, run.id).wait_until_done(120) == "completed"


@pytest.mark.parametrize("optimizer, shown", [("adam", False), ("adamw", False), ("rmsprop", False), ("sgd", False),
                                              ("momentum", True), ("nesterov", True)])
def test_momentum_is_shown_only_for_the_optimisers_that_use_it(optimizer, shown):
    """Input: each optimiser in turn. The momentum slider showed while Adam (which ignores it) was chosen."""
    at = fresh(model="mlp", dataset="spiral", optimizer=optimizer)
    assert widget(at, "optimizer").value == optimizer
    assert ("momentum" in {w.key for w in at.slider}) is shown
    assert not at.error


def test_momentum_set_then_hidden_by_adam_is_not_sent_with_the_run(shared_data_dir):
    """Input: optimizer momentum with momentum 0.5, then optimizer adam, then Start: the run starts
    (a momentum given with Adam is refused by validate) and keeps the default momentum."""
    at = fresh(model="mlp", dataset="spiral", epochs="1", optimizer="momentum")
    widget(at, "momentum").set_value(0.5).run()
    widget(at, "optimizer").set_value("adam").run()
    assert "momentum" not in {w.key for w in at.slider} and not at.error
    button(at, "Start").click().run()
    assert not at.error, [e.value for e in at.error]
    store = RunStore(shared_data_dir / "runs")
    run = store.get_run(at.session_state.run_id)
    assert (run.params["optimizer"], run.params["momentum"]) == ("adam", 0.9)
    assert RunControl(store, run.id).wait_until_done(120) == "completed"


def test_switches_are_on_lines_of_their_own_and_every_label_says_what_it_sets():
    """Input: a CNN on digits (switches conv-pool block, batch norm, deterministic) and its Data. In
    the settings' two narrow columns a switch's label was cut ("batchn...", "conv p...")."""
    at = fresh(model="mlp", dataset="spiral")
    labels = {w.key: w.label for kind in ("slider", "select_slider", "selectbox", "toggle", "number_input")
              for w in getattr(at, kind)}
    assert labels["seed"] == "training seed" and labels["spiral.seed"] == "data seed"
    assert labels["lr"] == "learning rate" and labels["mlp.batchnorm"] == "batch norm"
    assert len(set(labels.values())) == len(labels), labels  # no two widgets with one label
    at = fresh(model="cnn", dataset="digits")
    for label in ("conv-pool block", "batch norm", "deterministic"):
        expander = place(at, "expander", "Model" if label != "deterministic" else "Training")
        assert place(at, "toggle", label)[:-1] == expander  # in the expander itself, not in a column of it


def test_every_class_is_named_on_both_axes_of_the_confusion_matrix():
    """Input: 10 classes named "0".."9". Plotly read them as numbers and named every other one."""
    figure = confusion_figure(np.eye(10, dtype=int), [str(i) for i in range(10)])
    for axis in (figure.layout.xaxis, figure.layout.yaxis):
        assert axis.type == "category" and list(axis.tickvals) == [str(i) for i in range(10)]
        assert list(axis.ticktext) == [str(i) for i in range(10)]


def test_settings_round_trip_through_the_query_string():
    at = fresh(model="mlp", dataset="circle", **{"mlp.depth": "5", "mlp.activation": "tanh", "lr": "0.03",
                                                  "circle.noise": "0.25"})
    assert widget(at, "model").value == "mlp" and widget(at, "dataset").value == "circle"
    assert widget(at, "mlp.depth").value == 5 and widget(at, "mlp.activation").value == "tanh"
    assert widget(at, "lr").value == 0.03 and widget(at, "circle.noise").value == 0.25
    # Untouched settings keep their defaults (and, being defaults, stay out of the URL).
    assert widget(at, "batch_size").value == 64 and widget(at, "mlp.width").value == 64
    # A value the schema refuses is dropped, not crashed on: the default shows instead.
    at = fresh(model="mlp", dataset="spiral", **{"mlp.depth": "99"})
    assert widget(at, "mlp.depth").value == 2


def test_reopening_with_a_run_in_the_url_reattaches(shared_data_dir):
    store = RunStore(shared_data_dir / "runs")
    run_id = store.create_run("mlp", "spiral", {"model": "mlp", "dataset": "spiral", "epochs": 5})
    store.set_status(run_id, "diverged", "the loss exploded at step 3: try a lower learning rate")
    at = fresh(run=str(run_id))
    assert at.session_state.run_id == run_id
    assert any("the loss exploded at step 3" in e.value for e in at.error)


def test_refresh_reattaches_and_two_sessions_train_at_once(shared_data_dir):
    store = RunStore(shared_data_dir / "runs")
    sessions = []
    for depth in (2, 3):  # two browser sessions, each starts its own long run
        at = fresh(model="mlp", dataset="spiral", epochs="1000", batch_size="8", **{"mlp.depth": str(depth)})
        button(at, "Start").click().run()
        sessions.append(at)
    ids = [at.session_state.run_id for at in sessions]
    assert ids[0] != ids[1]
    assert [store.get_run(i).status for i in ids] == ["running", "running"]
    assert [store.get_run(i).params["depth"] for i in ids] == [2, 3]
    # Each trains in its own process: both get going at once.
    deadline = time.monotonic() + 60
    while not all(store.get_run(i).progress.get("step") for i in ids) and time.monotonic() < deadline:
        time.sleep(0.05)

    # A refresh is a new session with the same URL: it finds the running run and can stop it.
    refreshed = fresh(model="mlp", dataset="spiral", run=str(ids[0]))
    assert refreshed.session_state.run_id == ids[0]
    assert not button(refreshed, "Stop").disabled and button(refreshed, "Start").disabled
    button(refreshed, "Stop").click().run()
    button(sessions[1], "Stop").click().run()
    assert [store.get_run(i).status for i in ids] == ["stopped", "stopped"]
    assert all(store.metrics(i, ["loss"]).shape[0] > 0 for i in ids)


def test_a_word_vector_run_in_the_url_points_to_the_embeddings_page(shared_data_dir):
    """gensim runs share the run store but not the Trainer: the page says where they are explored."""
    store = RunStore(shared_data_dir / "runs")
    run_id = store.create_run("word2vec", "lee", {"vector_size": 50})
    store.set_status(run_id, "completed", final={"loss": 1.0})
    try:
        at = fresh(run=str(run_id))
        assert any(f"Run {run_id} is a word2vec run on the lee corpus" in i.value for i in at.info)
    finally:
        store.delete_run(run_id)


def test_the_retention_settings_are_on_the_page_and_reach_the_run():
    at = fresh(model="mlp", dataset="spiral")
    assert (widget(at, "keep_last").value, widget(at, "keep_every").value, widget(at, "keep_best").value) == \
        (5, 100, True)
    at = fresh(model="mlp", dataset="spiral", keep_last="2", keep_every="10", keep_best="false")
    assert (widget(at, "keep_last").value, widget(at, "keep_every").value, widget(at, "keep_best").value) == \
        (2, 10, False)
    assert not at.error and not button(at, "Start").disabled


def test_a_damaged_checkpoint_gives_the_damaged_message_not_a_traceback(shared_data_dir):
    """Input: ?run=ID of a finished spiral MLP run whose only checkpoint was cut to 100 bytes (a run
    trained before runs stored their decision grid: the page opens the checkpoint to draw it)."""
    from tests.stored import stored_run

    store = RunStore(shared_data_dir / "runs")
    run_id = stored_run(store, "mlp", "spiral", data_dir=shared_data_dir)
    store.append_metrics(run_id, [(3, 1, "val_acc", 0.5, 0.0), (3, 1, "epoch_time", 0.1, 0.0)])
    path = store._checkpoint_path(run_id, 1)
    path.write_bytes(path.read_bytes()[:100])
    try:
        at = fresh(run=str(run_id))
        damaged = [e.value for e in at.error if "is damaged" in e.value]
        assert len(damaged) == 1
        assert damaged[0].startswith(f"the checkpoint of run {run_id}, epoch 1 is damaged and cannot be loaded (")
        assert damaged[0].endswith("); other epochs: none")
    finally:
        store.delete_run(run_id)


def test_a_damaged_run_store_says_how_to_recover(tmp_path, monkeypatch):
    """Input: runs.sqlite replaced by random bytes."""
    import os

    from engine.core.runs import RECOVER_HINT
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(tmp_path))
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "runs.sqlite").write_bytes(os.urandom(20_000))
    at = fresh()
    assert [e.value for e in at.error] == [
        f"the run store {tmp_path / 'runs' / 'runs.sqlite'} is damaged (file is not a database): {RECOVER_HINT}"]



def test_start_on_a_full_disk_says_why_it_cannot_train(tmp_path, monkeypatch):
    """Input: Start pressed while SQLite answers "database or disk is full" to every write (simulated).
    The store holds a run whose process died: opening it needs a write, which fails, so it opens
    read-only and the page says so first. The page runs as the app runs it (store_views.run_page)."""
    import sqlite3

    from tests.test_store_faults import _FullDisk
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(tmp_path))
    dead = RunStore(tmp_path / "runs").create_run("mlp", "spiral", {})
    with sqlite3.connect(tmp_path / "runs" / "runs.sqlite") as conn:
        conn.execute("UPDATE runs SET owner = 'gone-host:1:1' WHERE id = ?", (dead,))
    monkeypatch.setattr("engine.core.runs.socket.gethostname", lambda: "gone-host")
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: _FullDisk(connect(*a, **k)))

    def app(page: str):
        import streamlit as st

        from pages._ui.store_views import run_page
        run_page(st.navigation([st.Page(page)]))

    at = AppTest.from_function(app, args=(PAGE,), default_timeout=60).run()
    assert [w.value for w in at.warning] == [
        "The run store cannot be written: the disk is full. Runs can be opened and looked at; training, stopping "
        "and deleting need a writable store."]
    button(at, "Start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [
        f"the run store in {tmp_path / 'runs'} cannot be written: the disk is full: free some space (Home's "
        "\"Disk used by runs\" deletes old checkpoints) and try again"]
