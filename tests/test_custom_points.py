"""Your own 2D points (engine/data/custom_points.py, saved_points.py): every refusal's exact message, the
scaling into the [-1, 1] square, saving by content hash, and the saved set found by name in a fresh process."""
import gzip
import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from engine.core.loading import RunLoadError, load_run
from engine.core.params import ParamError
from engine.core.registry import validate
from engine.core.retention import clean_up, plan_clean_up
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob
from engine.data import get_info, list_datasets, load_dataset, train_size
from engine.data import saved_points
from engine.data.custom_points import (FORMAT, MAX_POINTS, PointsError, drawn_points, parse_points_csv,
                                       read_points_csv)
from engine.data.saved_points import clean_source, load_points, save_points, saved_names
from tests.conftest import ROOT


@pytest.fixture
def data(tmp_path, monkeypatch):
    """A fresh data dir per test, and no data dirs remembered from another test."""
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(tmp_path))
    monkeypatch.setattr(saved_points, "_OTHER_DIRS", [])
    return tmp_path


def csv_of(rows, header="x,y,label") -> bytes:
    return ("\n".join([header, *(",".join(str(v) for v in row) for row in rows)]) + "\n").encode()


def xor_rows(n=40, seed=0, scale=1.0, labels=(0, 1)):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-1, 1, (n, 2)) * scale
    return [(round(float(x), 4), round(float(y), 4), labels[int(x * y < 0)]) for x, y in xy]


GOOD = csv_of(xor_rows())

# ---- every refusal, word for word ----------------------------------------------------------------
BAD_FILES = [
    ("binary (a PNG's first bytes)", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
     "this is not a CSV file: it holds binary data (save it from the spreadsheet as CSV, comma-separated)"),
    ("empty", b"", "the file is empty: it needs a header line (x,y,label) and a line per point"),
    ("only blank lines", b"\n  \n\r\n", "the file is empty: it needs a header line (x,y,label) and a line per point"),
    ("no header: numbers on the first line", b"0.5,0.25,1\n0.1,0.2,0\n",
     "the first line is '0.5,0.25,1', not a header: add a first line that names the columns, x,y,label "
     "(or x,y,value)"),
    ("header a,b,label", csv_of(xor_rows(), header="a,b,label"),
     "the header must name the columns x, y and label (or value); missing: x, y (the file's columns: a, b, label)"),
    ("header x,y,colour", csv_of(xor_rows(), header="x,y,colour"),
     "the header must name the columns x, y and label (or value); missing: label (or value, for regression) "
     "(the file's columns: x, y, colour)"),
    ("header x y label (spaces, one column)", b"x y label\n1 2 0\n",
     "the header must name the columns x, y and label (or value); missing: x, y, label (or value, for regression) "
     "(the file's columns: x y label)"),
    ("header with label and value", csv_of([(0, 0, 1, 2)] * 12, header="x,y,label,value"),
     "the header names both label and value: keep label for two classes, or value for regression"),
    ("line 3 has two values", b"x,y,label\n0.1,0.2,0\n0.3,0.4\n",
     "line 3 has 2 values, but the header names 3 columns"),
    ("x is text on line 4", csv_of([(0.1, 0.2, 0), (0.3, 0.4, 1), ("abc", 0.5, 0)] + xor_rows()),
     "line 4: x is 'abc', not a number"),
    ("y is nan on line 2", csv_of([(0.1, "nan", 0)] + xor_rows()), "line 2: y is 'nan': every y must be a finite number"),
    ("x is inf on line 2", csv_of([("inf", 0.1, 0)] + xor_rows()), "line 2: x is 'inf': every x must be a finite number"),
    ("x is empty on line 2", csv_of([("", 0.1, 0)] + xor_rows()), "line 2: x is empty"),
    ("label empty on line 2", csv_of([(0.1, 0.2, "")] + xor_rows()), "line 2: the label is empty"),
    ("label of 41 characters", csv_of([(0.1, 0.2, "a" * 41)] + xor_rows()),
     "line 2: the label is 41 characters long: at most 40"),
    ("one class", csv_of([(i / 20, 0.1, "red") for i in range(12)]),
     "every point has the label 'red': two classes are needed (e.g. 0 and 1)"),
    ("three classes", csv_of([(i / 20, 0.1, "abc"[i % 3]) for i in range(12)]),
     "the label column has 3 different labels ('a', 'b', 'c'): your own points have exactly two classes, "
     "as in TensorFlow Playground"),
    ("seven classes (five shown)", csv_of([(i / 20, 0.1, i % 7) for i in range(14)]),
     "the label column has 7 different labels ('0', '1', '2', '3', '4', ...): your own points have exactly two "
     "classes, as in TensorFlow Playground"),
    ("9 points", csv_of(xor_rows(9)), "the file has 9 points: at least 10 are needed"),
    ("a label of 200,000 characters on line 3", csv_of([(0.1, 0.2, 0), (0.1, 0.2, "a" * 200_000)]),
     "line 3 cannot be read as CSV (field larger than field limit (131072))"),
    ("5,001 points", csv_of(xor_rows(MAX_POINTS + 1)),
     "the file has more than 5,000 points: at most 5,000 are allowed (the most the other 2D sets have); "
     "keep a sample of them"),
    ("a value that is text (regression)", csv_of([(0.1, 0.2, "high")] + [(0.1, 0.1, 1)] * 10, header="x,y,value"),
     "line 2: value is 'high', not a number"),
]


@pytest.mark.parametrize("what, raw, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_is_refused_with_a_message_that_says_what_to_change(what, raw, message):
    with pytest.raises(PointsError) as err:
        parse_points_csv(raw, "mine.csv")
    assert str(err.value) == message


def test_a_file_over_1_mb_is_refused_before_it_is_parsed_and_a_gzip_bomb_too(tmp_path):
    """Input: 1 MB + 1 byte of CSV; a 1 MB gzip that expands to 2 MB."""
    big = b"x,y,label\n" + b"0.1,0.2,0\n" * (2**20 // 10)
    with pytest.raises(PointsError, match="^the file is larger than the limit of 1 MB$"):
        read_points_csv(big[:2**20 + 1], "big.csv")
    (tmp_path / "bomb.csv.gz").write_bytes(gzip.compress(big * 2))
    with pytest.raises(PointsError) as err:
        read_points_csv(tmp_path / "bomb.csv.gz", "bomb.csv.gz")
    assert str(err.value).startswith("the decompressed file is larger than the limit of 1 MB (its ")
    with pytest.raises(PointsError, match="^cannot be read: No such file or directory$"):
        read_points_csv(tmp_path / "absent.csv", "absent.csv")


def test_limits_are_inclusive_10_and_5000_points_are_accepted_and_the_format_states_them():
    assert len(parse_points_csv(csv_of(xor_rows(10)), "a.csv")) == 10
    assert len(parse_points_csv(csv_of(xor_rows(MAX_POINTS)), "a.csv")) == MAX_POINTS
    assert "10 to 5,000 points, at most 1 MB" in FORMAT and "[-1, 1]" in FORMAT


# ---- what a file means ---------------------------------------------------------------------------
def test_labels_0_1_give_classes_0_1_and_1_0_is_the_same_class_as_1():
    points = parse_points_csv(csv_of([(0.1, 0.1, "0"), (0.2, 0.2, "1.0"), (0.3, 0.3, "1")] + xor_rows(8)), "a.csv")
    assert points.classes == ("0", "1") and points.target[:3].tolist() == [0, 1, 1]
    assert points.target.dtype == np.int64 and points.task == "classification"


def test_labels_minus1_and_1_sort_numerically_and_names_alphabetically():
    minus = parse_points_csv(csv_of(xor_rows(12, labels=(1, -1))), "a.csv")
    assert minus.classes == ("-1", "1")
    names = parse_points_csv(csv_of(xor_rows(12, labels=("red", "blue"))), "a.csv")
    assert names.classes == ("blue", "red")
    rows = xor_rows(12, labels=("red", "blue"))
    assert names.target.tolist() == [1 if label == "red" else 0 for _, _, label in rows]


def test_a_spreadsheets_export_reads_bom_crlf_semicolons_decimal_commas_quotes_and_extra_columns():
    """Input: a UTF-8 BOM, CRLF line ends, ';' between values, '0,5' decimals, upper-case and quoted
    headers, an extra column before x, blank lines (the line number of an error still counts them)."""
    lines = ["id;\"X\";Y;Label"] + [f"{i};{x:.2f};{y:.2f};{c}".replace(".", ",") for i, (x, y, c) in
                                   enumerate(xor_rows(12))]
    raw = "\ufeff" + "\r\n".join(lines[:5] + ["", ""] + lines[5:]) + "\r\n"
    points = parse_points_csv(raw.encode("utf-8"), "a.csv")
    assert len(points) == 12
    assert np.allclose(points.xy[0], [round(xor_rows(12)[0][0], 2), round(xor_rows(12)[0][1], 2)])
    broken = raw.replace(lines[6], lines[6].split(";")[0] + ";oops;0,1;1")
    with pytest.raises(PointsError, match="^line 9: x is 'oops', not a number$"):
        parse_points_csv(broken.encode("utf-8"), "a.csv")


def test_points_inside_the_square_are_kept_as_they_are():
    rows = xor_rows(20)
    points = parse_points_csv(csv_of(rows), "a.csv")
    assert points.centre == (0.0, 0.0) and points.scale == 1.0
    assert np.array_equal(points.xy, np.array([r[:2] for r in rows], dtype=np.float32))


def test_points_outside_are_centred_and_scaled_by_one_factor_into_the_square():
    """Input: x in [0, 10], y in [0, 4] (corners included): centre (5, 2), factor 5, so y spans
    [-0.4, 0.4]: shapes keep their proportions."""
    rows = [(0, 0, 0), (10, 4, 1), (10, 0, 0), (0, 4, 1)] + [(i, 2, i % 2) for i in range(1, 9)]
    points = parse_points_csv(csv_of(rows), "a.csv")
    assert points.centre == (5.0, 2.0) and points.scale == 5.0
    assert points.xy[:4].tolist() == [[-1, -0.4000000059604645], [1, 0.4000000059604645],
                                      [1, -0.4000000059604645], [-1, 0.4000000059604645]]
    original = points.xy.astype(np.float64) * points.scale + np.array(points.centre)
    assert np.allclose(original, [r[:2] for r in rows], atol=1e-5)


def test_a_value_column_is_regression_scaled_into_minus1_1_and_trains_as_regression(data, tmp_path):
    """x, y, value with values 0..30 on a line: a regression set with one output, that the
    playground network learns (its validation MSE falls below the values' variance)."""
    rows = [(i / 10, -i / 10, 3 * i) for i in range(11)]  # values 0..30: centre 15, factor 15
    points = parse_points_csv(csv_of(rows, header="x,y,value"), "heights.csv")
    assert points.task == "regression" and points.classes == ()
    assert points.value_centre == 15.0 and points.value_scale == 15.0
    assert points.target.dtype == np.float32 and points.target[[0, 5, 10]].tolist() == [-1, 0, 1]
    name = save_points(points)
    info = get_info(name)
    assert info.available and info.task == "regression" and info.classes == ("value",)
    assert name in [i.name for i in list_datasets()]
    assert np.array_equal(load_points(name).target, points.target) and load_points(name).task == "regression"
    config = validate("playground", name, {"epochs": 30, "batch_size": 5, "lr": 0.03})
    job = TrainingJob(config, RunStore(tmp_path / "runs"), device="cpu")
    assert job.run() == "completed"
    final = RunStore(tmp_path / "runs").get_run(job.run_id).final
    assert "val_acc" not in final and final["val_loss"] < float(np.var(points.target))


# ---- drawn points --------------------------------------------------------------------------------
@pytest.mark.parametrize("points, message", [
    ([(0.1, 0.1, 0)] * 9, "9 points drawn: draw at least 10"),
    ([(0.1, 0.1, 1)] * 12, "every point drawn is orange: draw points of both classes"),
    ([(0.1, 0.1, 0)] * 11 + [(1.5, 0, 1)], "drawn points must lie inside the [-1, 1] square"),
    ([(0.1, 0.1, 0)] * 11 + [(0.5, 0, 2)], "a drawn point's class must be 0 (blue) or 1 (orange)"),
    ([(0.1, 0.1, c % 2) for c in range(MAX_POINTS + 1)], "5,001 points drawn: at most 5,000 are allowed"),
], ids=["9 points", "one class", "outside the square", "class 2", "5,001 points"])
def test_drawn_points_are_refused_with_a_message(points, message):
    with pytest.raises(PointsError) as err:
        drawn_points(points)
    assert str(err.value) == message


def test_drawn_points_are_a_blue_orange_set_titled_as_drawn(data):
    picked = [(-0.5 + i / 20, 0.25, i % 2) for i in range(12)]
    name = save_points(drawn_points(picked))
    info = get_info(name)
    assert info.title == "Your drawn points (12 points)" and info.classes == ("blue", "orange")
    d = load_dataset(name, {"train_fraction": 0.5, "seed": 0})
    both = torch.cat([d.x_train, d.x_val])
    assert sorted(map(tuple, both.tolist())) == sorted((np.float32(x).item(), np.float32(y).item())
                                                     for x, y, _ in picked)


# ---- saving and finding by name ------------------------------------------------------------------
def test_saved_by_content_hash_once_never_rewritten_and_listed_with_title_and_count(data):
    points = parse_points_csv(GOOD, "my points.csv")
    name = save_points(points)
    csv_path = data / "points" / f"{name.removeprefix('points-')}.csv"
    assert name == "points-" + hashlib.sha256(csv_path.read_bytes()).hexdigest()[:12]
    stamp = csv_path.stat().st_mtime_ns
    again = parse_points_csv(GOOD, "other name.csv")
    assert save_points(again) == name and csv_path.stat().st_mtime_ns == stamp  # same points: one dataset
    meta = json.loads(csv_path.with_suffix(".json").read_text())
    assert meta["source"] == "my points.csv" and meta["points"] == 40 and meta["classes"] == ["0", "1"]
    info = get_info(name)
    assert info.title == "Your points: my points.csv (40 points)" and info.kind == "points"
    assert info.description == ("40 points of your own, from a CSV, scaled into the [-1, 1] square; two classes "
                                f"({meta['class_counts'][0]} and {meta['class_counts'][1]} points).")
    assert [p.name for p in info.params] == ["train_fraction", "seed"]
    assert list_datasets()[-1].name == name and saved_names() == [name]
    assert train_size(name, {"train_fraction": 0.75}) == 30
    assert sorted(p.name for p in (data / "points").iterdir()) == [csv_path.name, csv_path.with_suffix(".json").name]


def test_the_saved_csv_reads_back_to_the_same_float32_points_and_classes(data):
    rows = [(x * 7.3, y * 2.1 - 40, c) for x, y, c in xor_rows(200, seed=3, labels=("no", "yes"))]
    points = parse_points_csv(csv_of(rows), "a.csv")
    back = load_points(save_points(points))
    assert np.array_equal(back.xy, points.xy) and back.xy.dtype == np.float32
    assert np.array_equal(back.target, points.target) and back.classes == ("no", "yes")
    assert back.centre == points.centre and back.scale == points.scale and back.source == "a.csv"


def test_split_follows_train_fraction_and_seed_and_covers_every_point_once(data):
    name = save_points(parse_points_csv(csv_of(xor_rows(100)), "a.csv"))
    d = load_dataset(name, {"train_fraction": 0.7, "seed": 3})
    assert d.x_train.shape == (70, 2) and d.x_val.shape == (30, 2) and d.y_train.dtype == torch.int64
    again, other = load_dataset(name, {"train_fraction": 0.7, "seed": 3}), load_dataset(name, {"seed": 4})
    assert torch.equal(d.x_train, again.x_train) and not torch.equal(d.x_train[:50], other.x_train[:50])
    every = torch.cat([d.x_train, d.x_val])
    assert sorted(map(tuple, every.tolist())) == sorted(map(tuple, load_points(name).xy.tolist()))
    with pytest.raises(ParamError, match=r"^train_fraction must be between 0.1 and 0.9; got 0.95$"):
        load_dataset(name, {"train_fraction": 0.95})


def test_file_names_are_cleaned_for_titles_and_markdown():
    assert clean_source("C:\\Users\\me\\[x](javascript:alert(1)).csv") == "-x--javascript-alert-1--.csv"
    assert clean_source("/home/me/my_points v2.csv") == "my_points v2.csv"
    assert clean_source("") == "points" and len(clean_source("a" * 100 + ".csv")) == 60


def test_a_malformed_name_is_an_unknown_dataset():
    with pytest.raises(ValueError, match="^unknown dataset 'points-xyz': saved points are named points- and 12 "
                                         "hex digits$"):
        get_info("points-xyz")


def _fingerprint(d) -> str:
    return hashlib.sha256(b"".join(t.numpy().tobytes() for t in (d.x_train, d.y_train, d.x_val, d.y_val))).hexdigest()


def test_a_fresh_process_loads_the_same_points_by_name(data):
    """Saved here, loaded by name in a new interpreter that has never seen them."""
    name = save_points(parse_points_csv(csv_of(xor_rows(60, scale=3)), "a.csv"))
    here = load_dataset(name, {"train_fraction": 0.6, "seed": 2})
    code = ("import hashlib; from engine.data import load_dataset; "
            f"d = load_dataset({name!r}, {{'train_fraction': 0.6, 'seed': 2}}); "
            "print(hashlib.sha256(b''.join(t.numpy().tobytes() for t in (d.x_train, d.y_train, d.x_val, d.y_val)))"
            ".hexdigest())")
    there = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert there.returncode == 0, there.stderr
    assert there.stdout.strip() == _fingerprint(here)


def test_a_run_on_saved_points_trains_in_its_own_process_then_reopens(data):
    name = save_points(parse_points_csv(csv_of(xor_rows(80)), "xor.csv"))
    store = RunStore(data / "runs")
    config = validate("mlp", name, {"epochs": 2, "batch_size": 8}, {"train_fraction": 0.5})
    job = TrainingJob(config, store, device="cpu").start()
    assert job.join(timeout=120) == "completed", store.get_run(job.run_id).message
    run = store.get_run(job.run_id)
    assert run.dataset == name and run.final["epochs"] == 2
    loaded = load_run(store, job.run_id)
    assert loaded.data.name == name and loaded.data.train_size == 40


def test_points_in_another_data_dir_train_in_a_child_process(data, tmp_path_factory):
    """Input: points saved into a data dir given explicitly (the CLI's --data-dir), not the default."""
    other = tmp_path_factory.mktemp("other-data")
    name = save_points(parse_points_csv(csv_of(xor_rows(40)), "a.csv"), other)
    assert not (data / "points").exists()
    store = RunStore(other / "runs")
    job = TrainingJob(validate("mlp", name, {"epochs": 1, "batch_size": 8}), store, device="cpu",
                      data_dir=other).start()
    assert job.join(timeout=120) == "completed", store.get_run(job.run_id).message


def test_a_removed_points_file_gives_a_clear_error_everywhere_not_a_traceback(data):
    name = save_points(parse_points_csv(csv_of(xor_rows(40)), "a.csv"))
    store = RunStore(data / "runs")
    config = validate("mlp", name, {"epochs": 1, "batch_size": 8})
    job = TrainingJob(config, store, device="cpu")
    assert job.run() == "completed"
    queued = TrainingJob(config, store, device="cpu")  # set up before the file goes, run after
    digest = name.removeprefix("points-")
    (data / "points" / f"{digest}.csv").unlink()
    gone = f"its file {digest}.csv is no longer in {data / 'points'}; upload the CSV or draw the points again"
    info = get_info(name)
    assert not info.available and info.hint == gone and name not in [i.name for i in list_datasets()]
    with pytest.raises(ValueError) as err:
        load_dataset(name)
    assert str(err.value) == f"dataset {name!r} is not installed here: {gone}"
    with pytest.raises(ParamError) as err:
        validate("mlp", name, {"batch_size": 8})
    assert str(err.value) == f"dataset {name!r} is not installed here: {gone}"
    with pytest.raises(RunLoadError) as err:
        load_run(store, job.run_id)
    assert str(err.value) == f"run {job.run_id} cannot be rebuilt here: dataset {name!r} is not installed here: {gone}"
    assert queued.run() == "failed"
    assert store.get_run(queued.run_id).message == f"ValueError: dataset {name!r} is not installed here: {gone}"


def test_clean_up_deletes_checkpoints_never_saved_points(data):
    name = save_points(parse_points_csv(csv_of(xor_rows(40)), "a.csv"))
    store = RunStore(data / "runs")
    job = TrainingJob(validate("mlp", name, {"epochs": 3, "batch_size": 8, "keep_last": 1, "keep_every": 0,
                                             "keep_best": False}), store, device="cpu")
    assert job.run() == "completed"
    files = sorted(p.name for p in (data / "points").iterdir())
    plan = plan_clean_up(store)
    clean_up(store, plan)
    assert sorted(p.name for p in (data / "points").iterdir()) == files and len(files) == 2
    assert get_info(name).available
