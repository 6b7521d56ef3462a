"""`python -m engine train --points my.csv`: your own 2D points from the command line, in a subprocess
as a person runs it. A bad file exits 2 with one line on stderr; a good one becomes a dataset that
later runs name with --dataset."""
import json

import numpy as np
import pytest

from tests.test_cli import cli

pytestmark = pytest.mark.slow  # each test starts `python -m engine`


def write_xor(path, n=40):
    rng = np.random.default_rng(0)
    lines = ["x,y,label"] + [f"{x * 5:.3f},{y * 5:.3f},{'red' if x * y > 0 else 'blue'}"
                             for x, y in rng.uniform(-1, 1, (n, 2))]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_on_a_csv_then_by_its_dataset_name_and_clean_up_keeps_the_points(tmp_path):
    """Input: 40 XOR points in [-5, 5]^2 labelled red/blue; then `--dataset points-<hash>`; then `runs clean-up`."""
    data = tmp_path / "data"
    csv_file = write_xor(tmp_path / "xor.csv")
    result = cli("train", "--model", "mlp", "--points", str(csv_file), "--epochs", "2", "--batch-size", "8",
                 "--option", "train_fraction=0.5", data=data)
    line = json.loads(result.stdout.strip().splitlines()[-1])
    name = line["dataset"]
    assert line["status"] == "completed" and name.startswith("points-") and len(name) == len("points-") + 12
    assert f"{csv_file}: 40 points, saved as dataset {name}\n" in result.stderr
    saved = sorted(p.name for p in (data / "points").iterdir())
    assert saved == [f"{name[7:]}.csv", f"{name[7:]}.json"]

    again = json.loads(cli("train", "--model", "mlp", "--dataset", name, "--epochs", "1", "--batch-size", "8",
                           data=data).stdout.strip().splitlines()[-1])
    assert again["status"] == "completed" and again["dataset"] == name
    cli("runs", "clean-up", data=data)
    assert sorted(p.name for p in (data / "points").iterdir()) == saved


def test_points_saved_under_data_dir_are_found_there_by_name(tmp_path):
    """Input: `--data-dir OTHER train --points xor.csv`, then `--data-dir OTHER train --dataset points-<hash>`."""
    other = tmp_path / "other"
    first = cli("--data-dir", str(other), "train", "--model", "mlp", "--points", str(write_xor(tmp_path / "xor.csv")),
                "--epochs", "1", "--batch-size", "8", "--quiet", data=tmp_path / "default")
    name = json.loads(first.stdout)["dataset"]
    assert (other / "points" / f"{name[7:]}.csv").is_file() and not (tmp_path / "default" / "points").exists()
    second = cli("--data-dir", str(other), "train", "--model", "mlp", "--dataset", name, "--epochs", "1",
                 "--batch-size", "8", "--quiet", data=tmp_path / "default")
    assert json.loads(second.stdout)["status"] == "completed"


@pytest.mark.parametrize("content, message", [
    ("x,y,label\n0.1,0.2,0\nabc,0.3,1\n", "line 3: x is 'abc', not a number"),
    ("x,y,label\n" + "".join(f"0.{i},0.1,{i % 3}\n" for i in range(12)),
     "the label column has 3 different labels ('0', '1', '2'): your own points have exactly two classes, as in "
     "TensorFlow Playground"),
], ids=["text for x on line 3", "three classes"])
def test_a_bad_file_exits_2_with_one_line_naming_the_file(tmp_path, content, message):
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    result = cli("train", "--model", "mlp", "--points", str(bad), data=tmp_path, check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"error: {bad}: {message}\n"
    assert not (tmp_path / "points").exists()


def test_dataset_and_points_together_exit_2(tmp_path):
    result = cli("train", "--model", "mlp", "--dataset", "spiral", "--points", "a.csv", data=tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr == ("error: argument --points: not allowed with argument --dataset "
                             "(see python -m engine train --help)\n")
