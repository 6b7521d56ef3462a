"""AppTest of the WGAN on the Latent space page: Start trains it from the sliders (its own optimiser
settings, the variant's params), and the curves plot the critic's Wasserstein estimate per epoch;
the Training page's per-epoch metrics show the same estimate."""
from pathlib import Path

import pytest

from engine.core.runs import RunStore
from tests.app.helpers import button, chart_rows, open_page, widget
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def app_env(tmp_path, shared_data_dir, monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(tmp_path))
    monkeypatch.delenv("DEEP_PLAYGROUND_DEVICE", raising=False)
    return tmp_path


def shown(at, key: str) -> bool:
    try:
        widget(at, key)
    except KeyError:
        return False
    return True


def test_start_trains_a_wgan_and_its_curves_plot_the_wasserstein_estimate(tmp_path):
    at = open_page(str(ROOT / "pages" / "latent.py"))
    widget(at, "latent_model").set_value("wgan").run()
    widget(at, "latent_dataset").set_value("digits").run()
    assert widget(at, "wgan.variant").value == "clip" and widget(at, "wgan.clip").value == 0.01
    assert not shown(at, "lr") and shown(at, "wgan.lr_rmsprop")  # its own lr, not the run's
    widget(at, "wgan.variant").set_value("gp").run()
    assert widget(at, "wgan.gp_lambda").value == 10.0 and widget(at, "wgan.lr_adam").value == 1e-4
    assert not shown(at, "wgan.clip") and not shown(at, "wgan.lr_rmsprop")
    widget(at, "wgan.latent").set_value(8)
    widget(at, "wgan.n_critic").set_value(2)
    widget(at, "epochs").set_value(2)
    widget(at, "batch_size").set_value(256)
    at.run()
    assert any(b.label == "Step D" for b in at.button)  # GAN Lab's hand stepping is offered for the WGAN
    button(at, "Start").click().run()
    run_id = at.session_state.latent_run
    store = RunStore(tmp_path / "runs")
    wait_for(lambda: store.get_run(run_id).status != "running", what="the WGAN run to end")
    run = store.get_run(run_id)
    assert (run.status, run.model, run.params["variant"]) == ("completed", "wgan", "gp"), run.message
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    rows = chart_rows(at, "Wasserstein estimate")  # one point per epoch, train and validation
    assert sorted(zip(rows.series, rows.x)) == [("train wasserstein", 1.0), ("train wasserstein", 2.0),
                                                ("val wasserstein", 1.0), ("val wasserstein", 2.0)]
    assert rows.y.notna().all()
    assert any(f"Walk the latent space (run {run_id}, epoch 2)" in s.value for s in at.subheader)

    # The Training page's per-epoch metrics show the estimate too.
    train = open_page(str(ROOT / "pages" / "train.py"), run=str(run_id))
    metrics = chart_rows(train, "Metrics per epoch")
    assert {"train wasserstein", "val wasserstein"} <= set(metrics.series), set(metrics.series)
