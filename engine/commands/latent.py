"""`python -m engine latent-grid` and `python -m engine sample`: the Latent space page, headless.

    python -m engine latent-grid --run 7 --n 15 --range 4 --out grid.png [--dims 0 1] [--epoch E]
    python -m engine sample --run 7 --n 64 --out samples.png [--seed S] [--label 3]

Both write a PNG (white gutters between images) and print one JSON line describing it.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def add_parser(verbs) -> None:
    from engine.core.arguments import finite, whole
    grid = verbs.add_parser("latent-grid", help="decode an n x n grid over two latent dimensions of a VAE/GAN run to a PNG")
    _common(grid)
    grid.add_argument("--n", type=whole(), default=15, help="images per side (default 15)")
    grid.add_argument("--range", type=finite(), default=4.0, dest="r", help="grid spans [-r, r] (default 4)")
    grid.add_argument("--dims", type=whole(), nargs=2, default=(0, 1), metavar=("X", "Y"),
                      help="the two latent dimensions to vary (default 0 1); the others are 0")
    grid.set_defaults(func=run_grid)

    sample = verbs.add_parser("sample", help="decode prior samples of a VAE/GAN run to a PNG grid")
    _common(sample)
    sample.add_argument("--n", type=whole(), default=64, help="number of samples (default 64)")
    sample.add_argument("--seed", type=whole(), default=0, help="noise seed: same seed, same samples")
    sample.set_defaults(func=run_sample)


def _common(parser) -> None:
    from engine.core.arguments import run_id, whole
    parser.add_argument("--run", type=run_id, required=True, help="run id (python -m engine runs list)")
    parser.add_argument("--epoch", type=whole(), help="checkpoint epoch (default: the latest)")
    parser.add_argument("--out", required=True, help="PNG file to write")
    parser.add_argument("--label", type=whole(), help="class to ask a conditional GAN for (default: 0 for the grid, "
                                                  "every class in turn for samples)")


def _load(args):
    """(model, data, config) of the run, its data from --data-dir like its runs."""
    from engine.__main__ import _store
    from engine.core.loading import load_run
    from engine.latent.space import NEED
    loaded = load_run(_store(args), args.run, args.epoch, data_dir=args.data_dir, need=NEED)
    return loaded.model, loaded.data, loaded.config


def _write_png(array: np.ndarray, out: str) -> Path:
    from PIL import Image
    path = Path(out)
    if path.is_dir():
        raise IsADirectoryError(f"--out {out} is a folder: give a file name such as {path / 'grid.png'}")
    if not path.parent.exists():
        raise FileNotFoundError(f"the folder {path.parent} does not exist")
    Image.fromarray((np.clip(array, 0, 1) * 255).round().astype(np.uint8)).save(path, format="PNG")
    return path


def run_grid(args) -> int:
    from engine.latent.space import LatentError, latent_grid, tile
    if not 1 <= args.n <= 64:
        raise LatentError(f"--n must be between 1 and 64, not {args.n}")
    model, data, config = _load(args)
    images = latent_grid(model, args.n, args.r, tuple(args.dims), labels=args.label)
    path = _write_png(tile(images, args.n, pad=1), args.out)
    print(json.dumps({"run_id": args.run, "model": config.model, "out": str(path), "n": args.n,
                      "range": args.r, "dims": list(args.dims), "images": len(images),
                      "image_shape": list(images.shape[1:])}))
    return 0


def run_sample(args) -> int:
    from engine.latent.space import LatentError, sample, tile
    if not 1 <= args.n <= 4096:
        raise LatentError(f"--n must be between 1 and 4096, not {args.n}")
    model, data, config = _load(args)
    images = sample(model, args.n, args.seed, labels=args.label)
    cols = math.ceil(math.sqrt(args.n))
    path = _write_png(tile(images, cols, pad=1), args.out)
    print(json.dumps({"run_id": args.run, "model": config.model, "out": str(path), "n": args.n,
                      "seed": args.seed, "image_shape": list(images.shape[1:])}))
    return 0
