"""Browser-test fixtures: a real `streamlit run app.py` server and headless Debian chromium.

Chromium comes from the system (`apt-get install chromium`), never from `playwright install`
(that downloads a browser, which fails offline).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


_server_log: dict[str, Path] = {}  # "path" -> the running server's log, for failure reports


BROWSER_TEST_TIMEOUT_S = 600  # a page may train a model while the browser waits on it


def pytest_collection_modifyitems(items):
    """Every browser test is e2e and slow, and gets a larger per-test limit than pytest.ini's."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(BROWSER_TEST_TIMEOUT_S))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except OSError:
        return False


@pytest.fixture(scope="session")
def app_data_dir(tmp_path_factory) -> Path:
    """The server's data dir (DEEP_PLAYGROUND_DATA): tests may put runs in it."""
    return tmp_path_factory.mktemp("e2e-data")


@pytest.fixture(scope="session")
def app_url(app_data_dir, tmp_path_factory):
    """Start the app on a free port with its own data dir; yield its URL; stop it afterwards."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("e2e-log") / "streamlit.log"
    _server_log["path"] = log_path
    # No UMAP warm-up in the test server: it would take a core for a minute or two (compile + the
    # default GloVe map) while the other pages are timed; the browser tests never run UMAP.
    env = {**os.environ, "DEEP_PLAYGROUND_DATA": str(app_data_dir), "DEEP_PLAYGROUND_NO_UMAP_WARMUP": "1"}
    env.pop("DEEP_PLAYGROUND_DEVICE", None)
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.headless", "true"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while not _healthy(url):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not come up at {url} (exit code {server.poll()}); "
                            f"its log:\n{log_path.read_text()}")
            time.sleep(0.3)
        yield url
    finally:
        _server_log.pop("path", None)
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright package: pip install -r requirements-dev.txt")
    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if chromium is None:
        pytest.skip("browser tests need Debian's chromium, not found on PATH: apt-get install chromium "
                    "(never `playwright install`)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    """A fresh page per test; on failure its screenshot is saved next to the others."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"FAILED-{request.node.name}.png", full_page=True)
    context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember the call outcome (for the failure screenshot) and attach the server log to
    every failing browser test's report."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report
    log_path = _server_log.get("path")
    if report.failed and log_path and "app_url" in getattr(item, "fixturenames", ()):
        report.sections.append(("streamlit server log", log_path.read_text()))


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
