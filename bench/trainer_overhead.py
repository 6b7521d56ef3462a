"""What the Trainer costs over a bare hand-written PyTorch loop, for each model family.

For each family (CNN on MNIST, VAE on MNIST, DCGAN, transformer on a sequence task) the Trainer
and a bare loop written by hand for that family train the same model on the same data for the
same steps with the same batches, in the same precision. The bare loop evaluates once per epoch
the way such a loop usually does (one pass: accuracy, the ELBO, D's accuracy, greedy decoding).
The Trainer also writes every step loss and the epoch metrics to the RunStore, records per-layer
gradient norms, saves a checkpoint per epoch, and runs its objective's evaluate(), which may do
more than the bare loop's pass (the VAE's reconstruction error, the seq2seq's teacher-forced loss
besides greedy decoding, the GAN's quality scores on MNIST).

Two ratios per family and path, of the medians:
  steps   the training steps alone (the Trainer's per-epoch "epoch_time" against the bare loop's
          stepping time): the cost of the Trainer's step (Stepper, stats, loss buffer, store
          writes). Target <= 1.05.
  run     the whole run, evaluation and checkpoints included; the extra pass is the difference,
          shown in seconds per epoch (Trainer's end-of-epoch work minus the bare loop's val pass).
Paths: the CLI (the Trainer in this process) and the app (a run in its own process,
engine/core/jobs.py, on every core but one; timed from its first step to its end as the store
recorded it, against a bare loop in a process of its own on as many threads; the process start-up
is reported apart).
Runs alternate, in reverse order every other repeat, so drift on a shared machine hits all of them.

    python bench/trainer_overhead.py                                  # all four families, 3 repeats
    python bench/trainer_overhead.py --families cnn,vae --repeats 5
    python bench/trainer_overhead.py --repeats 1 --quick              # a smoke run: small data
"""
from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.core.device import autocast, describe, job_threads, pick_device, precision_for, seed_everything  # noqa: E402
from engine.core.jobs import JOB_START_METHOD  # noqa: E402
from engine.core.optim import make_optimizer  # noqa: E402
from engine.core.registry import validate  # noqa: E402
from engine.core.runs import RunStore  # noqa: E402
from engine.core.trainer import TrainingJob, build_model  # noqa: E402
from engine.data import load_dataset  # noqa: E402
from engine.data.sequences import PAD, decoder_input  # noqa: E402
from engine.objectives.sequences import CLIP_NORM, exact_match  # noqa: E402
from engine.objectives.vae import kl_divergence  # noqa: E402
from bench.bare_steps import gan_step, vae_step  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


# ---- the bare loops: what a person writes by hand for each family ---------------------------------
def _timed(config, data, device, build_step, val_pass) -> tuple[float, float]:
    """Train with the Trainer's batches (same seed, same shuffles, ragged last batch dropped) and
    one validation pass per epoch. Returns (seconds in all, seconds stepping)."""
    t = config.training
    generator = seed_everything(t["seed"])
    model = build_model(config, data).to(device)
    train_step = build_step(model, t)
    x, y = data.x_train.to(device), data.y_train.to(device)
    bs = t["batch_size"]
    steps = len(x) // bs
    _sync(device)
    start = time.perf_counter()
    stepping = 0.0
    for _ in range(t["epochs"]):
        model.train()
        epoch_start = time.perf_counter()
        order = torch.randperm(len(x), generator=generator).to(device)
        for i in range(steps):
            idx = order[i * bs:(i + 1) * bs]
            train_step(x[idx], y[idx])
        _sync(device)
        stepping += time.perf_counter() - epoch_start
        model.eval()
        with torch.no_grad():
            val_pass(model, data, device)
    _sync(device)
    return time.perf_counter() - start, stepping


def _adam_or_configured(model, t):
    return make_optimizer(t["optimizer"], model.parameters(), t["lr"], t["momentum"], t["weight_decay"])


def bare_classifier(config, data, device):
    def build_step(model, t):
        optimizer = _adam_or_configured(model, t)

        def step(xb, yb):
            with autocast(device):
                logits = model(xb)
            loss = F.cross_entropy(logits.float(), yb)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return step

    def val_pass(model, data, device):
        correct = 0
        for s in range(0, len(data.x_val), 1024):
            with autocast(device):
                correct += (model(data.x_val[s:s + 1024].to(device)).argmax(1)
                            == data.y_val[s:s + 1024].to(device)).sum().item()
    return _timed(config, data, device, build_step, val_pass)


def bare_vae(config, data, device):
    def build_step(model, t):
        optimizer = _adam_or_configured(model, t)

        def step(xb, yb):
            vae_step(model, xb, optimizer, device)
        return step

    def val_pass(model, data, device):
        total = 0.0
        for s in range(0, len(data.x_val), 1000):
            xb = data.x_val[s:s + 1000].to(device)
            with autocast(device):
                logits, mean, logvar = model(xb)
            total += (F.binary_cross_entropy_with_logits(logits.float(), xb, reduction="sum")
                      + kl_divergence(mean.float(), logvar.float()).sum()).item()
    return _timed(config, data, device, build_step, val_pass)


def bare_gan(config, data, device):
    def build_step(model, t):
        G, D = model.generator, model.discriminator
        opt_d = torch.optim.Adam(D.parameters(), lr=model.lr_d, betas=model.betas)
        opt_g = torch.optim.Adam(G.parameters(), lr=model.lr_g, betas=model.betas)

        def step(xb, yb):
            gan_step(model, xb * 2 - 1, opt_d, opt_g, device)
        return step

    def val_pass(model, data, device):
        with autocast(device):
            (model.discriminator(data.x_val[:1000].to(device) * 2 - 1) > 0).float().mean().item()
    return _timed(config, data, device, build_step, val_pass)


def bare_seq2seq(config, data, device):
    def build_step(model, t):
        optimizer = _adam_or_configured(model, t)

        def step(xb, yb):
            with autocast(device):
                logits = model(xb, decoder_input(yb))
            loss = F.cross_entropy(logits.float().flatten(0, 1), yb.flatten(), ignore_index=PAD)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)  # as the seq2seq objective
            optimizer.step()
        return step

    def val_pass(model, data, device):
        for s in range(0, len(data.x_val), 1000):
            xv, yv = data.x_val[s:s + 1000].to(device), data.y_val[s:s + 1000].to(device)
            with autocast(device):
                exact_match(model.greedy(xv, yv.shape[1]), yv).float().mean().item()
    return _timed(config, data, device, build_step, val_pass)


# ---- the Trainer ------------------------------------------------------------------------------------
def _bare_child(bare: Callable, config, device, threads: int, results) -> None:
    """A bare loop as the app would run it: in a process of its own (the same forkserver as a run's),
    on the run's threads, loading its own data, and cold (no warm-up run) as a run's process is."""
    torch.set_num_threads(threads)
    data = load_dataset(config.dataset, config.dataset_options)
    results.put(bare(config, data, device))


def bare_in_own_process(bare: Callable, config, device, threads: int) -> tuple[float, float]:
    """The app path's baseline, in the same kind of process as the run it is compared with. Not this
    process: the processes' state differs (measured: a run's child trained one MNIST epoch in 19.8 s,
    then 23.5 s once this process had run a 2-thread loop), and that is no cost of the Trainer."""
    context = multiprocessing.get_context(JOB_START_METHOD)
    results = context.Queue()
    process = context.Process(target=_bare_child, args=(bare, config, device, threads, results))
    process.start()
    seconds = results.get()
    process.join()
    return seconds


def trainer_run(config, device, root: Path, own_process: bool) -> tuple[float, float, float]:
    """(seconds in all, seconds stepping, seconds starting) of the Trainer as the CLI runs it (this
    process) or as the app runs it (a child process: timed from its first step, as the store
    recorded it). Stepping is the sum of the per-epoch "epoch_time" the Trainer records."""
    store = RunStore(root)
    job = TrainingJob(config, store, device=device)
    start, wall_start = time.perf_counter(), time.time()
    status = job.start().join() if own_process else job.run()
    _sync(device)
    elapsed = time.perf_counter() - start
    if status != "completed":
        raise SystemExit(f"trainer run ended {status}: {store.get_run(job.run_id).message}")
    stepping = float(store.metrics(job.run_id, ["epoch_time"]).value.sum())
    if not own_process:
        return elapsed, stepping, 0.0
    steps = store.metrics(job.run_id, ["loss"])
    first, last = steps.wall_time.iloc[0], store.get_run(job.run_id).updated
    per_step = (steps.wall_time.iloc[-1] - first) / max(len(steps) - 1, 1)
    return last - first + per_step, stepping, first - per_step - wall_start


# ---- the families -------------------------------------------------------------------------------------
@dataclass
class Family:
    model: str
    dataset: str
    settings: dict
    bare: Callable
    options: dict = field(default_factory=dict)
    epochs_factor: int = 1  # small datasets: more epochs, so a run lasts long enough to time


def families(device, quick: bool) -> dict[str, Family]:
    """quick: small data everywhere (8x8 digits, 2,000 sequences), to check the bench runs."""
    gpu = device.type == "cuda"
    images = "digits" if quick else "mnist"
    seq_samples = 2_000 if quick else 10_000
    return {
        "cnn": Family("cnn", images, {"batch_size": 64}, bare_classifier),
        "vae": Family("vae", images, {"batch_size": 128}, bare_vae),
        # MNIST on a GPU (with the per-epoch quality scores by the MNIST classifier); 8x8 digits on a CPU.
        "dcgan": Family("dcgan", "mnist" if gpu and not quick else "digits", {"batch_size": 64}, bare_gan,
                        epochs_factor=1 if gpu or quick else 5),
        "transformer": Family("transformer", "reverse", {"batch_size": 128, "lr": 3e-3, "layers": 2,
                                                         "d_model": 64, "heads": 4, "d_ff": 128},
                              bare_seq2seq, {"n_samples": seq_samples}),
    }


def measure(family: Family, args, device) -> dict[str, float]:
    config = validate(family.model, family.dataset,
                      {**family.settings, "epochs": args.epochs * family.epochs_factor}, family.options)
    data = load_dataset(family.dataset, config.dataset_options)  # loaded once up front
    t = config.training
    steps = len(data.x_train) // t["batch_size"] * t["epochs"]
    print(f"\n{family.model} on {family.dataset}: {steps} steps of batch {t['batch_size']}, {t['epochs']} epoch(s)")
    family.bare(config, data, device)  # warm-up: allocator, kernels, first-touch of the data
    child_threads = job_threads()
    names = ("bare", "trainer", "bare (own process)", "trainer (own process)")
    total = {k: [] for k in names}
    stepping = {k: [] for k in names}
    startups = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            # Reversed every other repeat: a later run in a repeat runs on a warmer, busier machine.
            for name in (names if i % 2 == 0 else names[::-1]):
                if name == "bare":
                    seconds, steps_s = family.bare(config, data, device)
                elif name == "trainer":
                    seconds, steps_s, _ = trainer_run(config, device, Path(tmp) / f"main{i}", own_process=False)
                elif name == "bare (own process)":
                    seconds, steps_s = bare_in_own_process(family.bare, config, device, child_threads)
                else:
                    seconds, steps_s, startup = trainer_run(config, device, Path(tmp) / f"child{i}", own_process=True)
                    startups.append(startup)
                total[name].append(seconds)
                stepping[name].append(steps_s)
            print(f"  repeat {i + 1}: " + ", ".join(f"{k} {total[k][-1]:.2f} s (steps {stepping[k][-1]:.2f} s)"
                                                    for k in names))
    med = {k: statistics.median(v) for k, v in total.items()}
    med_steps = {k: statistics.median(v) for k, v in stepping.items()}
    epochs = t["epochs"]
    rows = {}
    for path, trainer, bare in (("CLI", "trainer", "bare"), ("app", "trainer (own process)", "bare (own process)")):
        extra = ((med[trainer] - med_steps[trainer]) - (med[bare] - med_steps[bare])) / epochs
        rows[path] = {"steps": med_steps[trainer] / med_steps[bare], "run": med[trainer] / med[bare], "extra": extra,
                      "samples_per_s": steps * t["batch_size"] / med_steps[trainer]}
        print(f"  {path:<4} steps trainer/bare {rows[path]['steps']:.3f}   run trainer/bare {rows[path]['run']:.3f}   "
              f"evaluation + checkpoint beyond the bare val pass: {extra:+.2f} s/epoch")
    print(f"  the app's run process takes {statistics.median(startups):.1f} s to start (spawn, imports, data); "
          f"it trains on {child_threads} thread(s)")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", default="cnn,vae,dcgan,transformer")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--quick", action="store_true", help="small data (8x8 digits, 2,000 sequences): checks the bench runs")
    args = parser.parse_args()

    device = pick_device(args.device)
    print(f"{describe(device)}; training precision {precision_for(device).name}; torch {torch.__version__}")
    table = families(device, args.quick)
    results = {name: measure(table[name], args, device) for name in args.families.split(",")}
    print("\nTrainer/bare, ratio of the medians (target <= 1.05 for the steps; the run adds the objective's "
          "evaluation beyond the bare loop's one pass, and a checkpoint per epoch)")
    print(f"{'family':<12} {'CLI steps':>9} {'CLI run':>8} {'app steps':>9} {'app run':>8} {'extra s/epoch (CLI)':>20}")
    for name, rows in results.items():
        print(f"{name:<12} {rows['CLI']['steps']:9.3f} {rows['CLI']['run']:8.3f} {rows['app']['steps']:9.3f} "
              f"{rows['app']['run']:8.3f} {rows['CLI']['extra']:20.2f}")


if __name__ == "__main__":
    main()
