"""AppTest page tests: the entry script, Home (with and without runs), and every page renders."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine.data import list_datasets
from engine.core.device import describe, pick_device
from engine.core.runs import RunStore
from pages._ui.nav import PAGES

ROOT = Path(__file__).resolve().parents[2]
FIRST_RUN = "python -m engine train --model cnn --dataset mnist --epochs 1"


pytestmark = pytest.mark.usefixtures("fresh_data_dir")


def run_script(relative: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / relative), default_timeout=60).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def markdown_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def runs_table(at: AppTest):
    tables = [d.value for d in at.dataframe if "status" in d.value.columns]
    assert len(tables) == 1, "expected one Recent runs table"
    return tables[0]


def test_home_without_runs_says_how_to_start_one(tmp_path):
    at = run_script("pages/home.py")
    assert at.title[0].value == "Deep Playground"
    assert f"**Device:** {describe(pick_device())}" in markdown_text(at)
    assert any("No runs yet" in i.value and FIRST_RUN in i.value for i in at.info)
    assert not any("status" in d.value.columns for d in at.dataframe)


def test_home_lists_models_and_datasets():
    at = run_script("pages/home.py")
    tables = [t.value for t in at.table]
    models = next(t for t in tables if "model" in t.columns and "settings" in t.columns)
    assert {"mlp", "cnn", "resnet"} <= set(models["name"])
    datasets = next(t for t in tables if "dataset" in t.columns and "classes" in t.columns)
    assert {"mnist", "digits", "spiral"} <= set(datasets["name"])
    # A dataset that is not installed is named with the way to get it, not listed as usable.
    for info in list_datasets(include_unavailable=True):
        if not info.available:
            assert info.name not in set(datasets["name"])
            assert any(info.title in c.value and info.hint in c.value for c in at.caption)


def test_home_shows_a_finished_run(tmp_path):
    store = RunStore(tmp_path / "runs")
    run_id = store.create_run("cnn", "mnist", {"lr": 0.001})
    store.set_status(run_id, "completed", final={"val_acc": 0.981})

    at = run_script("pages/home.py")
    table = runs_table(at)
    row = table.iloc[0]
    assert row["id"] == run_id
    assert row["model"] == "cnn" and row["dataset"] == "mnist" and row["status"] == "completed"
    assert row["val accuracy"] == pytest.approx(0.981)
    assert not any("No runs yet" in i.value for i in at.info)


def test_home_shows_only_the_ten_newest_runs(tmp_path):
    store = RunStore(tmp_path / "runs")
    ids = [store.create_run("mlp", "spiral", {}) for _ in range(12)]
    table = runs_table(run_script("pages/home.py"))
    assert table["id"].tolist() == ids[::-1][:10]


def test_app_entry_runs_home_with_device_badge():
    at = run_script("app.py")
    assert at.title[0].value == "Deep Playground"
    assert not at.error
    badge = "\n".join(m.value for m in at.sidebar.markdown)
    assert describe(pick_device()) in badge


def test_app_with_a_bad_device_setting_shows_the_reason(monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DEVICE", "tpu")
    at = run_script("app.py")
    assert at.error, "expected an error box for the bad device"
    assert all("unknown device 'tpu'" in e.value for e in at.error)
    assert at.title[0].value == "Deep Playground"  # the app still works


@pytest.mark.parametrize("info", [p for p in PAGES if p.file != "home.py"], ids=lambda p: p.file)
def test_every_page_renders_with_its_title(info):
    at = run_script(f"pages/{info.file}")
    assert at.title[0].value == info.title
    assert not any("Coming next" in i.value for i in at.info)  # no page is a placeholder any more


def test_home_says_how_to_recover_a_damaged_run_store(tmp_path):
    """Input: runs.sqlite cut to its first 50 bytes."""
    from engine.core.runs import RECOVER_HINT
    RunStore(tmp_path / "runs").create_run("mlp", "spiral", {})
    db = tmp_path / "runs" / "runs.sqlite"
    db.write_bytes(db.read_bytes()[:50])
    at = run_script("pages/home.py")
    assert [e.value for e in at.error] == [
        f"the run store {db} is damaged (database disk image is malformed): {RECOVER_HINT}"]
    assert any("settings" in t.value.columns for t in at.table)  # the rest of Home is still there


def test_home_shows_the_disk_used_by_runs_and_cleans_up_old_checkpoints(tmp_path):
    """Input: a finished 30-epoch run made before retention (every epoch kept) and a running one."""
    import torch

    store = RunStore(tmp_path / "runs")
    old = store.create_run("mlp", "spiral", {"epochs": 30})
    running = store.create_run("mlp", "spiral", {"epochs": 30})
    for run_id in (old, running):
        for epoch in range(1, 31):
            store.save_checkpoint(run_id, epoch, {"w": torch.zeros(25_000)})  # 100 kB each
            store.append_metrics(run_id, [(epoch, epoch, "val_acc", 0.99 if epoch == 12 else epoch / 100, 0.0)])
    store.set_status(old, "completed")

    at = run_script("pages/home.py")
    assert "Disk used by runs" in [h.value for h in at.subheader]
    assert any(m.value.startswith("**6.") and m.value.endswith(" MB** in the run store: its database and every "
                                                             "run's checkpoints.") for m in at.markdown)
    assert [c.value for c in at.code] == [str(tmp_path / "runs")]
    assert ("23 checkpoints of 1 finished run are outside their retention settings (by default the last 5 "
            "epochs, epoch 1 and every 100th, and the best): deleting them frees **2.3 MB**.") in markdown_text(at)

    next(b for b in at.button if b.key == "clean_up").click().run()
    assert not at.exception
    assert [s.value for s in at.success] == ["Deleted 23 checkpoints of 1 run: 2.3 MB freed."]
    assert store.checkpoint_epochs(old) == [1, 12, 26, 27, 28, 29, 30]
    assert len(store.checkpoint_epochs(running)) == 30  # a running run is left to its own trainer
    assert any(c.value.startswith("Nothing to clean up") for c in at.caption)


# ---- Recent runs: each opens its page, a missing metric is a dash, no runs points to Training (#13) --

def page_links(at: AppTest) -> list[tuple[str, str]]:
    return [(link.proto.page, link.proto.label) for link in at.get("page_link")]


def test_home_without_runs_points_to_the_training_page():
    """No runs: the hint names the Training page and links to it (it said "from a terminal")."""
    at = run_script("pages/home.py")
    [hint] = [i.value for i in at.info if "No runs yet" in i.value]
    assert hint == ("No runs yet. Train one on the **Training** page: set a model and its data, then press "
                    f"**Start**. Or from a terminal: `{FIRST_RUN}`. Every run shows up here.")
    assert ("training", "Open the Training page") in page_links(at)


def test_home_links_each_run_to_the_page_that_shows_it(tmp_path):
    """A classifier opens on Training, a VAE on Latent space, a transformer and the linear-RNN demo on
    Attention (with ?run=ID); word vectors on Embeddings. Each row's "open on" cell is that link."""
    store = RunStore(tmp_path / "runs")
    ids = {model: store.create_run(model, dataset, {}) for model, dataset in
           [("cnn", "mnist"), ("vae", "mnist"), ("dcgan", "mnist"), ("transformer", "reverse"),
            ("linear_rnn", "bits"), ("word2vec", "lee"), ("retired_model", "mnist")]}
    at = run_script("pages/home.py")
    table = runs_table(at).set_index("model")
    assert table["open"].to_dict() == {
        "cnn": f"training?run={ids['cnn']}", "vae": f"latent-space?run={ids['vae']}",
        "dcgan": f"latent-space?run={ids['dcgan']}", "transformer": f"attention?run={ids['transformer']}",
        "linear_rnn": f"attention?run={ids['linear_rnn']}", "word2vec": "embeddings",
        "retired_model": f"training?run={ids['retired_model']}"}
    element = next(d for d in at.dataframe if "status" in d.value.columns)
    column = json.loads(element.proto.columns)["open"]
    assert column["type_config"] == {"type": "link", "display_text": "^([^?]+)"}  # shows "training" etc.


def test_home_shows_a_dash_where_a_run_has_no_metric(tmp_path):
    """A VAE has no accuracy and a word2vec run no validation loss: the grid shows a dash, not "None"."""
    store = RunStore(tmp_path / "runs")
    vae = store.create_run("vae", "mnist", {})
    store.set_status(vae, "completed", final={"val_loss": 102.53})
    at = run_script("pages/home.py")
    row = runs_table(at).iloc[0]
    assert row["val loss"] == pytest.approx(102.53) and row["val accuracy"] is None  # the missing cell...
    element = next(d for d in at.dataframe if "status" in d.value.columns)
    assert element.proto.placeholder == "—"  # ...drawn as a dash
    columns = json.loads(element.proto.columns)
    assert columns["val accuracy"]["type_config"] == {"type": "number", "format": "%.3f"}
    assert columns["val loss"]["type_config"] == {"type": "number", "format": "%.4g"}
