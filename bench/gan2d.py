"""GAN on 2D points: seconds until the generator covers all 8 modes of the ring, with the default
settings, against a baseline measured in the same run.

The user's path: the Trainer (engine.core.trainer.TrainingJob, as Start runs it: per-epoch scores,
metrics in SQLite, a checkpoint per epoch, live frames), on as many torch threads as a job gets
(engine.core.device.job_threads: every core but one). Seconds count from the job's start (model
and data built) to the end of the first epoch whose scores say all 8 modes are covered (a mode is
covered when a fifth of its fair share of 1,000 fixed-noise fakes lie within 3 sigma of it: engine/
objectives/gan2d_measures.py); then the run is stopped. The baseline is the same model with the
DCGAN's d_steps = 1 instead of the 2D GAN's default 2; seeds alternate between the two.

    python bench/gan2d.py                       # 3 seeds, at most 30 epochs (3,750 steps) each
    python bench/gan2d.py --seeds 0 1 2 3 4 --max-epochs 40
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.core.device import describe, job_threads, set_deterministic  # noqa: E402
from engine.core.registry import get_spec, validate  # noqa: E402
from engine.core.runs import RunStore  # noqa: E402
from engine.core.trainer import TrainingJob  # noqa: E402


def time_to_cover(values: dict, seed: int, max_epochs: int, store: RunStore) -> dict:
    """Train on the ring until all modes are covered (or max_epochs); when, and the scores then."""
    config = validate("gan2d", "ring", {**values, "seed": seed, "epochs": max_epochs})
    found: dict = {}
    job: TrainingJob | None = None

    def on_epoch(progress):
        final = progress.final
        if not found and final.get("val_modes_covered") == final.get("val_modes"):
            found.update(seconds=time.monotonic() - started, epoch=progress.epoch, step=progress.step,
                         kl=final["val_kl"], js=final["val_js"], quality=final["val_quality"])
            job.interrupt()  # covered: stop at the next step

    job = TrainingJob(config, store, device="cpu", on_epoch=on_epoch)
    started = time.monotonic()
    job.run()
    return found or {"seconds": None, "elapsed": time.monotonic() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-epochs", type=int, default=30, help="epochs of 125 steps (batch 64, 8,000 points)")
    args = parser.parse_args()
    torch.set_num_threads(job_threads())
    set_deterministic(False)  # its first call imports torch's compiler (~2 s): not the first run's time
    defaults = {p.name: p.default for p in get_spec("gan2d").params}
    settings = {"default (d_steps 2)": {}, "baseline (d_steps 1)": {"d_steps": 1}}
    print(f"GAN on 2D points, ring of 8 Gaussians; {describe(torch.device('cpu'))}, {torch.get_num_threads()} "
          f"torch thread(s); defaults: {defaults}")
    results: dict[str, list[dict]] = {name: [] for name in settings}
    with tempfile.TemporaryDirectory() as root:
        store = RunStore(Path(root) / "runs")
        for seed in args.seeds:
            for name, values in settings.items():
                r = time_to_cover(values, seed, args.max_epochs, store)
                results[name].append(r)
                if r["seconds"] is None:
                    print(f"  {name:<21} seed {seed}: not all 8 modes covered in {args.max_epochs} epochs "
                          f"({r['elapsed']:.1f} s)")
                else:
                    print(f"  {name:<21} seed {seed}: all 8 modes covered after {r['seconds']:5.1f} s, epoch "
                          f"{r['epoch']} (step {r['step']:,}); then KL {r['kl']:.3f}, JS {r['js']:.3f} nats, "
                          f"{r['quality']:.0%} of the fakes within 3 sigma of a mode")
    medians = {}
    for name, rows in results.items():
        times = [r["seconds"] for r in rows if r["seconds"] is not None]
        # A seed that never covered counts as the cap's time (a lower bound on its true time).
        capped = [r["seconds"] if r["seconds"] is not None else r["elapsed"] for r in rows]
        medians[name] = statistics.median(capped)
        print(f"{name:<21} covered in {len(times)}/{len(rows)} seeds; median {medians[name]:.1f} s"
              + ("" if len(times) == len(rows) else " (uncovered seeds counted at the cap: a lower bound)"))
    base, default = medians["baseline (d_steps 1)"], medians["default (d_steps 2)"]
    print(f"ratio: the baseline takes {base / default:.2f}x the default's time to cover the ring")


if __name__ == "__main__":
    main()
