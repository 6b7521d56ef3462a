"""`python -m engine pretrain`: train the default MNIST CNN that ships in assets/.

Run it once by the project (the file is committed); run it again to reproduce the checkpoint.
It trains through the shared Trainer in a throwaway run store, checks the test accuracy, and only
then replaces the asset.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path


def add_parser(verbs) -> None:
    p = verbs.add_parser("pretrain", help="train the default MNIST CNN checkpoint into assets/")
    p.add_argument("--out", default=None, help="file to write (default: assets/mnist-cnn.safetensors)")
    p.add_argument("--epochs", default=None, help="epochs to train (checked like `train --epochs`)")
    p.add_argument("--device", default=None)
    p.set_defaults(func=run)


def run(args) -> int:
    from engine.core.device import pick_device
    from engine.core.pretrained import DEFAULT_CNN, DEFAULT_CNN_SETTINGS, MIN_TEST_ACCURACY, save_pretrained
    from engine.core.registry import validate
    from engine.core.runs import RunStore
    from engine.core.trainer import TrainingJob

    settings = dict(DEFAULT_CNN_SETTINGS)
    if args.epochs is not None:
        settings["epochs"] = args.epochs
    config = validate("cnn", "mnist", settings)
    out = Path(args.out) if args.out else DEFAULT_CNN
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(Path(tmp) / "runs")
        job = TrainingJob(config, store, device=pick_device(args.device), data_dir=args.data_dir,
                          on_epoch=lambda p: print(f"epoch {p.epoch}/{p.epochs}: test accuracy "
                                                   f"{p.final['val_acc']:.4f}", file=sys.stderr, flush=True))
        if job.run() != "completed":
            print(f"error: training {job.progress.status}: {job.progress.message}", file=sys.stderr)
            return 1
        acc = job.progress.final["val_acc"]
        if acc < MIN_TEST_ACCURACY:
            print(f"error: test accuracy {acc:.4f} is below {MIN_TEST_ACCURACY}; {out} left unchanged", file=sys.stderr)
            return 1
        params = config.as_dict()
        save_pretrained(out, store.load_checkpoint(job.run_id), params, acc)
    print(json.dumps({"out": str(out), "test_acc": acc, "bytes": out.stat().st_size, "config": params}))
    return 0
