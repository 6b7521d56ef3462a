"""Typed integers reach the engine one way (engine/core/numbers.py), from every CLI flag and file
header: a 20-digit run id, a Unicode digit, "inf" or a negative count is one line on stderr and
exit status 2, never a traceback nor a silent empty result (issue #13)."""
import pytest

from engine.__main__ import main
from engine.core.loading import RunLoadError, load_run
from engine.core.params import Param, ParamError
from engine.core.runs import RunStore
from engine.data.sequences import target_for
from engine.embeddings.vectors import VectorsFormatError, load_vectors_file

BIG = "99999999999999999999"  # 20 digits: more than SQLite's INTEGER holds
RANGE = "between 1 and 9223372036854775807"


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEP_PLAYGROUND_DATA", str(tmp_path))
    return tmp_path


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


@pytest.mark.parametrize("args, message", [
    (["runs", "show", BIG], f"argument run_id: a run id must be {RANGE}; got {BIG} (see python -m engine runs show --help)"),
    (["runs", "export", BIG, "--csv"],
     f"argument run_id: a run id must be {RANGE}; got {BIG} (see python -m engine runs export --help)"),
    (["runs", "list", "--limit", BIG],
     f"argument --limit: the number of runs must be {RANGE}; got {BIG} (see python -m engine runs list --help)"),
    (["runs", "list", "--limit", "0"],
     f"argument --limit: the number of runs must be at least 1; got 0 (see python -m engine runs list --help)"),
    (["sample", "--run", BIG, "--out", "x.png"],
     f"argument --run: a run id must be {RANGE}; got {BIG} (see python -m engine sample --help)"),
    (["latent-grid", "--run", BIG, "--out", "x.png"],
     f"argument --run: a run id must be {RANGE}; got {BIG} (see python -m engine latent-grid --help)"),
    (["translate", "--run", BIG, "--text", "ab"],
     f"argument --run: a run id must be {RANGE}; got {BIG} (see python -m engine translate --help)"),
    (["attention", "--model", BIG, "--text", "ab", "--out", "x.npz"], f"a run id must be {RANGE}; got {BIG}"),
    (["saliency", "--run", BIG, "--method", "gradcam", "--index", "0", "--out", "x.png"],
     f"there is no run {BIG}; `python -m engine runs list` lists the runs"),
    (["neighbours", "--vectors", BIG, "frog"], f"no run with id {BIG}"),
    (["evaluate-vectors", "--vectors", BIG], f"no run with id {BIG}"),
])
def test_a_20_digit_run_id_is_refused_in_one_line(data_dir, capsys, args, message):
    assert main(args) == 2
    assert one_error_line(capsys) == f"error: {message}"


@pytest.mark.parametrize("args, message", [
    (["runs", "show", "²"], "argument run_id: a run id must be a whole number, not '²' (see python -m engine runs show --help)"),
    (["sample", "--run", "٣", "--out", "x.png"],  # int() reads "٣" (Arabic-Indic three) as 3
     "argument --run: a run id must be a whole number, not '٣' (see python -m engine sample --help)"),
    (["saliency", "--run", "٣", "--method", "gradcam", "--index", "0", "--out", "x.png"],
     "'٣' is neither a run id nor 'default'"),
    (["attention", "--model", "²", "--text", "ab", "--out", "x.npz"], "--model must be minilm or a run id, not '²'"),
    (["neighbours", "--vectors", "²", "frog"], "'²' is not glove50, a run id, or an existing file"),
    (["embed", "--vectors", "glove50", "--top", "٣", "--out", "x.csv"],
     "argument --top: the value must be a whole number, not '٣' (see python -m engine embed --help)"),
    (["saliency", "--run", "default", "--method", "gradcam", "--index", "¹", "--out", "x.png"],
     "argument --index: the value must be a whole number, not '¹' (see python -m engine saliency --help)"),
])
def test_unicode_digits_are_not_numbers(data_dir, capsys, args, message):
    assert main(args) == 2
    assert one_error_line(capsys) == f"error: {message}"


@pytest.mark.parametrize("flag, value", [("--epochs", "inf"), ("--epochs", "1e999"), ("--epochs", "nan"),
                                         ("--epochs", "٣"), ("--batch-size", "1e999")])
def test_train_refuses_an_infinite_or_foreign_count(data_dir, capsys, flag, value):
    assert main(["train", "--model", "mlp", "--dataset", "spiral", flag, value, "--quiet"]) == 2
    name = flag.removeprefix("--").replace("-", "_")
    assert one_error_line(capsys) == f"error: {name} must be a whole number, not {value!r}"
    assert RunStore(data_dir / "runs").list_runs() == []  # no run was started


def test_pretrain_refuses_epochs_1e999(data_dir, capsys, tmp_path):
    assert main(["pretrain", "--epochs", "1e999", "--out", str(tmp_path / "cnn.safetensors")]) == 2
    assert one_error_line(capsys) == "error: epochs must be a whole number, not '1e999'"
    assert not (tmp_path / "cnn.safetensors").exists()


@pytest.mark.parametrize("args, message", [
    (["neighbours", "--vectors", "glove50", "frog", "-k", "-5"],  # was a RuntimeError from torch.topk
     "argument -k: the number of words must be between 1 and 1000; got -5 (see python -m engine neighbours --help)"),
    (["analogy", "--vectors", "glove50", "man", "king", "woman", "-k", "-3"],  # was exit 0, no results
     "argument -k: the number of words must be between 1 and 1000; got -3 (see python -m engine analogy --help)"),
    (["neighbours", "--vectors", "glove50", "frog", "-k", "0"],
     "argument -k: the number of words must be between 1 and 1000; got 0 (see python -m engine neighbours --help)"),
    (["saliency", "--run", "default", "--method", "integrated-gradients", "--index", "0", "--steps", "99999999999",
      "--out", "x.png"],
     "argument --steps: the value must be between 1 and 1000; got 99999999999 (see python -m engine saliency --help)"),
    (["latent-grid", "--run", "1", "--range", "inf", "--out", "x.png"],
     "argument --range: the value must be a finite number, not 'inf' (see python -m engine latent-grid --help)"),
])
def test_counts_out_of_range_are_refused(data_dir, capsys, args, message):
    assert main(args) == 2
    assert one_error_line(capsys) == f"error: {message}"


def test_a_missing_argument_is_one_line_too(data_dir, capsys):
    """`runs show` with no id: argparse's own error, as one line and exit 2 (not its usage block)."""
    assert main(["runs", "show"]) == 2
    assert one_error_line(capsys) == ("error: the following arguments are required: run_id "
                                      "(see python -m engine runs show --help)")


def test_the_store_says_no_run_for_an_id_beyond_sqlite(tmp_path):
    """get_run / delete_run(2**70): "no run with id ..." as for any missing run, not OverflowError."""
    store = RunStore(tmp_path)
    for call in (store.get_run, store.delete_run):
        with pytest.raises(KeyError, match=f"no run with id {2 ** 70}"):
            call(2 ** 70)


def test_load_run_reads_unicode_digits_as_text_not_as_a_run_id(tmp_path):
    """load_run(store, "٣") was run 3 (int() reads Arabic-Indic digits)."""
    store = RunStore(tmp_path)
    with pytest.raises(RunLoadError, match="^'٣' is neither a run id nor 'default'$"):
        load_run(store, "٣")


@pytest.mark.parametrize("value", ["inf", "1e999", "-inf", "٣"])
def test_an_int_param_refuses_infinity_and_unicode_digits(value):
    """Param.coerce("inf") raised OverflowError (int(float("inf")))."""
    with pytest.raises(ParamError, match=f"^epochs must be a whole number, not {value!r}$"):
        Param("epochs", "int", 5, low=1, high=1000).coerce(value)


def test_a_vectors_header_in_unicode_digits_is_no_header(tmp_path):
    """A first line "¹ 5" read as a word2vec header gave "invalid literal for int()"; it is a word and
    its one value, so the next line's five values are the problem."""
    path = tmp_path / "vectors.txt"
    path.write_text("¹ 5\nfrog 1 2 3 4 5\n", encoding="utf-8")
    with pytest.raises(VectorsFormatError, match=r"^line 2: expected 1 numbers, found 5 \(ragged row\)$"):
        load_vectors_file(path)


def test_the_addition_task_reads_only_ascii_digits():
    """target_for("addition", "²+1") raised "invalid literal for int()" ("²".isdigit() is True)."""
    assert target_for("addition", "²+1", {}) is None  # no answer the task can tell
    assert target_for("addition", "12+30", {}) == "42"
