"""AppTest of the Latent space page: train from the page, open runs (VAE, GAN), refuse the wrong
kind of run, step a GAN by hand (in its own process) and save it."""
import base64
import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from engine.latent import gan_session

from engine.core.jobs import RunControl, children
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob
from tests.app.helpers import button, open_page, widget
from tests.waiting import gan_idle_after as idle_after, wait_for

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "latent.py")


@pytest.fixture(autouse=True)
def app_env(tmp_path, shared_data_dir, monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(tmp_path))
    monkeypatch.delenv("DEEP_PLAYGROUND_DEVICE", raising=False)
    return tmp_path


def fresh(**query) -> AppTest:
    return open_page(PAGE, **query)


def scatter_traces(at: AppTest) -> list[dict]:
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        if spec["data"] and spec["data"][0].get("type") == "scattergl":
            traces = spec["data"]
            for t in traces:
                for axis in ("x", "y", "customdata"):
                    if isinstance(t.get(axis), dict) and "bdata" in t[axis]:
                        t[axis] = np.frombuffer(base64.b64decode(t[axis]["bdata"]), dtype=t[axis]["dtype"])
            return traces
    raise KeyError("no scatter")


def trained(tmp_path, model: str, **values) -> int:
    store = RunStore(tmp_path / "runs")
    job = TrainingJob(validate(model, "digits", {"epochs": 1, **values}), store, device="cpu")
    assert job.run() == "completed", job.progress.message
    return job.run_id


def test_without_runs_the_page_says_how_to_start(tmp_path):
    at = fresh()
    assert at.title[0].value == "Latent space"
    assert widget(at, "latent_model").value == "vae"  # the classic 2-D VAE is the default
    assert widget(at, "latent_dataset").value == "mnist"
    assert any("press **Start**" in i.value for i in at.info)
    assert not button(at, "Start").disabled and button(at, "Stop").disabled
    assert not at.error


def test_start_trains_a_vae_and_the_walk_views_follow(tmp_path):
    at = fresh()
    widget(at, "latent_dataset").set_value("digits").run()
    widget(at, "epochs").set_value(2)
    widget(at, "batch_size").set_value(32)
    at.run()
    button(at, "Start").click().run()
    run_id = at.session_state.latent_run
    store = RunStore(tmp_path / "runs")
    assert button(at, "Stop").disabled is False and button(at, "Start").disabled  # it trains in its own process
    wait_for(lambda: store.get_run(run_id).status != "running", what="the run to end")
    assert store.get_run(run_id).status == "completed"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(f"Walk the latent space (run {run_id}, epoch 2)" in s.value for s in at.subheader)
    assert any("completed · epoch 2/2" in p.proto.text for p in at.get("progress"))
    # Scatter: 2-D codes of the test set, one trace per digit, every point carries its image index.
    traces = scatter_traces(at)
    assert [t["name"] for t in traces] == [str(k) for k in range(10)]
    assert sum(len(t["customdata"]) for t in traces) == 360  # the digits validation split
    assert any("Mean squared pixel error" in c.value for c in at.caption)


def test_a_run_of_the_wrong_kind_or_a_missing_run_is_refused_clearly(tmp_path):
    store = RunStore(tmp_path / "runs")
    mlp = store.create_run("mlp", "spiral", {})
    at = fresh(run=str(mlp))
    assert any(f"run {mlp} is a" in e.value and "not a generative model" in e.value for e in at.error)
    assert not any("Walk the latent space" in s.value for s in at.subheader)
    at = fresh(run="999")
    assert any("there is no run 999" in e.value for e in at.error)
    at = fresh(run="abc")
    assert any("'abc' is not a run id" in e.value for e in at.error)


def test_a_handed_over_vae_run_with_latent_4_offers_dimension_choice(tmp_path):
    run_id = trained(tmp_path, "vae", latent=4, hidden=32)
    at = fresh(run=str(run_id))
    assert not at.error
    x, y = widget(at, f"dim_x_{run_id}"), widget(at, f"dim_y_{run_id}")
    assert (x.value, y.value, x.max, y.max) == (0, 1, 3, 3)
    assert len([s for s in at.slider if s.key and s.key.startswith(f"z_{run_id}_")]) == 4  # a slider per dimension
    y.set_value(0).run()
    assert any("two different latent dimensions" in w.value for w in at.warning)
    y.set_value(3).run()
    assert not at.warning
    assert any(r.value == "pca" for r in at.radio if r.key == "projection")


def test_a_gan_run_opens_with_walks_but_no_scatter(tmp_path):
    run_id = trained(tmp_path, "dcgan", latent=8, batch_size=128, conditional=True)
    at = fresh(run=str(run_id))
    assert not at.error
    tabs = [t.label for t in at.tabs]
    assert "Interpolation" in tabs and "Sliders" in tabs and "Latent scatter" not in tabs
    assert any(r.value == "spherical" for r in at.radio if r.key == "walk_method")  # the GAN default
    assert len([s for s in at.slider if s.key and s.key.startswith(f"z_{run_id}_")]) == 8


def hand_gan_page() -> AppTest:
    at = fresh()
    widget(at, "latent_model").set_value("dcgan").run()
    widget(at, "latent_dataset").set_value("digits").run()
    widget(at, "dcgan.latent").set_value(8).run()
    return at


def image_captions(at: AppTest) -> list[str]:
    return [caption for element in at.get("image") for caption in element.captions]


def test_step_the_gan_by_hand_then_save_it_as_a_run(tmp_path):
    at = hand_gan_page()
    assert button(at, "Step D").disabled and button(at, "Save as run").disabled
    button(at, "New GAN").click().run()
    run_id = at.session_state.gan_run  # all the page keeps: the run id (the GAN lives in its job's process)
    store = RunStore(tmp_path / "runs")
    run = store.get_run(run_id)
    assert (run.model, run.status, run.progress["state"]) == ("dcgan", "running", "paused")
    assert run.params["latent"] == 8 and run.dataset == "digits"
    assert run_id in children()  # a process of its own, started by this (the server's) process
    # A click while the process is still building the model waits in the store; the buttons wait too.
    button(at, "Step D").click().run()
    assert button(at, "Step G").disabled and button(at, "Step D").disabled
    wait_for(idle_after(store, run_id, 1), what="the D step")
    at.run()
    assert not button(at, "Step G").disabled
    button(at, "Step G").click().run()
    wait_for(idle_after(store, run_id, 2), what="the G step")
    at.run()
    button(at, "Step both").click().run()
    wait_for(idle_after(store, run_id, 3), what="the D and G step")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    state = gan_session.hand_gan_state(store, RunControl(store, run_id).progress())
    assert (state.d_steps, state.g_steps, state.steps) == (2, 2, 3)
    counts = store.metrics(run_id).groupby("name").size().to_dict()
    assert counts == {"d_loss": 2, "d_real_acc": 2, "d_fake_acc": 2, "g_loss": 2, "loss": 3}
    assert any(p.get("name") == "d loss" for p in json.loads(
        next(e for e in at.get("plotly_chart") if "gan_steps" in e.proto.id).proto.spec)["data"])
    assert "Fixed noise after 2 D and 2 G steps" in image_captions(at)

    button(at, "Save as run").click().run()
    wait_for(lambda: store.get_run(run_id).status != "running", what="the session to save itself")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    run = store.get_run(run_id)
    assert run.status == "completed" and run.message == "trained by hand: 2 D steps and 2 G steps"
    assert at.session_state.latent_run == run_id
    assert any(f"Walk the latent space (run {run_id}, epoch 1)" in s.value for s in at.subheader)
    assert any(f"Saved as run {run_id}" in s.value for s in at.success)
    assert button(at, "Step D").disabled
    assert any(f"#{run_id} dcgan (by hand) on digits · completed" in o for o in
               next(s for s in at.selectbox if s.label == "Open a run").options)


def test_a_new_gan_stops_the_one_before_and_keeps_its_weights(tmp_path):
    at = hand_gan_page()
    button(at, "New GAN").click().run()
    first = at.session_state.gan_run
    store = RunStore(tmp_path / "runs")
    wait_for(idle_after(store, first, 0), what="the first GAN's process")
    wait_for(lambda: store.artifact(first, "samples") is not None, what="the first samples")
    button(at, "New GAN").click().run()
    second = at.session_state.gan_run
    assert second != first
    run = store.get_run(first)
    assert run.status == "stopped" and "checkpoint epoch 1" in run.message
    assert store.checkpoint_epochs(first) == [1]
    assert store.get_run(second).status == "running"
    RunControl(store, second).stop(wait=10)


def test_scatter_selection_feeds_the_walk_and_earlier_epochs_can_be_walked(tmp_path):
    run_id = trained(tmp_path, "vae", latent=2, hidden=32, epochs=2)
    at = fresh(run=str(run_id))
    at.session_state[f"selected_{run_id}"] = 17  # what a click on the scatter stores
    at.run()
    assert any("**Test image 17**" in m.value for m in at.markdown)
    button(at, "Walk from this image").click().run()
    assert widget(at, "walk_from_image").value == 17 and widget(at, "walk_to_image").value == 1
    assert not at.exception and not at.warning
    walk_epoch = widget(at, f"walk_epoch_{run_id}")
    assert walk_epoch.options == ["epoch 1", "epoch 2"] and walk_epoch.value == 2
    walk_epoch.set_value(1).run()
    assert any(f"Walk the latent space (run {run_id}, epoch 1)" in s.value for s in at.subheader)
    assert not at.exception


@pytest.mark.parametrize("gan", [False, True, "wgan"])
def test_per_epoch_chart_titles_fit_a_third_of_the_page(gan):
    """Input: every per-epoch metric of a VAE (gan False), a DCGAN (True) or a WGAN run. Three charts
    share the width and a chart cuts a long title ("Reconstruction (BCE, nats/im"): at most 24
    characters, the units on the y axis."""
    import pandas as pd
    from pages._ui import latent_views as views
    names = [n for _, _, metrics in (views.GAN_CURVES if gan else views.VAE_CURVES) for n in metrics]
    # A DCGAN records D's accuracies, a WGAN its critic's Wasserstein estimate instead.
    names = [n for n in names if "wasserstein" not in n] if gan is True else \
        [n for n in names if "_acc" not in n or "label" in n] if gan == "wgan" else names
    metrics = pd.DataFrame({"step": 1, "epoch": 1, "name": names, "value": 1.0, "wall": 0.0})
    figures = views.curves(metrics, gan)
    assert len(figures) == 3
    for chart in figures:
        assert len(chart.title) <= 24, chart.title
    if not gan:
        assert [c.spec["encoding"]["y"]["title"] for c in figures] == ["BCE, nats per image", "nats per image",
                                                                       "recon + beta x KL"]
