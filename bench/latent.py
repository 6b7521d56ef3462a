"""Latent space figures: decode latency (one image, a 15x15 grid) and VAE / GAN training throughput.

Decode: the engine path (engine.latent.decode / latent_grid: codes built, batched, clamped, moved
to the CPU; plus the tiling the page shows) against the model's bare `decode` under no_grad on the
same codes (the baseline); medians of many calls. One image is what each slider move costs.

Training: the shared Trainer (objective, step-loss buffer, per-epoch evaluation, metrics in
SQLite, a checkpoint per epoch) against a bare hand-written loop of the same model, same batches,
same losses, with one validation pass per epoch; alternating repeats, ratio of the medians.

    python bench/latent.py                                   # CPU: VAE on MNIST, GAN on digits
    python bench/latent.py --gan-dataset mnist --epochs 1    # what a GPU should run
    python bench/latent.py --threads 1 --gan-epochs 2        # a shared, loaded CPU
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.latent import space as latent  # noqa: E402
from engine.data import load_dataset  # noqa: E402
from engine.core.device import describe, pick_device, seed_everything  # noqa: E402
from engine.objectives.vae import kl_divergence  # noqa: E402
from engine.core.registry import validate  # noqa: E402
from engine.core.runs import RunStore  # noqa: E402
from engine.core.trainer import TrainingJob, build_model  # noqa: E402
from bench.bare_steps import gan_step, vae_step  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def _median_ms(fn, device, repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        _sync(device)
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def decode_latency(model_name: str, values: dict, device, repeats: int) -> None:
    config = validate(model_name, "mnist", values)
    data = load_dataset("mnist")
    model = build_model(config, data).to(device).eval()
    one = torch.zeros(1, model.latent)
    grid_codes = latent.grid_codes(model.latent, 15, 4.0)

    def bare(z):
        with torch.no_grad():
            return model.decode(z.to(device))

    rows = {
        "1 image": (lambda: bare(one), lambda: latent.decode(model, one)),
        "15x15 grid": (lambda: bare(grid_codes),
                       lambda: latent.tile(latent.latent_grid(model, 15, 4.0), 15, pad=1)),
    }
    for label, (base, engine) in rows.items():
        b, e = _median_ms(base, device, repeats), _median_ms(engine, device, repeats)
        print(f"  {model_name:<9} {label:<11} bare decode {b:8.2f} ms   engine {e:8.2f} ms   ratio {e / b:5.2f}")


def _epoch_batches(x, bs: int, generator, device):
    """One epoch's shuffled full batches of x (a fresh permutation, the last partial batch dropped)."""
    order = torch.randperm(len(x), generator=generator).to(device)
    for i in range(len(x) // bs):
        yield x[order[i * bs:(i + 1) * bs]]


def bare_vae_loop(config, data, device) -> float:
    t = config.training
    generator = seed_everything(t["seed"])
    model = build_model(config, data).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=t["lr"])
    x = data.x_train.to(device)
    _sync(device)
    start = time.perf_counter()
    for _ in range(t["epochs"]):
        model.train()
        for xb in _epoch_batches(x, t["batch_size"], generator, device):
            vae_step(model, xb, optimizer, device)
        model.eval()
        with torch.no_grad():
            total = 0.0
            for s in range(0, len(data.x_val), 1000):
                xb = data.x_val[s:s + 1000].to(device)
                logits, mean, logvar = model(xb)
                total += (F.binary_cross_entropy_with_logits(logits.float(), xb, reduction="sum")
                          + kl_divergence(mean.float(), logvar.float()).sum()).item()
    _sync(device)
    return time.perf_counter() - start


def bare_gan_loop(config, data, device) -> float:
    t = config.training
    generator = seed_everything(t["seed"])
    model = build_model(config, data).to(device)
    G, D = model.generator, model.discriminator
    opt_d = torch.optim.Adam(D.parameters(), lr=model.lr_d, betas=model.betas)
    opt_g = torch.optim.Adam(G.parameters(), lr=model.lr_g, betas=model.betas)
    x = data.x_train.to(device) * 2 - 1
    bs = t["batch_size"]
    _sync(device)
    start = time.perf_counter()
    for _ in range(t["epochs"]):
        model.train()
        for real in _epoch_batches(x, bs, generator, device):
            gan_step(model, real, opt_d, opt_g, device)
        model.eval()
        with torch.no_grad():  # one validation pass, as the Trainer's evaluate() makes
            real = data.x_val[:1000].to(device) * 2 - 1
            (D(real) > 0).float().mean().item()
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


def throughput(model_name: str, dataset: str, values: dict, device, repeats: int, bare) -> None:
    config = validate(model_name, dataset, values)
    data = load_dataset(dataset)
    t = config.training
    samples = len(data.x_train) // t["batch_size"] * t["batch_size"] * t["epochs"]
    bare(config, data, device)  # warm-up
    times = {"bare": [], "trainer": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            times["bare"].append(bare(config, data, device))
            times["trainer"].append(trainer_loop(config, device, Path(tmp) / f"r{i}"))
    b, tr = statistics.median(times["bare"]), statistics.median(times["trainer"])
    print(f"  {model_name} on {dataset}, {t['epochs']} epoch(s) of batch {t['batch_size']}: "
          f"bare {samples / b:8.0f} samples/s ({b:.2f} s), trainer {samples / tr:8.0f} samples/s ({tr:.2f} s), "
          f"ratio trainer/bare time {tr / b:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--gan-dataset", default=None, help="default: mnist on a GPU, digits on a CPU")
    parser.add_argument("--gan-epochs", type=int, default=None, help="default: --epochs (x5 on digits)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--decode-repeats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch (1 avoids oversubscription on a shared machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(f"device: {describe(device)}; torch {torch.__version__}")

    print("decode latency (median; untrained weights decode exactly as fast as trained ones):")
    decode_latency("vae", {}, device, args.decode_repeats)
    decode_latency("conv_vae", {}, device, args.decode_repeats)
    decode_latency("dcgan", {}, device, max(5, args.decode_repeats // 5))

    print("training throughput (Trainer vs a bare loop of the same model):")
    throughput("vae", "mnist", {"epochs": args.epochs, "batch_size": 128}, device, args.repeats, bare_vae_loop)
    gan_dataset = args.gan_dataset or ("mnist" if device.type == "cuda" else "digits")
    gan_epochs = args.gan_epochs or (args.epochs * 5 if gan_dataset == "digits" else args.epochs)
    throughput("dcgan", gan_dataset, {"epochs": gan_epochs, "batch_size": 64}, device, args.repeats, bare_gan_loop)


if __name__ == "__main__":
    main()
