"""The live decision boundary in a real browser: how often it changes on screen, and what watching it
costs the run. On the user's path: a real server, headless Chromium, the Training page's Start.

Starts the app (`streamlit run app.py`, its own data dir), opens the Training page on the spiral
(an MLP, 625,000 steps: it trains throughout), presses Start, and then alternates:
  on:   the Training page with the run on show (its boundary drawn under the status line) for
        --window seconds, while a watcher in the page records every change of the boundary on
        screen (the step of the frame its canvas shows, read at each animation frame; and, as a
        cross-check, how many times the canvas drew);
  off:  the same page with its "Redraw live" switch off (no frame is read or drawn; the rest of
        the page, its status and live curves, goes on) for --window seconds;
  left: the Home page (the run goes on, nobody watches) for --window seconds;
--rounds times, so drift on a shared machine hits all three. It prints, per window, the run's
training speed (steps/s between consecutive steps of an epoch, as bench/live_training.py measures
it) and the boundary's changes per second on screen; then the medians, the ratio of steps/s with
the view on to the page left (target >= 0.9), and with the view on to off (the view's own cost).
The frames the run wrote per second (FRAME_SECONDS apart at most, and at most FRAME_SHARE of its
time) are counted from the store in every window alike: the ceiling of what the page can show.
"Browsers" is the CPU of every chromium process on the machine (another one's too, if running).

    python bench/live_boundary.py                  # 2 rounds of 20 s windows
    python bench/live_boundary.py --window 30 --rounds 3
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.live_training import CHROMIUM_ARGS, Window, free_port, newest_run, start_server, wait_for  # noqa: E402
from engine.core.runs import RunStore  # noqa: E402

# The suggested spiral network (3 x 128, lr 0.003) on 5,000 points (2,500 to train) in batches of 4:
# 625 steps an epoch (the epochs' ends weigh little) and 625,000 in all, so that it trains
# throughout the measurement (it is stopped at the end).
SETTINGS = ("model=mlp&dataset=spiral&mlp.width=128&mlp.depth=3&lr=0.003&batch_size=4&epochs=1000"
            "&spiral.n_samples=5000")

# Every change of the boundary on screen, with the browser's clock: the step of the frame the canvas
# shows (its data-step, set as it draws; read at each animation frame), and how often it drew.
WATCH_BOUNDARY = """() => {
  window.__steps = [];
  const boundary = () => [...document.querySelectorAll('.dp-plane')].find(e => e.dataset.step);
  const first = boundary();
  window.__draws0 = first ? +first.dataset.draws : 0;
  let last = null;
  const tick = () => {
    const root = boundary();
    const step = root ? root.dataset.step : null;
    if (step !== null && step !== last) { last = step; window.__steps.push([Date.now(), +step]); }
    window.__watch = requestAnimationFrame(tick);
  };
  tick();
}"""
STOP_WATCHING = """() => { cancelAnimationFrame(window.__watch);
  const root = [...document.querySelectorAll('.dp-plane')].find(e => e.dataset.step);
  return [window.__steps, (root ? +root.dataset.draws : 0) - window.__draws0]; }"""
BOUNDARY_SHOWN = "() => [...document.querySelectorAll('.dp-plane')].some(e => e.dataset.step)"


class FrameCounter:
    """Counts the frames the run writes (changes of its frame's step in the store), polled 20 times
    a second from this process, in the open and the left windows alike."""

    def __init__(self, store: RunStore, run_id: int):
        self.store, self.run_id, self.changes, self.steps, self._stop = store, run_id, [], [], threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self):
        last = None
        while not self._stop.is_set():
            step = self.store.frame_step(self.run_id)
            if step != last:
                last = step
                self.changes.append(time.time())
                self.steps.append(step)
            time.sleep(0.05)

    def between(self, t0: float, t1: float) -> int:
        return sum(t0 <= t <= t1 for t in self.changes)

    def stop(self):
        self._stop.set()
        self._thread.join()


def set_live(page, on: bool) -> None:
    """The Inside tab's "Redraw live" switch on or off (a click reruns the page)."""
    switch = page.get_by_role("switch", name="Redraw live")
    if switch.is_checked() != on:
        page.get_by_text("Redraw live", exact=True).click()
        page.get_by_test_id("stStatusWidget").wait_for(state="detached")
        page.wait_for_timeout(3000)
    assert switch.is_checked() == on


def still_training(store: RunStore, run_id: int) -> None:
    if store.get_run(run_id).status != "running":
        raise SystemExit(f"run {run_id} ended during the measurement ({store.get_run(run_id).status}): "
                         "measure with fewer or shorter windows")


def watched_window(page, measure: Window, frames: FrameCounter, seconds: float) -> dict:
    """A window with the page open: the run's speed, and what the boundary did on screen."""
    page.evaluate(WATCH_BOUNDARY)
    window = measure.measure(seconds)
    still_training(measure.store, measure.run_id)
    steps, draws = page.evaluate(STOP_WATCHING)
    seen = [s for ms, s in steps if window["t0"] <= ms / 1000 <= window["t1"]]
    return window | {"shown_per_s": len(seen) / seconds, "draws_per_s": draws / seconds,
                     "written_per_s": frames.between(window["t0"], window["t1"]) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=20.0, help="seconds per measurement window")
    parser.add_argument("--rounds", type=int, default=2, help="open/left pairs")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="boundary-bench-"))
    data_dir = tmp / "data"
    data_dir.mkdir(parents=True)
    store = RunStore(data_dir / "runs")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(data_dir, port, tmp / "server.log")
    print(f"server pid {server.pid} at {url}, {os.cpu_count()} cores; run: {SETTINGS}")
    rounds = {"on": [], "off": [], "left": []}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.get_by_role("heading", name="Deep Playground").wait_for()
            page.goto(f"{url}/training?{SETTINGS}")
            page.get_by_role("heading", name="Training", exact=True).wait_for()
            page.get_by_role("button", name="Start").click()
            run_id = wait_for(lambda: newest_run(store, "mlp", 0), 60, "the spiral run")
            wait_for(lambda: store.get_run(run_id).progress.get("step", 0) > 200, 120, "the run's first steps")
            frames = FrameCounter(store, run_id)
            measure = Window(store, run_id, server.pid)
            nav = page.get_by_test_id("stSidebarNav")
            for i in range(args.rounds):
                nav.get_by_role("link", name="Training").click()
                page.get_by_role("heading", name="Training", exact=True).wait_for()
                page.wait_for_function(BOUNDARY_SHOWN)
                page.wait_for_timeout(3000)  # the page's first draw, then the steady state
                # On then off, or off then on: the order alternates, so neither window always
                # follows the page's first draw.
                for kind in ("on", "off") if i % 2 == 0 else ("off", "on"):
                    set_live(page, kind == "on")
                    rounds[kind].append(watched_window(page, measure, frames, args.window))
                    if kind == "on":
                        page.screenshot(path=str(tmp / f"on-{len(rounds['on'])}.png"))
                nav.get_by_role("link", name="Home").click()
                page.get_by_role("heading", name="Deep Playground").wait_for()
                page.wait_for_timeout(3000)
                window = measure.measure(args.window)
                still_training(store, run_id)
                window["written_per_s"] = frames.between(window["t0"], window["t1"]) / args.window
                rounds["left"].append(window)
            frames.stop()
            store.send_command(run_id, "stop")
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
    report(rounds, tmp)


def report(rounds: dict, tmp: Path) -> None:
    def med(kind, key):
        return statistics.median(r[key] for r in rounds[kind])

    print(f"\n== Live boundary, MLP on spiral ({len(rounds['on'])} rounds; screenshots in {tmp})")
    for kind in ("on", "off", "left"):
        for i, r in enumerate(rounds[kind]):
            shown = (f", boundary changed on screen {r['shown_per_s']:.2f}/s (canvas drawn {r['draws_per_s']:.2f}/s)"
                     if kind != "left" else "")
            print(f"  {kind:<4} round {i + 1}: {r['steps_per_s']:7.1f} steps/s training ({r['wall_steps_per_s']:6.1f} over "
                  f"the window), frames written {r['written_per_s']:.2f}/s{shown}; server {r['server_cpu'] * 100:5.1f} % "
                  f"of a core, browsers {r['browser_cpu'] * 100:5.1f} %")
    print(f"  boundary refresh seen in the browser: median {med('on', 'shown_per_s'):.2f} changes/s "
          f"(the run wrote {med('on', 'written_per_s'):.2f} frames/s)")
    on, off, left = (med(kind, "steps_per_s") for kind in ("on", "off", "left"))
    print(f"  steps/s with the boundary view on {on:.1f}, off (page open) {off:.1f}, page left {left:.1f}")
    print(f"  ratio view on / page left {on / left:.3f} (target >= 0.9); view on / view off {on / off:.3f}")


if __name__ == "__main__":
    main()
