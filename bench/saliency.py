"""Saliency latency: every method on one 28x28 input and on a batch of 64, the engine's Grad-CAM
against a bare implementation of the same maths (ratio), and the page's re-render after a class
or method change (through Streamlit's AppTest: the script run the browser waits for).

    python bench/saliency.py                    # default CNN, CPU (or the GPU when there is one)
    python bench/saliency.py --device cpu --repeats 50
    python bench/saliency.py --model imagenet   # EfficientNet-Lite0 on one 224 px photo (issue 16)

--model imagenet: every method on one 224 px photo (scikit-image's chelsea, the tabby class) on the
pretrained EfficientNet-Lite0, captum's Grad-CAM (the head) against the bare one at 224 px (ratio, same
run, same alternating blocks), and top-1 on foolbox's 20 labelled ImageNet photos.

All timings are medians over --repeats calls after warm-up; the bare and engine Grad-CAM are timed
in alternating blocks of 10 calls (the median of the block medians), so machine noise hits both alike.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.data import load_dataset  # noqa: E402
from engine.core.device import describe, pick_device  # noqa: E402
from engine.core.loading import DEFAULT, load_run  # noqa: E402
from engine.saliency.maps import METHODS, attribute, conv_layers  # noqa: E402


def bare_gradcam(model: nn.Module, layer: nn.Module, x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Grad-CAM by hand: capture the layer's maps, differentiate the class score, weigh, ReLU, upsample."""
    captured = {}
    x = x.detach().requires_grad_(True)  # frozen weights: the graph starts at the input
    hook = layer.register_forward_hook(lambda _m, _i, out: captured.__setitem__("maps", out))
    try:
        scores = model(x)
    finally:
        hook.remove()
    maps = captured["maps"]
    (grads,) = torch.autograd.grad(scores.gather(1, target[:, None]).sum(), maps)
    cam = torch.relu((grads.mean(dim=(2, 3), keepdim=True) * maps).sum(dim=1, keepdim=True))
    return nn.functional.interpolate(cam, size=x.shape[2:], mode="bilinear").squeeze(1).detach()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def median_ms(fn, repeats: int, device) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def page_rerun_ms(repeats: int) -> dict[str, float]:
    """Script re-run time of the saliency page after a class change, per method shown."""
    from streamlit.testing.v1 import AppTest

    results = {}
    for methods in (["gradcam"], ["guided-backprop"], ["gradcam", "guided-backprop", "guided-gradcam"]):
        at = AppTest.from_file(str(ROOT / "pages/saliency.py"), default_timeout=120).run()
        at.multiselect(key="methods").set_value(methods).run()
        times = []
        for i in range(repeats):
            start = time.perf_counter()
            at.selectbox(key="target").set_value(str(i % 10)).run()
            times.append(time.perf_counter() - start)
        assert not at.exception, [e.value for e in at.exception]
        results["+".join(methods)] = statistics.median(times) * 1000
    at.selectbox(key="target").set_value("predicted").run()
    times = []
    for i in range(repeats):  # a method change: Grad-CAM <-> guided backprop
        start = time.perf_counter()
        at.multiselect(key="methods").set_value([("gradcam", "guided-backprop")[i % 2]]).run()
        times.append(time.perf_counter() - start)
    results["method switch"] = statistics.median(times) * 1000
    return results


def photo_bench(device: torch.device, repeats: int) -> None:
    """Issue 16: the pretrained ImageNet CNN on one 224 px photo, and its top-1 on foolbox's photos."""
    from engine.data.photos import gallery, labelled_photos, read_photo
    from engine.saliency.imagenet import DEFAULT_LAYER, find_class, load_photo_classifier

    model = load_photo_classifier(device)
    x = read_photo(next(p.path for p in gallery() if p.name == "chelsea (a cat)")).x.to(device)
    t = torch.tensor([find_class("tabby cat")], device=device)
    opts = {"layer": DEFAULT_LAYER, "steps": 32, "baseline": "black", "window": 32, "stride": 16, "chunk": 32}
    slow = max(1, repeats // 5)  # IG (32 passes) and occlusion (197 passes) are timed fewer times
    print(f"device: {describe(device)}; model: EfficientNet-Lite0 on one 224 x 224 photo; median ms "
          f"({repeats} calls, {slow} for IG and occlusion; IG 32 steps, occlusion 32 px window / 16 px stride, "
          f"chunks of 32 images)")
    for method in METHODS:
        attribute(model, x, t, method, **opts)  # warm-up
        n = slow if method in ("integrated-gradients", "occlusion") else repeats
        print(f"  {method:<22}{median_ms(lambda: attribute(model, x, t, method, **opts), n, device):>10.1f}")
    layer = model.head
    torch.testing.assert_close(attribute(model, x, t, "gradcam").to(device), bare_gradcam(model, layer, x, t),
                               atol=1e-5, rtol=1e-4)  # the same maths
    bare, engine = [], []
    for _ in range(max(3, repeats // 3)):
        bare.append(median_ms(lambda: bare_gradcam(model, layer, x, t), 5, device))
        engine.append(median_ms(lambda: attribute(model, x, t, "gradcam"), 5, device))
    b, e = statistics.median(bare), statistics.median(engine)
    print(f"Grad-CAM at 224 px (head): bare {b:.1f} ms, engine (captum) {e:.1f} ms -> ratio {e / b:.3f}")
    photos = labelled_photos()
    batch = torch.cat([read_photo(p.path).x for p in photos]).to(device)
    with torch.no_grad():
        predicted = model(batch).argmax(1).cpu().tolist()
    right = sum(int(p == photo.label) for p, photo in zip(predicted, photos))
    print(f"top-1 on foolbox's {len(photos)} labelled ImageNet photos: {right}/{len(photos)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--page-repeats", type=int, default=10)
    parser.add_argument("--model", choices=("mnist", "imagenet"), default="mnist",
                        help="the default MNIST CNN (the default) or the pretrained ImageNet CNN on a photo")
    args = parser.parse_args()
    device = pick_device(args.device)
    if args.model == "imagenet":
        photo_bench(device, args.repeats)
        return
    model = load_run(None, DEFAULT, device=device).model
    for p in model.parameters():
        p.requires_grad_(False)  # inference weights, as on the page; the maps need input gradients only
    data = load_dataset("mnist")
    one, batch = data.x_val[:1].to(device), data.x_val[:64].to(device)
    t_one, t_batch = data.y_val[:1].to(device), data.y_val[:64].to(device)
    print(f"device: {describe(device)}; model: default MNIST CNN; median of {args.repeats} calls (ms)")

    print(f"{'method':<22}{'1 image':>10}{'batch of 64':>14}{'per image':>12}")
    for method in METHODS:
        opts = {"steps": 32, "window": 5, "stride": 2}
        attribute(model, batch, t_batch, method, **opts)  # warm-up
        single = median_ms(lambda: attribute(model, one, t_one, method, **opts), args.repeats, device)
        many = median_ms(lambda: attribute(model, batch, t_batch, method, **opts), max(3, args.repeats // 5), device)
        print(f"{method:<22}{single:>10.2f}{many:>14.2f}{many / 64:>12.3f}")

    layer = list(conv_layers(model).values())[-1]
    for name, x, t in (("1 image", one, t_one), ("batch of 64", batch, t_batch)):
        torch.testing.assert_close(attribute(model, x, t, "gradcam").to(device), bare_gradcam(model, layer, x, t),
                                   atol=1e-5, rtol=1e-4)  # the same maths
        bare, engine = [], []
        for _ in range(args.repeats):  # alternate blocks of 10 calls, so drift hits both
            bare.append(median_ms(lambda: bare_gradcam(model, layer, x, t), 10, device))
            engine.append(median_ms(lambda: attribute(model, x, t, "gradcam"), 10, device))
        b, e = statistics.median(bare), statistics.median(engine)
        print(f"Grad-CAM {name}: bare {b:.2f} ms, engine (captum) {e:.2f} ms -> ratio {e / b:.3f} (target <= 1.2)")

    if device.type == "cpu":
        os.environ.setdefault("DEEP_PLAYGROUND_DEVICE", "cpu")
        print("page re-render after a change (AppTest script run, ms; target < 300):")
        for what, ms in page_rerun_ms(args.page_repeats).items():
            print(f"  {what:<48}{ms:>8.1f}")


if __name__ == "__main__":
    main()
