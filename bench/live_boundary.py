"""The live decision boundary in a real browser: how often it changes on screen, and what watching it
costs the run. On the user's path: a real server, headless Chromium, the Training page's Start.

Starts the app (`streamlit run app.py`, its own data dir), opens the Training page on the spiral
(an MLP, batch 16, many epochs so that it trains throughout), presses Start, and then alternates:
  open: the Training page with the run on show (the Inside tab, the boundary view, is the first tab)
        for --window seconds, while a watcher in the page records every change of the boundary
        on screen (the step of the frame plotly has drawn, `layout.meta.step`, read at each
        animation frame; and, as a cross-check, each new heatmap image plotly writes into the SVG);
  left: the Home page (the run goes on, nobody watches) for --window seconds;
--rounds times, so drift on a shared machine hits both. It prints, per window, the run's training
speed (steps/s between consecutive steps of an epoch, as bench/live_training.py measures it) and,
open, the boundary's changes per second on screen; then the medians and the ratio of steps/s open
to left (target >= 0.9). The frames the run wrote per second (FRAME_SECONDS apart at most) are
counted from the store in both windows alike, the ceiling of what the page can show.

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

SETTINGS = "model=mlp&dataset=spiral&mlp.width=128&mlp.depth=3&lr=0.003&batch_size=16&epochs=1000"

# Every change of the boundary on screen, with the browser's clock: the step plotly drew (read at
# each animation frame) and, separately, each new heatmap image plotly put into the SVG.
WATCH_BOUNDARY = """() => {
  window.__steps = []; window.__images = 0;
  const boundary = () => [...document.querySelectorAll('.js-plotly-plot')]
    .find(gd => gd.layout && gd.layout.meta && gd.layout.meta.step !== undefined
                && (gd.data || []).some(t => t.type === 'heatmap'));
  let last = null, watched = null;
  const observer = new MutationObserver(records => {
    for (const r of records) {
      if (r.type === 'attributes' && r.target.tagName === 'image') window.__images++;
      for (const n of r.addedNodes || []) if (n.tagName === 'image') window.__images++;
    }
  });
  const tick = () => {
    const gd = boundary();
    if (gd && gd !== watched) {
      observer.disconnect();
      observer.observe(gd, {subtree: true, childList: true, attributes: true, attributeFilter: ['href', 'xlink:href']});
      watched = gd;
    }
    const step = gd ? gd.layout.meta.step : null;
    if (step !== null && step !== last) { last = step; window.__steps.push([Date.now(), step]); }
    window.__watch = requestAnimationFrame(tick);
  };
  tick();
}"""
STOP_WATCHING = "() => { cancelAnimationFrame(window.__watch); return [window.__steps, window.__images]; }"


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
    rounds = {"open": [], "left": []}
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
            for _ in range(args.rounds):
                nav.get_by_role("link", name="Training").click()
                page.get_by_role("heading", name="Training", exact=True).wait_for()
                page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot')]"
                                       ".some(gd => gd.layout && gd.layout.meta && gd.layout.meta.step !== undefined)")
                page.wait_for_timeout(2000)  # the page's first draw, then the steady state
                page.evaluate(WATCH_BOUNDARY)
                window = measure.measure(args.window)
                steps, images = page.evaluate(STOP_WATCHING)
                seen = [s for ms, s in steps if window["t0"] <= ms / 1000 <= window["t1"]]
                window |= {"shown_per_s": len(seen) / args.window, "images_per_s": images / args.window,
                           "written_per_s": frames.between(window["t0"], window["t1"]) / args.window}
                rounds["open"].append(window)
                page.screenshot(path=str(tmp / f"open-{len(rounds['open'])}.png"))
                nav.get_by_role("link", name="Home").click()
                page.get_by_role("heading", name="Deep Playground").wait_for()
                page.wait_for_timeout(2000)
                window = measure.measure(args.window)
                window["written_per_s"] = frames.between(window["t0"], window["t1"]) / args.window
                rounds["left"].append(window)
            frames.stop()
            print("DEBUG", frames.steps[:50], store.get_run(run_id).progress)
            store.send_command(run_id, "stop")
            browser.close()
    finally:
        server.terminate()
        server.wait(30)
    report(rounds, tmp)


def report(rounds: dict, tmp: Path) -> None:
    def med(kind, key):
        return statistics.median(r[key] for r in rounds[kind])

    print(f"\n== Live boundary, MLP on spiral ({len(rounds['open'])} rounds; screenshots in {tmp})")
    for kind in ("open", "left"):
        for i, r in enumerate(rounds[kind]):
            shown = (f", boundary changed on screen {r['shown_per_s']:.2f}/s (heatmap images {r['images_per_s']:.2f}/s)"
                     if kind == "open" else "")
            print(f"  {kind:<5} round {i + 1}: {r['steps_per_s']:7.1f} steps/s training ({r['wall_steps_per_s']:6.1f} over "
                  f"the window), frames written {r['written_per_s']:.2f}/s{shown}; server {r['server_cpu'] * 100:5.1f} % "
                  f"of a core, browser {r['browser_cpu'] * 100:5.1f} %")
    ratio = med("open", "steps_per_s") / med("left", "steps_per_s")
    print(f"  boundary refresh seen in the browser: median {med('open', 'shown_per_s'):.2f} changes/s "
          f"(frames written {med('open', 'written_per_s'):.2f}/s)")
    print(f"  steps/s open {med('open', 'steps_per_s'):.1f}, left {med('left', 'steps_per_s'):.1f}: "
          f"ratio open/left {ratio:.3f} (target >= 0.9)")


if __name__ == "__main__":
    main()
