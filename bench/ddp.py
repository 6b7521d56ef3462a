"""Samples/s of one process against a run over several processes (DistributedDataParallel under
torchrun), and the share of the step time that the gradient all-reduce takes.

The model is the registry's `cnn` (its defaults) on `mnist`, stepped the way the Trainer steps it
under `--nproc` (engine/core/distributed.py's Replicated view of the model, the objective's
phases, engine.core.step.Stepper), each rank on its own shard of a shared permutation at
--batch-size per rank. Each configuration is started by torchrun (`python -m torch.distributed.run`)
and timed over --steps steps after --warmup steps, in rounds:
  sync       ordinary DDP steps: backward all-reduces the gradients
  no_sync    the same steps inside DDP's no_sync(): no all-reduce (each rank keeps its own gradients)
The all-reduce share is 1 - no_sync time / sync time (the step time DDP's communication adds,
overlap with backward included). Samples/s counts every rank's samples (world x batch per step),
timed on the slowest rank. The ratio is against the 1-process baselines measured in the same run.

    python bench/ddp.py                                # CPU (gloo): 1 process vs 2 processes
    python bench/ddp.py --nproc 4 --steps 100
    python bench/ddp.py --device cuda                  # nccl, one process per GPU (all of them)

Why a 2-core machine shows little speed-up: DDP splits the batch, not the work per sample. Two
processes on two cores each get one core (torchrun sets OMP_NUM_THREADS; here each rank gets
cores / nproc threads), while one process alone already uses both cores through PyTorch's
intra-op threads (OpenMP) in every convolution and matrix product. So the same two cores do the
same arithmetic either way, and DDP adds the all-reduce and a second copy of the model's work
that does not split (per-step overheads, Python). Its gain is on machines where one process
cannot use all the compute: several GPUs, or several machines.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def worker(args) -> None:
    """One rank (or the only process): time sync and no_sync rounds; rank 0 writes the figures."""
    import torch
    import torch.distributed as dist

    from engine.core import distributed
    from engine.core.device import pick_device, precision_for, seed_everything
    from engine.core.registry import get_spec, validate
    from engine.core.step import Stepper
    from engine.core.trainer import build_model
    from engine.data import load_dataset
    from engine.objectives import objective_for

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    device = pick_device(args.device)
    group = None
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 or args.ddp:
        group, device = distributed.join(device)
    world, rank = (group.world, group.rank) if group else (1, 0)
    generator = seed_everything(0)
    data = load_dataset("mnist", {}, data_dir=args.data_dir)
    config = validate("cnn", "mnist", {"batch_size": args.batch_size})
    model = build_model(config, data).to(device)
    objective = objective_for(get_spec("cnn"), data.info.task)
    trained = distributed.Replicated(model, (), device) if group else model
    stepper = Stepper(objective.optimizers(model, config.training), precision_for(device))
    x, y = data.x_train.to(device), data.y_train.to(device)
    order = torch.randperm(len(x), generator=generator)
    order = (group.shard(order, args.batch_size) if group else order).to(device)
    bs, position = args.batch_size, 0

    def steps(n: int, no_sync: bool) -> float:
        nonlocal position
        if device.type == "cuda":
            torch.cuda.synchronize()
        begun = time.perf_counter()
        with trained.whole.no_sync() if (no_sync and group) else nullcontext():
            for _ in range(n):
                if (position + 1) * bs > len(order):
                    position = 0
                idx = order[position * bs:(position + 1) * bs]
                position += 1
                stepper.step(objective.phases(trained, x[idx], y[idx]))
            if device.type == "cuda":
                torch.cuda.synchronize()
        elapsed = torch.tensor([time.perf_counter() - begun], dtype=torch.float64, device=device)
        if group:
            dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)  # the step ends when the slowest rank's does
        return float(elapsed)

    steps(args.warmup, False)
    times = {"sync": [], "no_sync": []}
    for _ in range(args.rounds):
        for mode in ("sync", "no_sync"):
            times[mode].append(steps(args.steps, mode == "no_sync"))
    if rank == 0:
        sync, no_sync = min(times["sync"]), min(times["no_sync"])
        Path(args.out).write_text(json.dumps({
            "world": world, "threads": torch.get_num_threads(), "device": str(device),
            "samples_per_s": world * bs * args.steps / sync, "step_ms": 1000 * sync / args.steps,
            "no_sync_step_ms": 1000 * no_sync / args.steps,
            "allreduce_share": (1 - no_sync / sync) if group else None}))
    distributed.leave(together=True)


def measure(nproc: int, threads: int, args, ddp: bool = False) -> dict:
    """One configuration under torchrun; its figures."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "figures.json"
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                   str(Path(__file__).resolve()), "--worker", "--out", str(out), "--device", args.device,
                   "--steps", str(args.steps), "--warmup", str(args.warmup), "--rounds", str(args.rounds),
                   "--batch-size", str(args.batch_size)] + (["--ddp"] if ddp else []) + \
                  (["--data-dir", args.data_dir] if args.data_dir else [])
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
        subprocess.run(command, check=True, env=env, cwd=ROOT)
        return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (nccl)")
    parser.add_argument("--nproc", type=int, help="processes of the DDP run (default: 2 on the CPU, every GPU on CUDA)")
    parser.add_argument("--steps", type=int, default=40, help="steps per timed round")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2, help="sync / no_sync rounds; the fastest of each counts")
    parser.add_argument("--batch-size", type=int, default=64, help="per process")
    parser.add_argument("--data-dir")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ddp", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    import torch
    cores = os.cpu_count() or 1
    cuda = args.device.startswith("cuda")
    nproc = args.nproc or (torch.cuda.device_count() if cuda else 2)
    configs = [("1 process (the engine without --nproc)", 1, cores if not cuda else 1, False)]
    if not cuda:
        configs.append(("1 process, 1 thread", 1, 1, False))
    if nproc == 1:
        configs.append(("DDP, 1 process (DDP's own cost: nothing to all-reduce with)", 1, cores if not cuda else 1, True))
    else:
        configs.append((f"--nproc {nproc} (DDP)", nproc, max(1, cores // nproc) if not cuda else 1, False))
    print(f"cnn on mnist, batch {args.batch_size} per process, {args.steps} steps x {args.rounds} rounds, "
          f"device {args.device}, {cores} CPU cores", flush=True)
    load = os.getloadavg()
    results = [(name, measure(n, threads, args, ddp), n, threads) for name, n, threads, ddp in configs]
    base = results[0][1]["samples_per_s"]
    one_thread = results[1][1]["samples_per_s"] if not cuda else base
    print(f"\nload average before: {load[0]:.2f} (other work on this machine slows every figure)")
    print(f"{'configuration':<62} {'procs x threads':>15} {'samples/s':>10} {'ratio':>6} {'vs 1 thread':>12} "
          f"{'step ms':>8} {'all-reduce share':>17}")
    for name, r, n, threads in results:
        share = f"{r['allreduce_share']:.0%}" if r["allreduce_share"] is not None else "-"
        print(f"{name:<62} {f'{n} x {threads}':>15} {r['samples_per_s']:>10.0f} {r['samples_per_s'] / base:>6.2f} "
              f"{r['samples_per_s'] / one_thread:>12.2f} {r['step_ms']:>8.1f} {share:>17}")
    if not cuda:
        print(f"\nOn {cores} cores one process already uses every core through PyTorch's intra-op threads; "
              f"{nproc} processes share the same cores ({max(1, cores // nproc)} thread(s) each), so the "
              "arithmetic per second is the same and DDP adds its all-reduce: expect a ratio near or below 1 "
              "here. DDP pays where one process cannot use the compute: several GPUs or machines. On a busy "
              "machine two OpenMP threads of one process also wait on each other (a thread descheduled "
              "stalls the other at every parallel region), which can make the 2-thread baseline the slowest.")


if __name__ == "__main__":
    main()
