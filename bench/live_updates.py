"""What the training page's live updates cost, and how late they are.

The page redraws from a Streamlit fragment every second while the Trainer trains in a background
thread. Each refresh reads the run (`RunStore.get_run`), the whole long metrics frame
(`RunStore.metrics`), and thins the step losses for plotting (`curves.x_axis`, `curves.smooth`,
`curves.downsample_minmax` on the raw and the smoothed curve, as pages/_ui/training_charts.py does).

1. Cost: the same TrainingJob (same model, data, steps, seed) timed with no reader and with a
   reader thread doing one such refresh every --interval seconds. Off and on runs alternate so
   drift on a shared machine hits both; the ratio is of the medians. The reader also records when
   it first saw each step loss: step -> visible on the page, the Trainer's flush buffering included.
2. Latency: a writer thread appends one row (stamped with its wall time) every 50 ms; a reader
   polls `metrics()` every --interval seconds (the page) and, separately, every 1 ms (the store
   alone), and notes when each row first came back. The gap between the two is the poll interval.

    python bench/live_updates.py                          # MLP on MNIST, 2 epochs, 1 s polls
    python bench/live_updates.py --interval 0.25          # stress: four refreshes a second
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import curves  # noqa: E402
from engine.data import load_dataset  # noqa: E402
from engine.device import describe, pick_device  # noqa: E402
from engine.registry import validate  # noqa: E402
from engine.runs import RunStore  # noqa: E402
from engine.train import TrainingJob  # noqa: E402

MAX_POINTS = 4000  # the page's cap on drawn points per curve
SMOOTHING = 0.6    # the page's default smoothing slider


class PageReader(threading.Thread):
    """Does what one live refresh of the training page does, every `interval` seconds."""

    def __init__(self, store: RunStore, run_id: int, interval: float):
        super().__init__(name="page-reader", daemon=True)
        self.store, self.run_id, self.interval = store, run_id, interval
        self.done = threading.Event()
        self.refresh_seconds: list[float] = []
        self.loss_delays: list[float] = []  # step written by the Trainer -> first seen here
        self.rows_last = 0
        self._losses_seen = 0

    def refresh(self) -> None:
        self.store.get_run(self.run_id)
        metrics = self.store.metrics(self.run_id)
        seen_at = time.time()
        steps = metrics[metrics.name == "loss"]
        x = curves.x_axis(metrics, "step").loc[steps.index].to_numpy()
        y = steps.value.to_numpy(dtype=float)
        curves.downsample_minmax(x, y, MAX_POINTS)
        curves.downsample_minmax(x, curves.smooth(y, SMOOTHING), MAX_POINTS)
        # Losses are written in step order, so the new ones are the tail past what we had.
        new = steps.wall_time.to_numpy()[self._losses_seen:]
        self.loss_delays += (seen_at - new).tolist()
        self._losses_seen = len(steps)
        self.rows_last = len(metrics)

    def run(self) -> None:
        # A fixed schedule, like the fragment's run_every: the refresh's own time does not add up.
        next_at = time.monotonic()
        while not self.done.is_set():
            started = time.perf_counter()
            self.refresh()
            self.refresh_seconds.append(time.perf_counter() - started)
            next_at += self.interval
            self.done.wait(max(0.0, next_at - time.monotonic()))


def timed_job(config, device, root: Path, interval: float | None) -> tuple[float, PageReader | None]:
    """Seconds for one TrainingJob in its background thread, with a page reader when interval is set."""
    store = RunStore(root)
    job = TrainingJob(config, store, device=device)
    reader = PageReader(store, job.run_id, interval) if interval else None
    start = time.perf_counter()
    if reader:
        reader.start()
    status = job.start().join()
    elapsed = time.perf_counter() - start
    if reader:
        reader.done.set()
        reader.join()
        reader.refresh()  # the page's last redraw after the run ends: every loss is now seen
    if status != "completed":
        raise SystemExit(f"run ended {status}: {job.progress.message}")
    return elapsed, reader


def visibility(root: Path, poll: float, seconds: float, write_every: float = 0.05) -> list[float]:
    """Delays (s) from each row's write to the poll that first returned it."""
    store = RunStore(root)
    run_id = store.create_run("probe", "probe", {})
    writing = threading.Event()
    writing.set()

    def writer() -> None:
        next_at, step = time.monotonic(), 0
        end = next_at + seconds
        while next_at < end:
            step += 1
            store.append_metrics(run_id, [(step, 1, "probe", float(step), time.time())])
            next_at += write_every
            time.sleep(max(0.0, next_at - time.monotonic()))
        writing.clear()

    delays, seen = [], 0
    thread = threading.Thread(target=writer, name="metric-writer", daemon=True)
    thread.start()
    next_poll = time.monotonic()
    while True:
        still_writing = writing.is_set()  # read before polling, so the last rows are always seen
        metrics = store.metrics(run_id)
        seen_at = time.time()
        delays += (seen_at - metrics.wall_time.to_numpy()[seen:]).tolist()
        seen = len(metrics)
        if not still_writing:
            break
        next_poll += poll
        time.sleep(max(0.0, next_poll - time.monotonic()))
    thread.join()
    return delays


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--interval", type=float, default=0.5,
                        help="seconds between page refreshes (REFRESH_S in pages/train.py)")
    parser.add_argument("--latency-seconds", type=float, default=10.0, help="how long the writer writes")
    parser.add_argument("--device", default=None)
    args = parser.parse_args()

    device = pick_device(args.device)
    config = validate(args.model, args.dataset, {"epochs": args.epochs, "batch_size": args.batch_size})
    data = load_dataset(args.dataset)  # loaded (and cached in-process) before any run is timed
    steps = len(data.x_train) // args.batch_size * args.epochs
    print(f"{args.model} on {args.dataset}: {steps} steps of batch {args.batch_size}, {args.epochs} epoch(s), "
          f"{describe(device)}; page refresh every {args.interval:g} s")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        timed_job(config, device, tmp / "warmup", None)  # allocator, kernels, first touch of the data
        times = {"off": [], "live": []}
        readers: list[PageReader] = []
        for i in range(args.repeats):
            times["off"].append(timed_job(config, device, tmp / f"off{i}", None)[0])
            elapsed, reader = timed_job(config, device, tmp / f"live{i}", args.interval)
            times["live"].append(elapsed)
            readers.append(reader)
            print(f"  repeat {i + 1}: off {times['off'][-1]:.2f} s, live {elapsed:.2f} s "
                  f"({len(reader.refresh_seconds)} refreshes)")
        off, live = statistics.median(times["off"]), statistics.median(times["live"])
        refresh = [s for r in readers for s in r.refresh_seconds]
        step_delays = [d for r in readers for d in r.loss_delays]
        print(f"no reader          median {off:6.2f} s ({steps / off:.0f} steps/s)")
        print(f"live page reader   median {live:6.2f} s ({steps / live:.0f} steps/s)")
        print(f"one refresh (get_run + metrics + smooth + downsample x2): median {ms(statistics.median(refresh))} ms, "
              f"max {ms(max(refresh))} ms, on a frame of up to {readers[-1].rows_last} rows")
        print(f"ratio live/off {live / off:.3f} (target <= 1.10)")
        print(f"during training, step -> seen by the page: median {ms(statistics.median(step_delays))} ms, "
              f"max {ms(max(step_delays))} ms (Trainer flush buffering + poll interval)")

        store_only = visibility(tmp / "tight", 0.001, args.latency_seconds)
        page = visibility(tmp / "page", args.interval, args.latency_seconds)
        print(f"store alone (1 ms polls, {len(store_only)} rows): median {ms(statistics.median(store_only))} ms, "
              f"max {ms(max(store_only))} ms, p99 {ms(float(np.percentile(store_only, 99)))} ms")
        print(f"page polls every {args.interval:g} s ({len(page)} rows written every 50 ms):")
        print(f"latency median {ms(statistics.median(page))} ms, max {ms(max(page))} ms (target < 1000 ms)")


if __name__ == "__main__":
    main()
