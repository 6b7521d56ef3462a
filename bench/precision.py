"""Training throughput per model family in each precision: one epoch through the Trainer (the CLI
path), samples/s of the training steps as the Trainer records them (evaluation excluded).

On a CUDA card compare fp32 with the precision the device picks (bf16 on Ampere and later; fp16
with a GradScaler on older cards); on the CPU, fp32 with fp16 + GradScaler (slow there: it only
shows that path works). Precisions alternate over the repeats; the best of each is shown.

    python bench/precision.py                                     # every family, fp32 vs auto
    python bench/precision.py --families cnn,vae --repeats 3
    python bench/precision.py --large --precisions fp32,bf16      # where a GPU step is not launch-bound
    python bench/precision.py --device cpu --precisions fp32,fp16 --image-dataset digits --repeats 1

MNIST must be in the data dir ($DEEP_PLAYGROUND_DATA/mnist.npz, made by any MNIST run here; a copy
saved with np.savez_compressed is about 11 MB); --image-dataset digits needs nothing.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.core.device import describe, pick_device, precision_for  # noqa: E402
from engine.core.registry import validate  # noqa: E402
from engine.core.runs import RunStore  # noqa: E402
from engine.core.trainer import TrainingJob  # noqa: E402


def families(images: str, large: bool = False) -> dict[str, tuple[str, str, dict, dict]]:
    """name -> (model, dataset, settings, dataset options): one of each family at its default size,
    or (`large`) wider and with larger batches, where a GPU's step is no longer bound by kernel launches."""
    if large:
        return {
            "cnn": ("cnn", images, {"batch_size": 1024, "channels": 128, "dense": 512}, {}),
            "mlp": ("mlp", images, {"batch_size": 2048, "width": 1024, "depth": 4}, {}),
            "transformer": ("transformer", "reverse", {"batch_size": 1024, "d_model": 256, "heads": 8, "d_ff": 1024,
                                                       "lr": 1e-3}, {"n_samples": 20_000}),
            "lstm": ("recurrent", "count_ones", {"cell": "lstm", "hidden": 512, "batch_size": 1024, "lr": 1e-3}, {}),
            "vae": ("vae", images, {"batch_size": 1024, "hidden": 2048, "layers": 2}, {}),
            "dcgan": ("dcgan", images, {"batch_size": 512}, {}),
        }
    return {
        "cnn": ("cnn", images, {"batch_size": 64}, {}),
        "mlp": ("mlp", images, {"batch_size": 64}, {}),
        "transformer": ("transformer", "reverse", {"batch_size": 128, "lr": 3e-3}, {"n_samples": 10_000}),
        "lstm": ("recurrent", "count_ones", {"cell": "lstm", "batch_size": 64, "lr": 1e-2}, {}),
        "vae": ("vae", images, {"batch_size": 128}, {}),
        "dcgan": ("dcgan", images, {"batch_size": 64}, {}),
    }


def samples_per_s(model, dataset, settings, options, device, precision, root: Path) -> float:
    store = RunStore(root)
    job = TrainingJob(validate(model, dataset, {**settings, "epochs": 1}, options), store, device=device,
                      precision=precision)
    status = job.run()
    if status != "completed":
        raise SystemExit(f"{model} in {precision.name}: the run ended {status}: {store.get_run(job.run_id).message}")
    return float(store.metrics(job.run_id, ["samples_per_s"]).value.iloc[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--families", default="cnn,mlp,transformer,lstm,vae,dcgan")
    parser.add_argument("--precisions", default="fp32,auto", help="names for precision_for: auto, fp32, bf16, fp16")
    parser.add_argument("--image-dataset", default="mnist")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default=None)
    parser.add_argument("--large", action="store_true", help="wider models and larger batches")
    args = parser.parse_args()

    device = pick_device(args.device)
    precisions = [precision_for(device, name) for name in args.precisions.split(",")]
    print(f"{describe(device)}; torch {torch.__version__}; one epoch per run, best of {args.repeats}")
    table = families(args.image_dataset, args.large)
    print(f"{'family':<12} {'dataset':<11} " + " ".join(f"{p.name + ' samples/s':>17}" for p in precisions)
          + f" {precisions[-1].name + '/' + precisions[0].name:>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.families.split(","):
            model, dataset, settings, options = table[name]
            best = {p.name: 0.0 for p in precisions}
            for i in range(args.repeats):
                for p in precisions:
                    rate = samples_per_s(model, dataset, settings, options, device, p, Path(tmp) / f"{name}{i}{p.name}")
                    best[p.name] = max(best[p.name], rate)
            rates = [best[p.name] for p in precisions]
            print(f"{name:<12} {dataset:<11} " + " ".join(f"{r:17.0f}" for r in rates)
                  + f" {rates[-1] / rates[0]:10.2f}x", flush=True)


if __name__ == "__main__":
    main()
