"""AppTest of "Your own points" on the Training page (pages/_ui/points_input.py): a CSV uploaded becomes a
selected dataset that trains; a bad CSV says why and breaks nothing; drawn points (AppTest cannot click
on a plotly chart: the points are put in the session as the chart's clicks put them) are saved with
"Use these points". The clicks themselves are driven in a browser: tests/e2e/test_own_points.py."""
from pathlib import Path

import numpy as np

from engine.core.runs import RunStore
from engine.data import get_info
from engine.data.custom_points import FORMAT
from engine.data.saved_points import load_points
from pages._ui.points_input import DRAWN, OWN_POINTS
from pages._ui.safe_markdown import escape_markdown
from tests.app.helpers import button, open_page, widget
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "train.py")


def xor_csv(n=40) -> bytes:
    rng = np.random.default_rng(1)
    rows = [f"{x * 4:.3f},{y * 4:.3f},{int(x * y > 0)}" for x, y in rng.uniform(-1, 1, (n, 2))]
    return ("x,y,label\n" + "\n".join(rows) + "\n").encode()


def own_points_page():
    """The Training page with the mlp, a batch of 64 (the first visit opens on the spiral's suggested
    batch of 10) and "Your own points" chosen."""
    at = open_page(PAGE)
    widget(at, "model").set_value("mlp").run()
    widget(at, "batch_size").set_value(64).run()
    widget(at, "dataset").set_value(OWN_POINTS).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_choosing_own_points_shows_the_format_an_uploader_and_the_plane_and_start_says_why_not_yet(fresh_data_dir):
    at = own_points_page()
    assert OWN_POINTS in widget(at, "dataset").options
    assert FORMAT in [c.value for c in at.caption]
    assert at.get("file_uploader")[0].proto.label == "Upload a CSV of points"
    assert any("own_points_plane_0" in c.proto.id for c in at.get("plotly_chart"))
    assert [e.value for e in at.error] == ["Cannot start a run: upload a CSV of points, or draw some and press "
                                           "Use these points"]
    for label in ("Undo", "Clear", "Use these points"):
        assert button(at, label).disabled  # nothing drawn yet
    assert [e.label for e in at.expander][:2] == ["Model", "Training"]  # the settings stay where they were


def test_an_uploaded_csv_is_saved_selected_and_trains_with_start(fresh_data_dir):
    """Input: 40 XOR points in [-4, 4]^2, labels 0/1, uploaded as xor.csv; then 2 epochs, batch 8."""
    at = own_points_page()
    at.get("file_uploader")[0].set_value(("xor.csv", xor_csv(), "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    name = widget(at, "dataset").value
    assert name.startswith("points-") and name in widget(at, "dataset").options
    title = get_info(name).title
    assert title == "Your points: xor.csv (40 points)"
    assert [s.value for s in at.success] == [f"Saved and selected: {escape_markdown(title)}, dataset `{name}`. "
                                             "Batch size set to 16 to fit its 20 training points. "
                                             "Press Start to train on it."]
    assert widget(at, "batch_size").value == 16  # the default 64 is more than the 20 training points
    assert any(title in c.value and "scaled into the [-1, 1] square" in c.value for c in at.caption)
    assert not at.error and np.abs(load_points(name).xy).max() == 1.0  # [-4, 4] squeezed into the square

    widget(at, "epochs").set_value(2)
    widget(at, "batch_size").set_value(8)
    at.run()
    button(at, "Start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    store = RunStore(fresh_data_dir / "runs")
    run_id = at.session_state.run_id
    wait_for(lambda: store.get_run(run_id).status != "running", timeout=120, what="the run on the uploaded points")
    run = store.get_run(run_id)
    assert run.status == "completed" and run.dataset == name, run.message
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.success == [] or "Saved and selected" not in at.success[0].value  # said once, not on every rerun


def test_a_bad_csv_shows_its_message_and_nothing_else_breaks(fresh_data_dir):
    """Input: bad.csv whose line 3 has 'abc' for x; then a good file replaces it."""
    at = own_points_page()
    at.get("file_uploader")[0].set_value(("bad.csv", b"x,y,label\n0.1,0.2,0\nabc,0.3,1\n", "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [e.value for e in at.error] == [escape_markdown("bad.csv: line 3: x is 'abc', not a number"),
                                           "Cannot start a run: upload a CSV of points, or draw some and press "
                                           "Use these points"]
    assert widget(at, "dataset").value == OWN_POINTS and not (fresh_data_dir / "points").exists()
    assert [e.label for e in at.expander][:2] == ["Model", "Training"]
    at.get("file_uploader")[0].set_value(("good.csv", xor_csv(), "text/csv")).run()
    assert widget(at, "dataset").value.startswith("points-") and not at.error


def test_drawn_points_are_saved_with_use_these_points_after_undo_and_clear_work(fresh_data_dir):
    """Input: 13 points as the plane's clicks leave them in the session (7 blue, 6 orange); Undo
    removes the last; Use these points saves the 12 left; then Clear empties the plane."""
    at = own_points_page()
    picked = [(round(-0.9 + 0.15 * i, 3), 0.5 if i % 2 else -0.5, i % 2) for i in range(13)]
    at.session_state[DRAWN] = list(picked)
    at.run()
    assert "13 points: 7 blue, 6 orange (at least 10, of both colours)." in [c.value for c in at.caption]
    button(at, "Undo").click().run()
    assert at.session_state[DRAWN] == picked[:12]
    button(at, "Use these points").click().run()
    assert not at.exception, [e.value for e in at.exception]
    name = widget(at, "dataset").value
    assert name.startswith("points-") and get_info(name).title == "Your drawn points (12 points)"
    saved = load_points(name)
    assert saved.xy.tolist() == [[np.float32(x).item(), np.float32(y).item()] for x, y, _ in picked[:12]]
    assert saved.target.tolist() == [c for _, _, c in picked[:12]] and saved.classes == ("blue", "orange")

    widget(at, "dataset").set_value(OWN_POINTS).run()
    button(at, "Clear").click().run()
    assert at.session_state[DRAWN] == [] and button(at, "Use these points").disabled
    assert name in widget(at, "dataset").options  # a saved set stays in the picker


def test_too_few_drawn_points_say_how_many_are_needed(fresh_data_dir):
    at = own_points_page()
    at.session_state[DRAWN] = [(0.1, 0.1, 0), (0.2, 0.2, 1), (0.3, 0.3, 0)]
    at.run()
    button(at, "Use these points").click().run()
    assert escape_markdown("Drawn points: 3 points drawn: draw at least 10") in [e.value for e in at.error]
    assert widget(at, "dataset").value == OWN_POINTS


def test_a_run_whose_points_file_was_removed_reopens_with_its_curves_and_says_why_the_rest_cannot(fresh_data_dir):
    """Input: a 2-epoch run on 44 saved points (a set no other test saves: saved sets are looked for
    in every data dir this process has used), then their CSV deleted, then the page opened at ?run=ID."""
    from engine.core.registry import validate
    from engine.core.trainer import TrainingJob
    from engine.data.custom_points import parse_points_csv
    from engine.data.saved_points import save_points

    name = save_points(parse_points_csv(xor_csv(44), "xor.csv"))
    store = RunStore(fresh_data_dir / "runs")
    job = TrainingJob(validate("mlp", name, {"epochs": 2, "batch_size": 8}), store, device="cpu")
    assert job.run() == "completed"
    (fresh_data_dir / "points" / f"{name.removeprefix('points-')}.csv").unlink()
    at = open_page(PAGE, run=str(job.run_id))  # fails on any exception
    assert any(f"**Run {job.run_id}**: mlp on {name}" in m.value for m in at.markdown)  # its curves are there
    gone = (f"dataset {name!r} is not installed here: its file {name[7:]}.csv is no longer in "
            f"{fresh_data_dir / 'points'}; upload the CSV or draw the points again")
    assert [e.value for e in at.error] == [escape_markdown(f"Run {job.run_id}'s data cannot be loaded: {gone}"),
                                           escape_markdown(f"Run {job.run_id}'s model cannot be rebuilt: {gone}")]
