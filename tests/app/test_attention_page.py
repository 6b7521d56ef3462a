"""AppTest of the Attention page: train from the page, probe maps, typed inputs, bad input, MiniLM,
positional encodings and the recurrent view. Small models throughout."""
import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine.core.jobs import RunControl
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob
from tests.stored import stored_run
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "attention.py")
SMALL = {"att.transformer.d_model": "16", "att.transformer.d_ff": "32", "att.transformer.layers": "1",
         "att.transformer.heads": "2", "att.reverse.n_samples": "500", "att.reverse.length": "5",
         "att.reverse.vocab": "5", "att.train.epochs": "2"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("attention-page")


@pytest.fixture(autouse=True)
def app_env(data_dir, monkeypatch, one_thread):
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(data_dir))
    monkeypatch.delenv("DEEP_PLAYGROUND_DEVICE", raising=False)
    return data_dir


def fresh(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts(at: AppTest) -> dict[str, dict]:
    """Plotly specs by the key the page gave them."""
    out = {}
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        out[element.proto.id.split("-")[-1] if element.proto.id else ""] = spec
        for key in ("probe_grid", "att_cross_map", "att_encoder_self_map", "mini_map", "pe_matrix",
                    "pe_similarity", "rec_hidden", "rec_cell", "gf_norms", "mini_ig_a", "mini_cls"):
            if key in element.proto.id:
                out[key] = spec
    return out


def z_of(spec: dict, trace: int = 0) -> np.ndarray:
    z = spec["data"][trace]["z"]
    if isinstance(z, dict):
        shape = [int(n) for n in str(z["shape"]).split(",")] if "shape" in z else [-1]
        return np.frombuffer(base64.b64decode(z["bdata"]), dtype=np.dtype(z["dtype"])).reshape(shape)
    return np.asarray(z, dtype=float)


def label_of(at: AppTest, run_id: int) -> str:
    """The run picker's label of a run (it carries the run's status)."""
    picker = next(s for s in at.selectbox if s.label == "Run")
    return next(o for o in picker.options if o.startswith(f"#{run_id} "))


def wait_done(store: RunStore, run_id: int, timeout: float = 120) -> None:
    """Wait for the run (trained in a child process) to end; it must have completed."""
    status = RunControl(store, run_id).wait_until_done(timeout)
    assert status == "completed", (status, store.get_run(run_id).message)


HEADS_3 = ("3 heads do not divide d_model 64: each head gets d_model / heads dimensions. Use 1, 2, 4, 8, 16 heads, "
           "or a d_model that is a multiple of 3")


def test_no_runs_yet_and_heads_that_do_not_divide_d_model(data_dir):
    """Input: 3 heads for d_model 64, then Train. Train stays clickable (a button drawn disabled for
    the settings before a slider change dropped a click made before the page caught up)."""
    at = fresh(view="Trained models")
    assert at.title[0].value == "Attention"
    assert any("No transformer or seq2seq runs yet" in i.value for i in at.info)
    next(s for s in at.slider if s.key == "att.transformer.heads").set_value(3).run()
    assert any("3 heads do not divide d_model 64" in e.value for e in at.error)
    assert [e.value for e in at.error] == [f"Cannot train: {HEADS_3}"]
    next(b for b in at.button if b.label == "Train").click().run()
    assert [e.value for e in at.error] == [f"Not started: {HEADS_3}"]
    assert at.session_state.att_run is None and not RunStore(data_dir / "runs").list_runs()


def test_the_form_s_two_seeds_say_what_each_seeds():
    """Input: the train form of a transformer on reverse. Both seeds were labelled "seed": the task's
    (which sequences) and the training's (initial weights, batch order)."""
    at = fresh(view="Trained models")
    seeds = {w.key: w.label for w in at.number_input}
    assert seeds == {"att.reverse.seed": "data seed", "att.train.seed": "training seed"}
    labels = [w.label for kind in ("slider", "select_slider", "selectbox", "toggle", "number_input")
              for w in getattr(at, kind) if (w.key or "").startswith("att.")]
    assert len(labels) == len(set(labels)), sorted(labels)
    next(s for s in at.selectbox if s.key == "att.train.optimizer").set_value("momentum").run()
    assert "att.train.momentum" in {w.key for w in at.slider}  # shown with the optimisers that use it only


def test_a_mending_slider_change_sent_with_train_trains_the_mended_model(data_dir):
    """Input: 3 heads for d_model 16 (refused), then 2 heads and a click on Train in one script run,
    as a browser sends them when Train is clicked before the slider's rerun is over."""
    at = fresh(**{**SMALL, "att.transformer.heads": "3", "att.train.epochs": "1"})
    assert any("3 heads do not divide d_model 16" in e.value for e in at.error)
    next(s for s in at.slider if s.key == "att.transformer.heads").set_value(2)
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    store = RunStore(data_dir / "runs")
    assert store.get_run(at.session_state.att_run).params["heads"] == 2
    wait_done(store, at.session_state.att_run)


def test_train_from_the_page_then_probe_and_typed_input(data_dir):
    at = fresh(**SMALL)
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception
    run_id = at.session_state.att_run
    store = RunStore(data_dir / "runs")
    run = store.get_run(run_id)
    assert (run.model, run.dataset, run.params["d_model"], run.params["epochs"]) == ("transformer", "reverse", 16, 2)
    wait_done(store, run_id)

    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("What to expect on reverse" in i.value and "anti-diagonal" in i.value for i in at.info)
    assert any(m.value.startswith("Probe `abcde` → `") and "after epoch 2" in m.value for m in at.markdown)
    found = charts(at)
    probe = found["probe_grid"]
    assert len(probe["data"]) == 2  # 1 layer x 2 heads
    assert z_of(probe).shape[1] == 5

    # Typed input: its cross-attention, rows summing to 1, tokens on the axes.
    at.text_input(key=f"att_text_{run_id}").set_value("cab").run()
    assert any(m.value.startswith("**Output** (epoch 2)") for m in at.markdown)
    cross = charts(at)["att_cross_map"]
    z = z_of(cross)
    assert z.shape[1] == 3
    np.testing.assert_allclose(z.sum(1), 1.0, rtol=1e-4)
    assert cross["layout"]["xaxis"]["ticktext"] == ["c", "a", "b"]

    at.radio(key="att_kind").set_value("encoder_self").run()
    assert z_of(charts(at)["att_encoder_self_map"]).shape == (3, 3)

    # Bad input: messages, never exceptions.
    at.text_input(key=f"att_text_{run_id}").set_value("ab9!").run()
    assert not at.exception
    assert any("'9', '!' are not in this task's vocabulary ('abcde')" in e.value for e in at.error)
    at.text_input(key=f"att_text_{run_id}").set_value("").run()
    assert any("the input is empty" in e.value for e in at.error)
    at.text_input(key=f"att_text_{run_id}").set_value("abcdeabcde").run()
    assert any("only the first 5 were used" in w.value for w in at.warning)

    # A link with ?run=ID opens that run; the epoch slider replays the probe.
    linked = fresh(run=str(run_id))
    assert linked.session_state.att_run == run_id
    slider = next(s for s in linked.select_slider if s.key == f"att_epoch_{run_id}")
    slider.set_value(1).run()
    assert any("after epoch 1" in m.value for m in linked.markdown)


def test_typed_inputs_survive_a_switch_to_another_view_and_back(data_dir):
    """Input: "cab" typed for a transformer on reverse, and "A bird sang." as MiniLM's sentence A,
    each followed by a switch to another view and back. Both were dropped with their widgets while
    another view was drawn: the probe's "abcde" (and the cat sentence) came back."""
    store = RunStore(data_dir / "runs")
    run_id = stored_run(store, "transformer", "reverse", {"d_model": 16, "d_ff": 32, "layers": 1, "heads": 2},
                        {"n_samples": 500, "length": 5, "vocab": 5}, data_dir=data_dir)
    at = fresh(run=str(run_id))
    at.text_input(key=f"att_text_{run_id}").set_value("cab").run()
    at.radio(key="view").set_value("Positional encodings").run()
    at.radio(key="view").set_value("Trained models").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.text_input(key=f"att_text_{run_id}").value == "cab"
    assert charts(at)["att_cross_map"]["layout"]["xaxis"]["ticktext"] == ["c", "a", "b"]

    at.radio(key="view").set_value("MiniLM (pretrained)").run()
    at.text_area(key="mini_a").set_value("A bird sang.").run()
    at.radio(key="view").set_value("Positional encodings").run()
    at.radio(key="view").set_value("MiniLM (pretrained)").run()
    assert at.text_area(key="mini_a").value == "A bird sang."
    assert charts(at)["mini_map"]["layout"]["xaxis"]["ticktext"] == ["[CLS]", "a", "bird", "sang", ".", "[SEP]"]


def test_minilm_view_attention_and_attributions():
    at = fresh(view="MiniLM (pretrained)")
    assert not at.error
    z = z_of(charts(at)["mini_map"])
    assert z.shape == (9, 9)  # [CLS] the cat sat on the mat . [SEP]
    np.testing.assert_allclose(z.sum(1), 1.0, rtol=1e-3)
    assert "Cosine similarity" in at.metric[0].label and 0.3 < float(at.metric[0].value) < 1
    assert not {"mini_cls", "mini_ig_a"} & set(charts(at))  # attributions only when asked for
    at.select_slider(key="mini_steps").set_value(8)
    at.toggle(key="mini_ig").set_value(True).run()
    assert not at.exception
    assert {"mini_cls", "mini_ig_a", "mini_ig_b"} <= set(charts(at))
    at.toggle(key="mini_pair").set_value(True).run()
    assert z_of(charts(at)["mini_map"]).shape == (18, 18)  # [CLS] A [SEP] B [SEP]: 9 + 9 tokens
    at.text_area(key="mini_a").set_value("   ").run()
    assert any("the sentence is empty" in e.value for e in at.error)


def test_positional_encodings():
    at = fresh(view="Positional encodings")
    found = charts(at)
    pe = z_of(found["pe_matrix"])
    assert pe.shape == (64, 64)
    np.testing.assert_allclose(pe[0], [0.0, 1.0] * 32, atol=1e-6)
    assert z_of(found["pe_similarity"]).shape == (64, 64)


def test_recurrent_view_of_a_counting_run(data_dir):
    config = validate("recurrent", "count_ones", {"hidden": 6, "epochs": 1}, {"n_samples": 500})
    job = TrainingJob(config, RunStore(data_dir / "runs"), device="cpu")
    assert job.run() == "completed"
    at = fresh(run=str(job.run_id))
    assert at.radio(key="view").value == "Recurrent"
    found = charts(at)
    assert z_of(found["rec_hidden"]).shape == (6, 20)  # units x time
    assert "rec_cell" in found and sum("rec_gate" in e.proto.id for e in at.get("plotly_chart")) == 4
    assert "gf_norms" in found and any("explodes" in i.value for i in at.info)
    assert [t["name"] for t in found["gf_norms"]["data"]] == ["w = 1.5", "w = 0.9", "w = 1"]
    at.text_input(key=f"rec_bits_{job.run_id}").set_value("0102").run()
    assert any("not allowed: '2'" in e.value for e in at.error)
    at.select_slider(key="gf_len").set_value(2000).run()
    assert not at.exception and any(e.value.startswith("overflow") for e in at.error)


def test_step_trains_one_epoch_then_pauses_until_resumed(data_dir):
    """The run trains in its own process: the page (and this test) sees it only through the store."""
    at = fresh(**SMALL)
    next(b for b in at.button if b.label == "Step").click().run()
    run_id = at.session_state.att_run
    store = RunStore(data_dir / "runs")
    control = RunControl(store, run_id)
    progress = wait_for(lambda: (p := control.progress()).paused and p, what="the pause after epoch 1")
    assert progress.epoch == 1 and store.checkpoint_epochs(run_id) == [1]
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("paused: after epoch 1 of 2" in str(p.proto.text) for p in at.get("progress"))
    assert any(m.value.startswith("Probe `abcde` → `") and "after epoch 1" in m.value for m in at.markdown)
    assert "probe_grid" in charts(at)
    assert {"Resume", "Next epoch", "Stop training"} <= {b.label for b in at.button}
    next(b for b in at.button if b.label == "Resume").click().run()
    assert not at.exception
    wait_done(store, run_id)
    assert store.checkpoint_epochs(run_id) == [1, 2]
    at.run()  # ended: the picker says so, the buttons are gone and the epoch slider replays the probe
    assert "(completed" in label_of(at, run_id)
    assert not {"Resume", "Next epoch", "Stop training"} & {b.label for b in at.button}
    assert any(s.key == f"att_epoch_{run_id}" for s in at.select_slider)


def test_stop_from_the_page_ends_the_run_and_the_picker_says_so(data_dir):
    at = fresh(**{**SMALL, "att.train.epochs": "500", "att.reverse.n_samples": "2000"})
    next(b for b in at.button if b.label == "Train").click().run()
    run_id = at.session_state.att_run
    store = RunStore(data_dir / "runs")
    wait_for(lambda: RunControl(store, run_id).progress().epoch >= 1, what="the first epoch")
    at.run()
    assert any("live: after epoch" in str(p.proto.text) for p in at.get("progress"))
    next(b for b in at.button if b.label == "Stop training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert store.get_run(run_id).status == "stopped"
    assert label_of(at, run_id).startswith(f"#{run_id} transformer on reverse (stopped")
    assert any(f"Run {run_id} stopped" in w.value for w in at.warning)
    assert "Stop training" not in {b.label for b in at.button}


@pytest.mark.parametrize("lr, verdict", [(0.03, "diverged"), (0.01, "completed")])
def test_linear_rnn_demo_trains_as_a_job_and_shows_its_result(data_dir, lr, verdict):
    at = fresh(view="Recurrent")
    at.select_slider(key="lr_len").set_value(40)
    at.slider(key="lr_epochs").set_value(40)
    at.select_slider(key="lr_lr").set_value(lr)
    at.button(key="lr_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    run_id = at.session_state.lr_run
    store = RunStore(data_dir / "runs")
    run = store.get_run(run_id)
    assert (run.model, run.params) == ("linear_rnn", {"length": 40, "epochs": 40, "lr": lr, "target_ones": 12,
                                                      "seed": 0})
    status = RunControl(store, run_id).wait_until_done(60)
    assert status == verdict, store.get_run(run_id).message
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    curve = charts(at)["lr_curve"]
    assert [t["name"] for t in curve["data"]][:1] == ["loss"]
    if verdict == "diverged":
        assert any(e.value.startswith(f"Run {run_id} (length 40, learning rate 0.03, 12 ones each) diverged: "
                                      "the loss became inf at epoch 29") for e in at.error), [e.value for e in at.error]
    else:
        assert any(s.value.startswith(f"Run {run_id} (length 40, learning rate 0.01, 12 ones each) trained 40 "
                                      "epochs: final loss") for s in at.success)
    # Its runs are not sequence models: the other pickers leave them out.
    at.radio(key="view").set_value("Trained models").run()
    assert all("linear_rnn" not in option for s in at.selectbox if s.label == "Run" for option in s.options)
