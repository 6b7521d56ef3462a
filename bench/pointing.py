"""Pointing-game hit rate per saliency method on a CNN trained on the colour shapes, with the
random-map and centre-bump baselines (engine/saliency/pointing.py), and each method's time.

    python bench/pointing.py                                  # CNN, 32 px, 10 epochs, 200 test images
    python bench/pointing.py --model vgg --epochs 15 --images 1000 --device cuda

The run is trained through the engine's Trainer in a temporary store (seeded: the same command gives
the same network on the same machine); the maps explain each test image's true class.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import engine.models  # noqa: E402,F401  (registers the models)
from engine.core.device import describe, pick_device  # noqa: E402
from engine.core.loading import load_run  # noqa: E402
from engine.core.registry import validate  # noqa: E402
from engine.core.runs import RunStore  # noqa: E402
from engine.core.trainer import TrainingJob  # noqa: E402
from engine.data.shapes import masks_of  # noqa: E402
from engine.saliency.methods import METHODS  # noqa: E402
from engine.saliency.pointing import pointing_game  # noqa: E402

MODELS = {  # settings that train in a minute or two on a CPU
    "cnn": {"channels": 32, "blocks": 3, "dense": 128, "batchnorm": True},
    "resnet": {"width": 16, "stages": 3},
    "vgg": {"channels": 16, "blocks": 4, "dense": 128},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=list(MODELS), default="cnn")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--n-train", type=int, default=4000)
    parser.add_argument("--images", type=int, default=200, help="test images scored")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--clutter", type=float, default=0.5)
    parser.add_argument("--device", default=None, help="cpu, cuda (default: the best there is)")
    args = parser.parse_args()
    device = pick_device(args.device)

    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(Path(folder) / "runs")
        config = validate(args.model, "shapes", {"epochs": args.epochs, "lr": 2e-3, **MODELS[args.model]},
                          {"size": args.size, "n_train": args.n_train, "n_val": max(args.images, 100),
                           "clutter": args.clutter})
        start = time.perf_counter()
        job = TrainingJob(config, store, device=str(device))
        assert job.run() == "completed", store.get_run(job.run_id).message
        trained_s = time.perf_counter() - start
        loaded = load_run(store, str(job.run_id), device=device)
        accuracy = store.get_run(job.run_id).final["val_acc"]
    data = loaded.data
    x, y, masks = data.x_val[:args.images], data.y_val[:args.images], masks_of(data)[:args.images].numpy()
    print(f"{args.model} on shapes {args.size} px (clutter {args.clutter}), {args.epochs} epochs of {args.n_train} "
          f"images in {trained_s:.0f} s on {describe(device)}: val accuracy {accuracy:.3f}")
    print(f"{len(x)} test images; objects cover {masks.mean():.1%} of an image on average\n")
    print(f"{'method':<26}{'hit rate':>10}{'energy in':>11}{'seconds':>9}")
    for method in METHODS:
        start = time.perf_counter()
        result = pointing_game(loaded.model, x, y, masks, [method])[0]
        seconds = time.perf_counter() - start
        print(f"{result.title:<26}{result.hit_rate:>10.3f}{result.energy_share:>11.3f}{seconds:>9.1f}")
    for result in pointing_game(loaded.model, x, y, masks, [])[-2:]:
        print(f"{result.title:<26}{result.hit_rate:>10.3f}{result.energy_share:>11.3f}")


if __name__ == "__main__":
    main()
