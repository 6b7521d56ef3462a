"""AppTest of the Training page's Sweep tab: a small sweep built from the sliders starts in a process
of its own (Ray inside) and its trials fill the table."""
import time
from pathlib import Path

import pytest

from engine.core.runs import RunStore
from tests.app.helpers import button, open_page, widget

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "train.py")


@pytest.fixture(autouse=True)
def app_env(fresh_data_dir):
    pytest.importorskip("ray")
    return fresh_data_dir


def test_a_sweep_started_from_the_tab_fills_its_table(fresh_data_dir):
    at = open_page(PAGE, tab="Sweep", model="mlp", dataset="spiral")
    widget(at, "epochs").set_value(2)
    widget(at, "batch_size").set_value(16)
    at.run()
    next(m for m in at.multiselect if m.key == "sweep_vary").set_value(["lr", "width"]).run()
    next(t for t in at.text_input if t.key == "sweep_values.mlp.lr").input("0.01, 0.1")
    next(t for t in at.text_input if t.key == "sweep_values.mlp.width").input("16")
    widget(at, "sweep_parallel").set_value(2)
    button(at, "Start sweep").click().run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    store = RunStore(fresh_data_dir / "runs")
    sweep_id = at.session_state.sweep_id
    assert at.query_params["sweep"] in (str(sweep_id), [str(sweep_id)])

    deadline = time.monotonic() + 360  # Ray's start and two trials took over 150 s beside two busy loops
    while store.get_sweep(sweep_id).running and time.monotonic() < deadline:
        time.sleep(0.5)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert store.get_sweep(sweep_id).status == "completed"
    table = next(d for d in at.dataframe if "best val_acc" in d.value.columns).value
    runs = store.sweep_runs(sweep_id)
    assert sorted(table.run) == sorted(r.id for r in runs) and len(runs) == 2
    assert sorted(table.lr) == [0.01, 0.1] and set(table.width) == {16} and set(table.status) == {"completed"}
    assert {r.params["epochs"] for r in runs} == {2}
    assert any(f"Sweep {sweep_id}" in m.value and "completed" in m.value for m in at.markdown)
    assert {c.proto.id.split("-")[-1] for c in at.get("plotly_chart")} >= {"sweep_heatmap", "sweep_parcoords"}
