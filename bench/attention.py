"""Attention page figures: transformer training throughput through the engine vs a bare loop, and
MiniLM attention extraction latency by input length.

1. The same transformer, data, batches and steps trained by the Trainer (metrics, grad norms,
   checkpoint and greedy-decoded validation each epoch) and by a bare teacher-forced loop (with
   the same per-epoch greedy validation, what any honest loop reporting exact match does).
   Sequences/s of each and the ratio. Runs alternate; medians and bests reported (on a shared
   machine the best repeat is the least disturbed).
2. MiniLM: seconds to tokenise and run one input of 16 / 64 / 128 tokens with
   output_attentions=True (eager attention), on the CPU and, when there is one, on the GPU; the
   median of `--repeats` after one warm-up call. Baseline in the same run: the same forward pass
   without attentions (sdpa), so the ratio is the price of reading the weights.

    python bench/attention.py                            # reverse, 3 epochs, 3 repeats
    python bench/attention.py --epochs 1 --repeats 2 --threads 1
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data import load_dataset  # noqa: E402
from engine.data.sequences import PAD, decoder_input  # noqa: E402
from engine.core.device import autocast, describe, pick_device, seed_everything  # noqa: E402
from engine.objectives.sequences import CLIP_NORM, exact_match  # noqa: E402
from engine.core.optim import make_optimizer  # noqa: E402
from engine.core.registry import validate  # noqa: E402
from engine.core.runs import RunStore  # noqa: E402
from engine.core.trainer import TrainingJob, build_model  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def bare_loop(config, data, device) -> float:
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
            xb, yb = x[idx], y[idx]
            with autocast(device):
                logits = model(xb, decoder_input(yb))
            loss = nn.functional.cross_entropy(logits.float().flatten(0, 1), yb.flatten(), ignore_index=PAD)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
            optimizer.step()
        model.eval()
        with torch.no_grad():
            xv, yv = data.x_val.to(device), data.y_val.to(device)
            with autocast(device):
                exact_match(model.greedy(xv, yv.shape[1]), yv).float().mean().item()
    _sync(device)
    return time.perf_counter() - start


def trainer_loop(config, device, root: Path) -> float:
    job = TrainingJob(config, RunStore(root), device=device)
    start = time.perf_counter()
    status = job.run()
    _sync(device)
    if status != "completed":
        raise SystemExit(f"trainer run ended {status}: {job.progress.message}")
    return time.perf_counter() - start


def training_throughput(args, device) -> None:
    values = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": 3e-3, "layers": 2, "d_model": 64,
              "heads": 4, "d_ff": 128}
    config = validate("transformer", args.task, values, {"n_samples": args.n_samples})
    data = load_dataset(args.task, config.dataset_options)
    n = len(data.x_train) // args.batch_size * args.batch_size * args.epochs
    print(f"transformer (2 layers, d_model 64) on {args.task}: {n} training sequences "
          f"({args.epochs} epoch(s), batch {args.batch_size}), {describe(device)}, {torch.get_num_threads()} thread(s)")
    bare_loop(config, data, device)  # warm-up
    times = {"bare": [], "trainer": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            times["bare"].append(bare_loop(config, data, device))
            times["trainer"].append(trainer_loop(config, device, Path(tmp) / f"run{i}"))
            print(f"  repeat {i + 1}: bare {times['bare'][-1]:.2f} s, trainer {times['trainer'][-1]:.2f} s")
    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    for name in times:
        print(f"{name:<8} median {med[name]:6.2f} s ({n / med[name]:6.0f} sequences/s), "
              f"best {best[name]:6.2f} s ({n / best[name]:6.0f} sequences/s)")
    # On a shared machine the best of the repeats is the least disturbed one: both ratios are shown.
    print(f"ratio trainer/bare (time): medians {med['trainer'] / med['bare']:.3f}, "
          f"best {best['trainer'] / best['bare']:.3f}")


def minilm_latency(args) -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    from transformers import AutoModel

    from engine.attention.minilm import load_minilm, model_dir
    tokenizer, eager = load_minilm()
    sdpa = AutoModel.from_pretrained(model_dir(), attn_implementation="sdpa").eval()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    words = ("the quick brown fox jumps over the lazy dog while a cat sleeps on the warm mat " * 20).split()
    print(f"\nMiniLM attention extraction (6 layers x 12 heads), median of {args.repeats}:")
    for device in devices:
        for name, model in (("eager", eager), ("sdpa", sdpa)):
            model.to(device)
        for tokens in (16, 64, 128):
            enc = tokenizer(" ".join(words), truncation=True, max_length=tokens, return_tensors="pt").to(device)
            assert enc["input_ids"].shape[1] == tokens

            def timed(model, attentions):
                with torch.no_grad():
                    model(**enc, output_attentions=attentions)  # warm-up
                    _sync(device)
                    samples = []
                    for _ in range(args.repeats):
                        start = time.perf_counter()
                        out = model(**enc, output_attentions=attentions)
                        if attentions:
                            [a.cpu() for a in out.attentions]  # the maps reach the host, as the page needs
                        _sync(device)
                        samples.append(time.perf_counter() - start)
                return statistics.median(samples)

            with_maps, baseline = timed(eager, True), timed(sdpa, False)
            print(f"  {device.type:<4} {tokens:>3} tokens: {with_maps * 1000:7.1f} ms with attentions (eager), "
                  f"{baseline * 1000:7.1f} ms without (sdpa), ratio {with_maps / baseline:.2f}")
        eager.to("cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="reverse")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--skip-training", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if not args.skip_training:
        training_throughput(args, pick_device(args.device))
    minilm_latency(args)


if __name__ == "__main__":
    main()
