"""engine/core/paths.py: a data dir that cannot be a folder is a message, not a traceback (issue #13 probe)."""
import pytest

from engine.core.paths import data_dir, runs_dir


def test_data_dir_that_is_a_file_is_a_clear_error(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(ValueError, match=r"the data dir .*afile is a file, not a folder"):
        data_dir(afile)
    assert afile.read_text() == "x"  # the user's file is untouched


def test_data_dir_below_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ValueError, match=r"cannot create the data dir .*afile/sub: part of that path is a file"):
        data_dir(tmp_path / "afile" / "sub")


def test_runs_folder_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "runs").write_text("not a folder")
    with pytest.raises(ValueError, match=r"the runs folder .*runs is a file, not a folder"):
        runs_dir(tmp_path)


def test_a_fresh_data_dir_is_created(tmp_path):
    assert runs_dir(tmp_path / "new") == tmp_path / "new" / "runs"
    assert (tmp_path / "new" / "runs").is_dir()
