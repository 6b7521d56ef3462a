"""An uncaught exception shows the browser its type and a generic line, never its message or
traceback (absolute paths on the server, the data it was given); the server logs all of it
(.streamlit/config.toml: client.showErrorDetails; issue #13)."""
import tomllib
from pathlib import Path

from streamlit import config
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
SECRET = str(ROOT / "engine" / "core" / "runs.py")  # a server path a traceback would show


def test_the_config_hides_error_details_with_a_value_this_streamlit_honours():
    options = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    value = options["client"]["showErrorDetails"]
    assert value == "type"
    assert value in {o.value for o in config.ShowErrorDetailsConfigOptions}


def _fails(path: str):  # AppTest runs this function's source alone: what it needs comes as arguments
    raise FileNotFoundError(f"{path} is gone")


def test_a_page_that_raises_shows_no_path_and_the_server_logs_it(monkeypatch, capfd):
    monkeypatch.chdir(ROOT)  # Streamlit reads .streamlit/config.toml from the working directory
    at = AppTest.from_function(_fails, args=(SECRET,), default_timeout=60)
    at.run()
    [shown] = at.exception
    assert shown.proto.type == "FileNotFoundError"
    assert SECRET not in shown.value and "/" not in shown.value
    assert shown.value.startswith("This app has encountered an error.")
    assert list(shown.stack_trace) == []
    logged = "".join(capfd.readouterr())
    assert "FileNotFoundError" in logged and "is gone" in logged
