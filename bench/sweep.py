"""What a Ray Tune sweep gains over running the same trials one after another, and what Ray costs.

The same 8 trials (the MLP on the spiral, a 4 x 2 grid over learning rate and width) are trained
  sequential   one after another in this process (TrainingJob.run(), as `python -m engine train` does),
               once before the sweep and once after (their mean; both are printed)
  sweep        through engine.sweep with --parallel 2 (an embedded local Ray, 2 trials at once)
and the figures are:
  ratio              the sweep's wall time / the sequential wall time (target <= 0.65 on 2 cores),
                     without Ray's start-up, then with it
  Ray start-up       ray.init of the embedded Ray, timed apart (paid once per sweep)
  overhead per trial the slot time Ray adds to each trial: (parallel x sweep wall time - the time
                     the trials' own TrainingJobs took, from run creation to final status) / trials
  trial slow-down    a trial's own time in the sweep / in the sequential pass (two trials on two
                     cores share caches and memory bandwidth, and the machine may be busy)
The machine's load average is printed before and after: on a shared machine the figures move with it.

    python bench/sweep.py                      # 8 trials, 200 epochs each (about 6.5 s a trial here)

What Ray costs is fixed per sweep (its start-up, then Tune's set-up before the first trials: about
2.5 s on 2 cores) plus a slow-down of each trial while two share 2 cores (about 1.1-1.15x), so the
ratio falls as trials grow: on a quiet 2-core machine 0.69 with 3.2 s trials (--epochs 100), 0.60
with 6.7 s trials (--epochs 200), without Ray's start-up.
    python bench/sweep.py --epochs 10 --quick  # a smoke run
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from engine.core.runs import RunStore  # noqa: E402
from engine.core.trainer import TrainingJob  # noqa: E402
from engine.sweep.job import SweepJob, start_embedded_ray  # noqa: E402
from engine.sweep.spec import make_spec  # noqa: E402

GRID = {"lr": ["0.003", "0.01", "0.03", "0.1"], "width": ["8", "32"]}


def own_time(store: RunStore, run_id: int) -> float:
    """A run's own time: from its creation to its final status, as the store recorded them."""
    run = store.get_run(run_id)
    return run.updated - run.created


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smaller data (a smoke run)")
    args = parser.parse_args()
    values = {"epochs": str(args.epochs), "batch_size": "10", "depth": "2"}
    options = {"n_samples": "300" if args.quick else "1000"}
    spec = make_spec("mlp", "spiral", values, options, grid=GRID, parallel=args.parallel)
    print(f"8 trials: mlp on spiral ({options['n_samples']} points), {args.epochs} epochs, batch 10, grid "
          f"{GRID}; {os.cpu_count()} cores; load average before: {os.getloadavg()[0]:.2f}", flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["DEEP_PLAYGROUND_DATA"] = tmp
        store = RunStore(Path(tmp) / "runs")

        # Each trial of the sweep trains on cores // parallel torch threads; the sequential pass gets
        # as many, so the ratio measures running trials side by side, not a thread count (on a busy
        # 2-core machine two OpenMP threads that wait on each other made toy runs up to 10x slower).
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // args.parallel))
        sequential_runs: list[int] = []

        def sequential_pass() -> float:
            begun = time.perf_counter()
            for lr in GRID["lr"]:
                for width in GRID["width"]:
                    job = TrainingJob(spec.trial_config({"lr": lr, "width": width}), store, device="cpu")
                    job.run()
                    sequential_runs.append(job.run_id)
            return time.perf_counter() - begun

        before = sequential_pass()
        print(f"sequential, {torch.get_num_threads()} torch thread(s): {before:.2f} s", flush=True)

        def sweep_pass() -> None:
            """One sweep on its own embedded Ray; prints its figures against the sequential mean."""
            import ray
            import psutil  # comes with Ray (ray/thirdparty_files, on sys.path once ray is imported)
            begun = time.perf_counter()
            start_embedded_ray(args.parallel)
            startup = time.perf_counter() - begun
            me = psutil.Process()
            begun, cpu_begun = time.perf_counter(), me.cpu_times()
            ray_begun = {p.pid: p.cpu_times() for p in me.children(recursive=True)}
            job = SweepJob(make_spec("mlp", "spiral", values, options, grid=GRID, parallel=args.parallel,
                                     device="cpu"), store)
            status = job.run()
            swept = time.perf_counter() - begun
            driver_cpu = sum(me.cpu_times()[:2]) - sum(cpu_begun[:2])
            ray_cpu = trial_cpu = 0.0
            for child in me.children(recursive=True):
                try:
                    used = sum(child.cpu_times()[:2]) - sum(ray_begun.get(child.pid, (0.0, 0.0))[:2])
                    name = " ".join(child.cmdline()[:3])
                except psutil.Error:
                    continue
                if "default_worker" in name or "ray::" in child.name():  # the workers that ran the trials
                    trial_cpu += used
                else:  # raylet, gcs_server, the agents, the log monitor
                    ray_cpu += used
            ray.shutdown()
            trials = store.sweep_runs(job.sweep_id)
            assert status == "completed" and len(trials) == 8 and all(r.status == "completed" for r in trials), status
            passes.append((startup, swept, job.sweep_id, driver_cpu, ray_cpu, trial_cpu))

        passes: list[tuple] = []
        sweep_pass()
        after = sequential_pass()  # again after the sweeps: drift on a shared machine shows, and is averaged
        sequential = (before + after) / 2
        print(f"sequential again: {after:.2f} s; their mean {sequential:.2f} s ({sequential / 8:.2f} s a trial)")
        alone = statistics.median(own_time(store, i) for i in sequential_runs)
        for startup, swept, sweep_id, driver_cpu, ray_cpu, trial_cpu in passes:
            trials = store.sweep_runs(sweep_id)
            first = min(r.created for r in trials) - store.get_sweep(sweep_id).created
            inside = [own_time(store, r.id) for r in trials]
            overhead = (args.parallel * swept - sum(inside)) / len(trials)
            steady = (args.parallel * (swept - first) - sum(inside)) / len(trials)
            print(f"\nsweep, {args.parallel} at once:")
            print(f"  {swept:.2f} s (+ Ray start-up {startup:.2f} s); first trial's run created {first:.2f} s after the sweep began")
            print(f"  ratio sweep / sequential: {swept / sequential:.3f} without Ray's start-up, "
                  f"{(swept + startup) / sequential:.3f} with it (target <= 0.65)")
            print(f"  Ray's overhead per trial: {overhead:.2f} s of a slot, {steady:.2f} s once the first trials' "
                  f"workers are up (a trial's own time: {statistics.median(inside):.2f} s in the sweep, {alone:.2f} s "
                  f"alone, median; slow-down {statistics.median(inside) / alone:.2f}x)")
            print(f"  CPU: this driver (Tune's controller) {driver_cpu:.2f} s, Ray's daemons {ray_cpu:.2f} s, the "
                  f"trial workers {trial_cpu:.2f} s, of {args.parallel * swept:.2f} core-seconds")
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
