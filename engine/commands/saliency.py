"""`python -m engine saliency`: one saliency map for one test image, as a PNG (+ the raw .npy).

    python -m engine saliency --run default --method gradcam --index 0 --out map.png
    python -m engine saliency --run imagenet --image photo.jpg --method gradcam --target "tabby cat" --out f.png

The PNG is the Grad-CAM paper's row: input | heatmap | heatmap over the input | greyscale map.
"""
from __future__ import annotations

import json
from pathlib import Path

# Each step is one more forward and backward pass of the model: past this it is minutes of waiting
# for a map no different from 1000 steps' (the page's slider stops at 128).
MAX_IG_STEPS = 1000


def add_parser(verbs) -> None:
    from engine.core.arguments import whole
    from engine.saliency.methods import METHODS
    p = verbs.add_parser("saliency", help="a saliency map of one test image, as PNG + .npy")
    p.add_argument("--run", required=True, help="a run id, 'default' for the shipped MNIST CNN, or 'imagenet' "
                                                "for the pretrained EfficientNet-Lite0 (with --image)")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--index", type=whole(), help="index into the test set (a run or the default CNN)")
    p.add_argument("--image", help="a photo to explain (--run imagenet)")
    p.add_argument("--target", help="class to explain (default: the predicted class): a class number, or with "
                                    "--run imagenet any ImageNet class name or synonym, e.g. 'tabby cat'")
    p.add_argument("--epoch", type=whole(), help="checkpoint epoch of the run (default: the last)")
    p.add_argument("--layer", help="Grad-CAM conv layer (default: the last)")
    p.add_argument("--steps", type=whole(1, MAX_IG_STEPS), default=32,
                   help=f"integrated-gradients steps (1 to {MAX_IG_STEPS})")
    p.add_argument("--window", type=whole(1), default=5, help="occlusion window (pixels)")
    p.add_argument("--stride", type=whole(1), default=2, help="occlusion stride (pixels)")
    p.add_argument("--out", required=True, help="PNG file to write; the raw map goes beside it as .npy")
    p.set_defaults(func=run)


def run(args) -> int:
    import numpy as np
    from PIL import Image

    from engine.core.loading import load_run
    from engine.core.paths import runs_dir
    from engine.core.runs import RunStore
    from engine.saliency.classifiers import NEED
    from engine.saliency.maps import DISPLAY, attribute, normalise, probabilities
    from engine.saliency.render import paper_row

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out must name a .png file, got {out.name}")
    if not out.parent.is_dir():
        raise FileNotFoundError(f"folder {out.parent} does not exist")
    from engine.saliency.imagenet import SOURCE
    if args.run == SOURCE:
        from engine.saliency.photo_command import run_photo
        return run_photo(args, out)
    if args.image is not None:
        raise ValueError("--image goes with --run imagenet; a run is explained on its test set (--index)")
    if args.index is None:
        raise ValueError("--index is needed: which test image to explain")
    store = None if args.run == "default" else RunStore(runs_dir(args.data_dir))
    clf = load_run(store, args.run, args.epoch, data_dir=args.data_dir, need=NEED)
    n = len(clf.data.x_val)
    if not 0 <= args.index < n:
        raise ValueError(f"--index must be between 0 and {n - 1} (the test set has {n} images)")
    classes = len(clf.classes)
    if args.target is not None:
        if not args.target.strip().isdigit() or not 0 <= int(args.target) < classes:
            raise ValueError(f"--target must be a class between 0 and {classes - 1}")
        args.target = int(args.target)
    x = clf.data.x_val[args.index:args.index + 1]
    probs = probabilities(clf.model, x)[0]
    predicted = int(probs.argmax())
    target = predicted if args.target is None else args.target
    maps = attribute(clf.model, x, target, args.method, layer=args.layer, steps=args.steps,
                     window=args.window, stride=args.stride)[0].numpy()
    np.save(out.with_suffix(".npy"), maps)
    shown = normalise(maps[None], DISPLAY[args.method])[0]
    Image.fromarray(paper_row(x[0].numpy(), shown, signed=DISPLAY[args.method] == "signed", scale=4)).save(out)
    print(json.dumps({"run": args.run, "epoch": clf.epoch, "index": args.index, "true": int(clf.data.y_val[args.index]),
                      "predicted": predicted, "probability": float(probs[predicted]), "target": target,
                      "target_probability": float(probs[target]), "method": args.method,
                      "png": str(out), "npy": str(out.with_suffix(".npy"))}))
    return 0
