"""Seconds to a fitted boundary on each TF Playground 2D set: the suggested settings
(engine/data/suggested.py) against the plain `mlp` Param defaults, in the same run.

For each set, both runs train through TrainingJob.run() in this process (the CLI's path: the
RunStore, a checkpoint per epoch, the live frames), on as many torch threads as a page's run gets
(engine/core/device.job_threads: every core but one), with the dataset's default options (the
spiral's noise 0.1). Printed per set and run: the wall time of run(), the epochs, the final
validation score (accuracy; MSE on the regression sets), and the seconds from the start of run() to
the first epoch whose score reached the target (>= 0.95 accuracy, MSE <= 0.01) with that epoch;
then the ratio of the suggested run's seconds to the baseline's and how far each got.
A first one-epoch run, not counted, pays the process's one-time start-up (torch imports
torch._dynamo at the first optimiser: 1-3 s here), which a page's run pays in its own process too;
its seconds are printed apart. First of all, the cost of one live frame (the boundary and every
neuron's map) of the largest network the neuron view is made for: 8 layers x 32 units, all seven
input features (median of 50; the neuron maps alone beside it).

    python bench/playground_fit.py                      # every 2D set, once
    python bench/playground_fit.py --sets spiral,xor --repeats 3
    python bench/playground_fit.py --device cuda         # on a GPU machine
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine.models  # noqa: E402,F401
from engine.core.device import job_threads  # noqa: E402
from engine.core.modules import eval_mode  # noqa: E402
from engine.core.registry import validate  # noqa: E402
from engine.core.runs import RunStore  # noqa: E402
from engine.core.trainer import TrainingJob, build_model  # noqa: E402
from engine.data import get_info, load_dataset  # noqa: E402
from engine.data.suggested import suggested  # noqa: E402
from engine.models.playground import FEATURES  # noqa: E402
from engine.objectives import CLASSIFICATION  # noqa: E402
from engine.training.neurons import neuron_frame  # noqa: E402

SETS = ("circle", "xor", "gaussians", "spiral", "plane", "multi_gaussian")
TARGET_ACC, TARGET_MSE = 0.95, 0.01


@dataclass
class Fit:
    seconds: float              # wall time of TrainingJob.run()
    epochs: int
    score: float                # final val_acc, or val_loss (MSE) on a regression set
    to_target: float | None     # seconds from run() to the first epoch on target (None: never)
    target_epoch: int | None


def fit(model: str, dataset: str, values: dict, options: dict, root: Path, device: str = "cpu") -> Fit:
    regression = get_info(dataset).task == "regression"
    store = RunStore(root)
    job = TrainingJob(validate(model, dataset, values, options), store, device=device)
    began = time.time()
    started = time.perf_counter()
    status = job.run()
    seconds = time.perf_counter() - started
    if status != "completed":
        raise SystemExit(f"{model} on {dataset}: {status}: {job.progress.message}")
    metrics = store.metrics(job.run_id)
    scores = metrics[metrics.name == ("val_loss" if regression else "val_acc")]
    on_target = scores[scores.value <= TARGET_MSE] if regression else scores[scores.value >= TARGET_ACC]
    first = on_target.iloc[0] if len(on_target) else None
    return Fit(seconds, int(scores.epoch.max()), float(scores.value.iloc[-1]),
               None if first is None else float(first.wall_time - began),
               None if first is None else int(first.epoch))


def frame_cost(repeats: int = 50) -> str:
    """Milliseconds of one live frame of the TF Playground network at 8 x 32 with all features, and of
    its neuron maps alone (medians), and the frame's size."""
    data = load_dataset("spiral")
    model = build_model(validate("playground", "spiral", {**{f: True for f in FEATURES}, "width": 32, "depth": 8}),
                        data)

    def median_ms(draw) -> float:
        draw()  # the first call allocates
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            draw()
            times.append(time.perf_counter() - started)
        return statistics.median(times) * 1000

    with eval_mode(model):
        whole = median_ms(lambda: CLASSIFICATION.live_frame(model, data))
        neurons = median_ms(lambda: neuron_frame(model, data.x_train))
        size = sum(a.nbytes for a in CLASSIFICATION.live_frame(model, data).values())
    return (f"live frame, 8 layers x 32 units, 7 features: {whole:.1f} ms (the neuron maps: {neurons:.1f} ms; "
            f"the 100 x 100 boundary the rest), {size / 1024:.0f} kB")


def median_fit(fits: list[Fit]) -> Fit:
    """The run of median wall time (its own scores with it)."""
    return sorted(fits, key=lambda f: f.seconds)[len(fits) // 2]


def describe(f: Fit, regression: bool) -> str:
    score = f"val MSE {f.score:.4f}" if regression else f"val acc {f.score:.3f}"
    target = (f"on target at {f.to_target:.1f} s (epoch {f.target_epoch})" if f.to_target is not None
              else "never on target")
    return f"{f.seconds:6.1f} s, {f.epochs:3d} epochs, {score}, {target}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated 2D sets")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each; the median by wall time is shown")
    parser.add_argument("--threads", type=int, default=job_threads(), help="torch threads (default: a page's run's)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda on a GPU machine (bf16 autocast)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    where = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    print(f"{where}, {torch.get_num_threads()} torch thread(s); target: val acc >= {TARGET_ACC}, "
          f"val MSE <= {TARGET_MSE} on the regression sets")
    print(frame_cost())
    with tempfile.TemporaryDirectory() as tmp:
        warm = time.perf_counter()
        fit("mlp", "circle", {"epochs": 1}, {}, Path(tmp) / "warm-up", args.device)
        print(f"warm-up (the process's first run, one epoch; not counted): {time.perf_counter() - warm:.1f} s")
        for dataset in args.sets.split(","):
            suggestion = suggested(dataset)
            regression = get_info(dataset).task == "regression"
            ours, base = [], []
            for r in range(args.repeats):  # alternate, so drift on a shared machine hits both
                pair = [("s", suggestion.model, suggestion.values), ("b", "mlp", {})]
                for tag, model, values in (pair if r % 2 == 0 else pair[::-1]):
                    done = fit(model, dataset, values, suggestion.dataset_options, Path(tmp) / f"{dataset}{tag}{r}",
                               args.device)
                    (ours if tag == "s" else base).append(done)
            s, b = median_fit(ours), median_fit(base)
            shown = ", ".join(f"{k}={v}" for k, v in suggestion.values.items())
            print(f"\n{dataset}")
            print(f"  suggested ({suggestion.model}: {shown})\n    {describe(s, regression)}")
            print(f"  baseline (mlp defaults)\n    {describe(b, regression)}")
            better = (f"MSE {b.score / s.score:.1f}x lower" if regression else f"accuracy {s.score:.3f} vs {b.score:.3f}")
            print(f"  ratio: suggested / baseline seconds = {s.seconds / b.seconds:.2f}; {better}")


if __name__ == "__main__":
    main()
