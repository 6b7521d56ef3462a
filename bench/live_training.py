"""Does watching a run slow it? Measured on the path a user takes: a real server, a real browser.

Starts the app (`streamlit run app.py`, its own data dir), opens it in headless Chromium, and:
  1. Training page: starts a CNN on MNIST with the page's Start button and measures the run's
     training speed from the store for --window seconds with the page open, then the same after
     clicking "Home" in the sidebar (the run goes on, nobody watches), then open again, and so on
     (open / left alternate --rounds times, so drift on a shared machine hits both).
  2. Attention page: the same with a transformer on `reverse`, started with the page's Train button.
Per page it prints steps/s open and left and their ratio (target >= 0.9), the server's CPU share
while the page is open (target < 15 % of one core; the server process alone, its training children
not counted) and the browser's, the server's memory, and the delay from a step's loss being
written to the store to that point drawn on the loss chart in the browser (target < 1 s).

Steps/s is the training speed: steps divided by the time between consecutive steps of the same
epoch, so the end-of-epoch evaluation (the same open or left) does not blur the comparison; the
plain rate over the window is printed too.

    python bench/live_training.py                    # both pages, 2 rounds of 30 s windows
    python bench/live_training.py --window 40 --rounds 1 --pages training
"""
from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from engine.core.runs import RunStore  # noqa: E402
from tests.e2e.helpers import DRAWN_LINES  # noqa: E402

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Every change of the newest x drawn on the loss chart's smoothed line whose series matches `pattern`,
# with the browser's clock (ms since epoch). DRAWN_LINES reads the Vega-Lite charts' SVG.
WATCH_LOSS_CHART = f"""(pattern) => {{
  window.__seen = [];
  const re = new RegExp(pattern), lines = {DRAWN_LINES};
  let last = null;
  window.__watch = setInterval(() => {{
    for (const line of lines()) {{
      if (!re.test(line.series) || line.kind !== 'smoothed') continue;
      if (last === null || line.last > last) {{ last = line.last; window.__seen.push([Date.now(), line.last]); }}
    }}
  }}, 20);
}}"""


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes (not of their children)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError):
            pass
    return total / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def chromium_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"chrom" in (entry / "cmdline").read_bytes()[:200]:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "DEEP_PLAYGROUND_DATA": str(data_dir), "DEEP_PLAYGROUND_NO_UMAP_WARMUP": "1"}
    server = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                               "--server.headless", "true"], cwd=ROOT, env=env,
                              stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    return server
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the server did not start; its log:\n{log.read_text()}")
        time.sleep(0.3)


class Window:
    """One measurement window: steps of the run, CPU of the server and the browser, over `seconds`."""

    def __init__(self, store: RunStore, run_id: int, server_pid: int):
        self.store, self.run_id, self.server_pid = store, run_id, server_pid

    def measure(self, seconds: float) -> dict:
        browser = chromium_pids()
        server0, browser0, t0 = cpu_seconds([self.server_pid]), cpu_seconds(browser), time.time()
        time.sleep(seconds)
        server1, browser1, t1 = cpu_seconds([self.server_pid]), cpu_seconds(browser), time.time()
        steps = self.store.metrics(self.run_id, ["loss"])
        steps = steps[(steps.wall_time >= t0) & (steps.wall_time <= t1)]
        gaps = steps.wall_time.diff()[steps.epoch.diff() == 0].dropna()  # consecutive steps, same epoch
        return {"steps_per_s": 1 / gaps.mean() if len(gaps) else float("nan"),
                "wall_steps_per_s": len(steps) / (t1 - t0),
                "server_cpu": (server1 - server0) / (t1 - t0), "browser_cpu": (browser1 - browser0) / (t1 - t0),
                "server_rss_mb": rss_mb(self.server_pid), "t0": t0, "t1": t1}


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)
    return value


def newest_run(store: RunStore, model: str, after: int) -> int:
    runs = [r for r in store.list_runs() if r.model == model and r.id > after]
    return runs[0].id if runs else 0


def compare(page, store, server_pid: int, run_id: int, open_page, leave_page, window: float, rounds: int,
            chart_trace: str | None) -> dict:
    """Alternate open / left windows on a running run; returns the medians and the draw delays."""
    measure = Window(store, run_id, server_pid)
    results = {"open": [], "left": []}
    delays: list[float] = []
    for _ in range(rounds):
        open_page()
        if chart_trace:
            page.evaluate(WATCH_LOSS_CHART, chart_trace)
        page.wait_for_timeout(3000)  # the page's first draw, then the steady state
        results["open"].append(measure.measure(window))
        if chart_trace:
            delays += draw_delays(page, store, run_id, results["open"][-1])
        leave_page()
        page.wait_for_timeout(3000)
        results["left"].append(measure.measure(window))
    return {"rounds": results, "delays": delays}


def draw_delays(page, store: RunStore, run_id: int, window: dict) -> list[float]:
    """Seconds from each newest-drawn step's write to the store to its first frame in the browser.
    A step's write time is taken as its wall time: the trainer writes a batch of steps at once, and
    the newest step of each batch, the one a chart ends on, was written at its own wall time."""
    seen = page.evaluate("() => { clearInterval(window.__watch); return window.__seen; }")
    walls = store.metrics(run_id, ["loss"]).set_index("step").wall_time
    out = []
    for ms, step in seen:
        at = ms / 1000
        if window["t0"] <= at <= window["t1"] and step in walls.index:
            out.append(at - float(walls.loc[step]))
    return out


def summary(name: str, result: dict) -> None:
    rounds = result["rounds"]

    def med(kind, key):
        return statistics.median(r[key] for r in rounds[kind])

    ratio = med("open", "steps_per_s") / med("left", "steps_per_s")
    print(f"\n== {name} page ({len(rounds['open'])} rounds)")
    for kind in ("open", "left"):
        for i, r in enumerate(rounds[kind]):
            print(f"  {kind:<5} round {i + 1}: {r['steps_per_s']:7.2f} steps/s training ({r['wall_steps_per_s']:6.2f} "
                  f"over the window), server {r['server_cpu'] * 100:5.1f} % of a core, browser "
                  f"{r['browser_cpu'] * 100:5.1f} %, server RSS {r['server_rss_mb']:.0f} MB")
    print(f"  steps/s open {med('open', 'steps_per_s'):.2f}, left {med('left', 'steps_per_s'):.2f}: "
          f"ratio open/left {ratio:.3f} (target >= 0.9)")
    print(f"  server CPU with the page open: {med('open', 'server_cpu') * 100:.1f} % of one core "
          f"(target < 15 %); left: {med('left', 'server_cpu') * 100:.1f} %")
    if result["delays"]:
        d = result["delays"]
        print(f"  loss written -> drawn in the browser: median {statistics.median(d) * 1000:.0f} ms, "
              f"p90 {float(np.percentile(d, 90)) * 1000:.0f} ms, max {max(d) * 1000:.0f} ms over {len(d)} "
              f"redraws that showed a newer step (target < 1000 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=30.0, help="seconds per measurement window")
    parser.add_argument("--rounds", type=int, default=2, help="open/left pairs per page")
    parser.add_argument("--pages", default="training,attention")
    parser.add_argument("--data-dir", help="data dir for the server (default: a fresh temporary one)")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="live-bench-"))
    data_dir = Path(args.data_dir) if args.data_dir else tmp / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    store = RunStore(data_dir / "runs")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(data_dir, port, tmp / "server.log")
    print(f"server pid {server.pid} at {url}, data dir {data_dir}, {os.cpu_count()} cores")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.get_by_role("heading", name="Deep Playground").wait_for()

            def go_home():
                page.get_by_test_id("stSidebarNav").get_by_role("link", name="Home").click()
                page.get_by_role("heading", name="Deep Playground").wait_for()

            def sidebar_to(title: str, heading: str):
                def go():
                    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title).click()
                    page.get_by_role("heading", name=heading, exact=True).wait_for()
                return go

            if "training" in args.pages:
                before = max((r.id for r in store.list_runs()), default=0)
                page.goto(f"{url}/training?model=cnn&dataset=mnist&epochs=20")
                page.get_by_role("heading", name="Training", exact=True).wait_for()
                page.get_by_role("button", name="Start").click()
                run_id = wait_for(lambda: newest_run(store, "cnn", before), 60, "the CNN run")
                wait_for(lambda: store.get_run(run_id).progress.get("step", 0) > 100, 180, "the CNN's first steps")
                result = compare(page, store, server.pid, run_id, sidebar_to("Training", "Training"), go_home,
                                 args.window, args.rounds, r"^run \d+ loss$")
                store.send_command(run_id, "stop")
                summary("Training (CNN on MNIST)", result)

            if "attention" in args.pages:
                before = max((r.id for r in store.list_runs()), default=0)
                page.goto(f"{url}/attention?att.task=reverse&att.model=transformer&att.train.epochs=60")
                page.get_by_role("heading", name="Attention", exact=True).wait_for()
                page.get_by_role("button", name="Train", exact=True).click()
                run_id = wait_for(lambda: newest_run(store, "transformer", before), 60, "the transformer run")
                wait_for(lambda: store.checkpoint_epochs(run_id), 180, "the transformer's first epoch")
                result = compare(page, store, server.pid, run_id, sidebar_to("Attention", "Attention"), go_home,
                                 args.window, args.rounds, None)
                store.send_command(run_id, "stop")
                summary("Attention (transformer on reverse)", result)
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
        if not args.data_dir:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
