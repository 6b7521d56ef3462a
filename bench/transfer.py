"""Transfer learning: seconds per epoch with the frozen backbone (cached features) vs fine-tuning.

On the `shapes` dataset rendered at 224 px (engine/data/shapes.py), the `transfer` model trains
through the Trainer in this process, as the CLI does:
  frozen     the pretrained EfficientNet-Lite0's features of every image computed once (timed apart:
             "features once"), cached by content hash; each epoch trains the linear head on them.
             A second run on the same data finds the cache ("second run": its whole wall time).
  finetune   the last k of the 16 blocks (and the final 1x1 conv) train too; every step runs the
             backbone on the (flipped) images.
Both see each training image once per epoch (aug_copies 0: the frozen run caches no augmented copies),
so the ratio of the median epoch times is the cost of running the backbone every step. Epoch times
are the Trainer's own "epoch_time" (the steps alone; evaluation and the checkpoint are apart).

    python bench/transfer.py                                  # 100 + 100 images, 3 epochs, k = 2
    python bench/transfer.py --n-train 200 --epochs 5 --tuned-blocks 4 --device cuda
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.core.device import describe, pick_device  # noqa: E402
from engine.core.registry import validate  # noqa: E402
from engine.core.runs import RunStore  # noqa: E402
from engine.core.trainer import TrainingJob  # noqa: E402


def train(store, data_dir, device, options, values) -> dict:
    config = validate("transfer", "shapes", values, options)
    job = TrainingJob(config, store, device=device, data_dir=data_dir)
    begun = time.perf_counter()
    job.run()
    wall = time.perf_counter() - begun
    if job.progress.status != "completed":
        raise SystemExit(f"run {job.run_id} {job.progress.status}: {job.progress.message}")
    epochs = store.metrics(job.run_id, ["epoch_time"])["value"].tolist()
    return {"wall_s": wall, "epoch_s": statistics.median(epochs), "epochs_s": epochs,
            "val_acc": job.progress.final["val_acc"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-train", type=int, default=100)
    parser.add_argument("--n-val", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--tuned-blocks", type=int, default=2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = pick_device(args.device)
    options = {"size": 224, "n_train": args.n_train, "n_val": args.n_val}
    common = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": 0.003}
    with tempfile.TemporaryDirectory() as root:
        store = RunStore(Path(root) / "runs")
        frozen = train(store, root, device, options, {**common, "mode": "frozen", "aug_copies": 0})
        again = train(store, root, device, options, {**common, "mode": "frozen", "aug_copies": 0})
        tuned = train(store, root, device, options, {**common, "mode": "finetune", "lr": 0.001,
                                                     "tuned_blocks": args.tuned_blocks})
    features_once = frozen["wall_s"] - again["wall_s"]
    print(f"device {describe(device)}; shapes at 224 px, {args.n_train} training + {args.n_val} validation images, "
          f"{args.epochs} epochs, batch {args.batch_size}")
    print(f"frozen   : {frozen['epoch_s']:.3f} s/epoch (median), val_acc {frozen['val_acc']:.3f}; "
          f"features computed once in about {features_once:.1f} s (first run {frozen['wall_s']:.1f} s, "
          f"second run on the cached features {again['wall_s']:.1f} s)")
    print(f"finetune : {tuned['epoch_s']:.3f} s/epoch (median, last {args.tuned_blocks} blocks), "
          f"val_acc {tuned['val_acc']:.3f}; whole run {tuned['wall_s']:.1f} s")
    print(f"ratio    : fine-tuning takes {tuned['epoch_s'] / frozen['epoch_s']:.0f}x the frozen head's time per epoch")
    print(json.dumps({"device": str(device), "options": options, **common, "tuned_blocks": args.tuned_blocks,
                      "frozen": frozen, "frozen_second_run": again, "finetune": tuned,
                      "features_once_s": features_once, "ratio": tuned["epoch_s"] / frozen["epoch_s"]}))


if __name__ == "__main__":
    main()
