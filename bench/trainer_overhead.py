"""What the Trainer costs over a bare hand-written PyTorch loop.

Both train the same model on the same data for the same steps with the same batches, and both
evaluate on the validation set once per epoch (what any hand-written loop that reports val
accuracy does). The Trainer also writes every step loss and the epoch metrics to the RunStore,
records per-layer gradient norms and saves a checkpoint per epoch.
The Trainer is timed twice: in the calling process (as the CLI runs it) and in a child process of
its own (as the app runs it, engine/core/jobs.py), where it uses every core but one (the app leaves one
to the server and the browser); that one is timed from its first step to its end, read from the
store, with the process start-up reported apart, and compared with a bare loop on as many threads.
Runs alternate so drift on a shared machine hits all of them; the ratios are of the medians.

    python bench/trainer_overhead.py                      # CNN on MNIST, 1 epoch, 3 repeats
    python bench/trainer_overhead.py --model mlp --dataset spiral --epochs 20 --repeats 5
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data import load_dataset  # noqa: E402
from engine.core.device import autocast, describe, job_threads, pick_device, seed_everything  # noqa: E402
from engine.core.optim import make_optimizer  # noqa: E402
from engine.core.registry import validate  # noqa: E402
from engine.core.runs import RunStore  # noqa: E402
from engine.core.trainer import TrainingJob, build_model  # noqa: E402


def bare_loop(config, data, device) -> float:
    """The loop a person writes by hand: shuffle, step, evaluate each epoch. Returns seconds."""
    t = config.training
    generator = seed_everything(t["seed"])
    model = build_model(config, data).to(device)
    optimizer = make_optimizer(t["optimizer"], model.parameters(), t["lr"], t["momentum"], t["weight_decay"])
    x, y = data.x_train.to(device), data.y_train.to(device)
    bs = t["batch_size"]
    steps = len(x) // bs
    _sync(device)
    start = time.perf_counter()
    for _ in range(t["epochs"]):
        model.train()
        order = torch.randperm(len(x), generator=generator).to(device)
        for i in range(steps):
            idx = order[i * bs:(i + 1) * bs]
            with autocast(device):
                logits = model(x[idx])
            loss = nn.functional.cross_entropy(logits.float(), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            correct = 0
            for s in range(0, len(data.x_val), 1024):
                xb = data.x_val[s:s + 1024].to(device)
                with autocast(device):
                    correct += (model(xb).argmax(1) == data.y_val[s:s + 1024].to(device)).sum().item()
    _sync(device)
    return time.perf_counter() - start


def trainer_loop(config, device, root: Path, own_process: bool) -> tuple[float, float]:
    """(seconds training, seconds starting) of the Trainer as the CLI runs it (this process) or as
    the app runs it (a child process: timed from its first step, as the store recorded it)."""
    store = RunStore(root)
    job = TrainingJob(config, store, device=device)
    start, wall_start = time.perf_counter(), time.time()
    status = job.start().join() if own_process else job.run()
    _sync(device)
    elapsed = time.perf_counter() - start
    if status != "completed":
        raise SystemExit(f"trainer run ended {status}: {store.get_run(job.run_id).message}")
    if not own_process:
        return elapsed, 0.0
    steps = store.metrics(job.run_id, ["loss"])
    first, last = steps.wall_time.iloc[0], store.get_run(job.run_id).updated
    per_step = (steps.wall_time.iloc[-1] - first) / max(len(steps) - 1, 1)
    return last - first + per_step, first - per_step - wall_start


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="cnn")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()

    device = pick_device(args.device)
    config = validate(args.model, args.dataset, {"epochs": args.epochs, "batch_size": args.batch_size})
    data = load_dataset(args.dataset)  # loaded once up front so neither side pays for it
    steps = len(data.x_train) // args.batch_size * args.epochs
    print(f"{args.model} on {args.dataset}: {steps} steps of batch {args.batch_size}, "
          f"{args.epochs} epoch(s), {describe(device)}")

    bare_loop(config, data, device)  # warm-up: allocator, kernels, first-touch of the data
    threads, job_threads_n = torch.get_num_threads(), job_threads()
    times = {"bare": [], "trainer": [], f"bare, {job_threads_n} thread(s)": [], "trainer (own process)": []}
    startups = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            times["bare"].append(bare_loop(config, data, device))
            times["trainer"].append(trainer_loop(config, device, Path(tmp) / f"main{i}", own_process=False)[0])
            torch.set_num_threads(job_threads_n)
            times[f"bare, {job_threads_n} thread(s)"].append(bare_loop(config, data, device))
            torch.set_num_threads(threads)
            seconds, startup = trainer_loop(config, device, Path(tmp) / f"child{i}", own_process=True)
            times["trainer (own process)"].append(seconds)
            startups.append(startup)
            print("  repeat {}: ".format(i + 1) + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()))
    medians = {k: statistics.median(v) for k, v in times.items()}
    for name, seconds in medians.items():
        print(f"{name:<28} median {seconds:6.2f} s ({steps / seconds:.0f} steps/s)")
    print(f"ratio trainer/bare                       {medians['trainer'] / medians['bare']:.3f}  "
          "(target <= 1.05; metrics + checkpoints on, the CLI path)")
    print(f"ratio trainer (own process)/bare         "
          f"{medians['trainer (own process)'] / medians[f'bare, {job_threads_n} thread(s)']:.3f}  "
          f"(the app path, against a bare loop on the same {job_threads_n} thread(s)); the process takes "
          f"{statistics.median(startups):.1f} s to start (spawn, imports, data)")


if __name__ == "__main__":
    main()
