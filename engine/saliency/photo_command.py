"""`python -m engine saliency --run imagenet --image photo.jpg`: a saliency map of a photo on the
pretrained EfficientNet-Lite0, as the Grad-CAM paper's row at the photo's resolution (+ the raw .npy).

Not a verb of its own (engine/commands holds verbs only): engine/commands/saliency.py hands `--run imagenet` here. The target is any
ImageNet class by number, name or synonym ("tabby cat"); a name that matches nothing or several
classes, and a file that is not a readable image, exit 2 with the message.
"""
from __future__ import annotations

import json
from pathlib import Path

def run_photo(args, out: Path) -> int:
    import numpy as np
    from PIL import Image

    from engine.core.device import pick_device
    from engine.data.photos import read_photo, shown_square, upsample_map
    from engine.saliency.imagenet import DEFAULT_LAYER, find_class, load_photo_classifier
    from engine.saliency.maps import DISPLAY, attribute, probabilities
    from engine.models.imagenet import class_names
    from engine.saliency.render import clipped, paper_row

    if args.image is None:
        raise ValueError("--run imagenet needs --image: the photo to explain")
    if args.index is not None:
        raise ValueError("--index is for a run's test set; with --run imagenet name a photo with --image")
    photo = read_photo(args.image)
    target = None if args.target is None else find_class(args.target)
    model = load_photo_classifier(pick_device(getattr(args, "device", None)))
    probs = probabilities(model, photo.x)[0]
    predicted = int(probs.argmax())
    target = predicted if target is None else target
    maps = attribute(model, photo.x, target, args.method, layer=args.layer or DEFAULT_LAYER, steps=args.steps,
                     window=args.window, stride=args.stride)[0].numpy()
    np.save(out.with_suffix(".npy"), maps)
    square = shown_square(photo.square)
    shown = clipped(upsample_map(maps, len(square)), DISPLAY[args.method])
    Image.fromarray(paper_row(np.moveaxis(square, -1, 0) / 255.0, shown, signed=DISPLAY[args.method] == "signed",
                              scale=1)).save(out)
    names = class_names()
    print(json.dumps({"run": "imagenet", "image": str(args.image), "predicted": predicted,
                      "predicted_name": names[predicted], "probability": float(probs[predicted]),
                      "target": target, "target_name": names[target], "target_probability": float(probs[target]),
                      "method": args.method, "notes": photo.notes, "png": str(out), "npy": str(out.with_suffix(".npy"))}))
    return 0
