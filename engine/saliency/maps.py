"""Saliency maps for image classifiers, through captum, behind one call:

    attribute(model, inputs, target, method, **opts) -> maps (N, H, W)

Methods: Grad-CAM (choose the conv layer; default the last), guided backprop, guided Grad-CAM
(upsampled Grad-CAM x guided backprop), plain gradient saliency, integrated gradients, occlusion.
Maps are raw and signed, summed over the input channels; `normalise()` turns them into display
values. Beside them, the two checks of whether a map can be trusted: the model-randomisation
sanity check (Adebayo et al. 2018, with their two similarity measures: rank correlation and SSIM)
and the deletion curve (remove the most salient pixels first).

captum's guided backprop rewires `nn.ReLU` modules only; every model in engine/models uses them.
Hooks live for one call: build the captum object per use (pytorch-grad-cam's leak lesson).
"""
from __future__ import annotations

import copy
import warnings
import weakref
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import (GuidedBackprop, GuidedGradCam, IntegratedGradients, LayerAttribution, LayerGradCam,
                         Occlusion, Saliency)
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity
from torch import nn

# captum warns on every call that it set requires_grad and hooked the ReLUs: expected here, noise in logs.
warnings.filterwarnings("ignore", category=UserWarning, module=r"captum\.")

from engine.saliency.chunking import Progress, counting_forward, with_backoff
from engine.saliency.methods import BASELINES, DISPLAY, METHODS


def conv_layers(model: nn.Module) -> dict[str, nn.Module]:
    """{conv name: the module whose output is that conv's activation map}, in forward order.

    Grad-CAM uses rectified feature maps: when a ReLU follows the conv (a BatchNorm may sit in
    between), its output is used; otherwise the conv's own output. Cached per model (a module's
    structure does not change; walking it costs more than a small model's Grad-CAM)."""
    if model not in _CONV_LAYERS:  # a model may name its own (engine/saliency/imagenet.py: stages and head)
        named = getattr(model, "saliency_layers", None)
        _CONV_LAYERS[model] = named() if named is not None else _find_conv_layers(model)
    return dict(_CONV_LAYERS[model])


_CONV_LAYERS: "weakref.WeakKeyDictionary[nn.Module, dict[str, nn.Module]]" = weakref.WeakKeyDictionary()


def _find_conv_layers(model: nn.Module) -> dict[str, nn.Module]:
    leaves = [(name, m) for name, m in model.named_modules() if not list(m.children())]
    layers = {}
    for i, (name, module) in enumerate(leaves):
        if not isinstance(module, nn.Conv2d):
            continue
        target = module
        for _, following in leaves[i + 1:]:
            if isinstance(following, nn.modules.batchnorm._BatchNorm):
                continue
            if isinstance(following, nn.ReLU):
                target = following
            break
        layers[name] = target
    return layers


def _layer(model: nn.Module, layer: str | None) -> nn.Module:
    layers = conv_layers(model)
    if not layers:
        raise ValueError("this model has no convolution layers: Grad-CAM needs a CNN")
    if layer is None:
        return list(layers.values())[-1]
    if layer not in layers:
        raise ValueError(f"no conv layer {layer!r}; choose one of {', '.join(layers)}")
    return layers[layer]


def _blurred(x: torch.Tensor, size: int = 9) -> torch.Tensor:
    """A box-blurred copy of the input (the 'blurred' integrated-gradients baseline)."""
    c = x.shape[1]
    kernel = torch.full((c, 1, size, size), 1.0 / size ** 2, device=x.device, dtype=x.dtype)
    return nn.functional.conv2d(nn.functional.pad(x, [size // 2] * 4, mode="replicate"), kernel, groups=c)


@torch.no_grad()
def probabilities(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Softmax class probabilities (N, classes), on the CPU."""
    device = next(model.parameters()).device
    return torch.softmax(model(inputs.to(device)).float(), dim=1).cpu()


def attribute(model: nn.Module, inputs: torch.Tensor, target: int | torch.Tensor | None, method: str, *,
              layer: str | None = None, steps: int = 32, baseline: str = "black",
              window: int = 5, stride: int = 2, chunk: int | None = None,
              progress: Progress | None = None) -> torch.Tensor:
    """Saliency maps (N, H, W) for `target` (a class, one per input, or None = the predicted class).

    layer: Grad-CAM's conv layer (a name from conv_layers; default the last). steps, baseline:
    integrated gradients (black or blurred image). window, stride: occlusion's square patch.
    chunk: images per forward pass for integrated gradients and occlusion (default: steps x up to 8
    inputs, and 64), halved on out-of-memory; progress(share done) is called as they run."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    model.eval()
    device = next(model.parameters()).device
    x = inputs.detach().to(device).float().clone()  # captum toggles requires_grad on what it is given
    if target is None:
        target = probabilities(model, x).argmax(1).to(device)
    elif isinstance(target, torch.Tensor):
        target = target.to(device)
    with torch.enable_grad():
        if method == "gradcam":
            coarse = LayerGradCam(model, _layer(model, layer)).attribute(x, target=target, relu_attributions=True)
            maps = LayerAttribution.interpolate(coarse, tuple(x.shape[2:]), "bilinear")
        elif method == "guided-backprop":
            maps = GuidedBackprop(model).attribute(x, target=target)
        elif method == "guided-gradcam":
            maps = GuidedGradCam(model, _layer(model, layer)).attribute(x, target=target, interpolate_mode="bilinear")
        elif method == "saliency":
            maps = Saliency(model).attribute(x, target=target, abs=False)
        elif method == "integrated-gradients":
            total = len(x) * int(steps)
            with counting_forward(model, total, progress) as counter:
                maps, _ = with_backoff(lambda size: _integrated_gradients(model, x, target, steps, baseline, chunk=size),
                                       chunk or max(int(steps), 1) * min(len(x), 8), lambda _size: counter.reset())
        else:
            side = min(x.shape[2:])
            if not 1 <= window <= side or not 1 <= stride <= side:
                raise ValueError(f"occlusion window and stride must be between 1 and {side} pixels")
            c = x.shape[1]
            patches = 1
            for size in x.shape[2:]:
                patches *= -(-(size - window) // stride) + 1
            with counting_forward(model, len(x) * (patches + 1), progress) as counter:
                # perturbations_per_eval counts occluded copies of each input: chunk images over len(x) inputs
                maps, _ = with_backoff(lambda size: Occlusion(model).attribute(
                    x, sliding_window_shapes=(c, window, window), strides=(c, stride, stride), target=target,
                    baselines=0.0, perturbations_per_eval=max(1, size // len(x))), chunk or 64 * len(x),
                    lambda _size: counter.reset())
    return maps.detach().float().sum(dim=1).cpu()


def ig_baseline(x: torch.Tensor, baseline: str) -> torch.Tensor:
    """Integrated gradients' starting image: black, or a blurred copy of the input."""
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; choose one of {', '.join(BASELINES)}")
    return torch.zeros_like(x) if baseline == "black" else _blurred(x)


def _integrated_gradients(model: nn.Module, x: torch.Tensor, target, steps: int, baseline: str,
                          times_input: bool = True, chunk: int | None = None) -> torch.Tensor:
    """captum's integrated gradients: (input - baseline) x the gradient averaged along the straight path
    from the baseline to the input; with times_input=False, that averaged gradient alone. chunk: path
    images per forward pass (captum's internal_batch_size)."""
    return IntegratedGradients(model, multiply_by_inputs=times_input).attribute(
        x, baselines=ig_baseline(x, baseline), target=target, n_steps=int(steps),
        internal_batch_size=chunk or max(int(steps), 1) * min(len(x), 8))


def path_gradient(model: nn.Module, inputs: torch.Tensor, target: int | torch.Tensor, *, steps: int = 32,
                  baseline: str = "black", chunk: int | None = None, **_other_options) -> torch.Tensor:
    """The gradient part of integrated gradients, (N, H, W): the gradient averaged along the path from
    the baseline, without IG's factor (input - baseline). With a black baseline that factor is the input
    itself, which shapes |IG| whatever the weights; this part is what the model contributes."""
    model.eval()
    device = next(model.parameters()).device
    x = inputs.detach().to(device).float().clone()
    target = target.to(device) if isinstance(target, torch.Tensor) else target
    with torch.enable_grad():
        gradient, _ = with_backoff(lambda size: _integrated_gradients(model, x, target, steps, baseline,
                                                                      times_input=False, chunk=size),
                                   chunk or max(int(steps), 1) * min(len(x), 8))
    return gradient.detach().float().sum(dim=1).cpu()


def ig_support(inputs: torch.Tensor, baseline: str = "black") -> torch.Tensor:
    """(N, H, W) bool: the pixels where the input differs from IG's baseline, the only ones an
    integrated-gradients map can colour (black baseline: the ink)."""
    x = inputs.detach().float().cpu()
    return (x - ig_baseline(x, baseline)).abs().sum(dim=1) > 0


def normalise(maps: torch.Tensor | np.ndarray, mode: str = "abs") -> np.ndarray:
    """Display values: 'positive' and 'abs' map to [0, 1], 'signed' to [-1, 1] (0 stays 0).
    Each map is scaled by its own maximum; an all-zero map stays zero."""
    m = np.asarray(maps, dtype=np.float32)
    if mode == "positive":
        m = np.clip(m, 0, None)
    elif mode == "abs":
        m = np.abs(m)
    elif mode != "signed":
        raise ValueError(f"unknown mode {mode!r}")
    scale = np.abs(m).reshape(m.shape[0], -1).max(axis=1) if m.ndim == 3 else np.abs(m).max()
    scale = np.where(scale > 0, scale, 1.0)
    return m / (scale.reshape(-1, 1, 1) if m.ndim == 3 else scale)


# ---- looking inside ------------------------------------------------------------------------------
@torch.no_grad()
def feature_maps(model: nn.Module, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
    """The activation maps of every conv layer for one input: {conv name: (channels, h, w)}."""
    captured, hooks = {}, []
    for name, module in conv_layers(model).items():
        hooks.append(module.register_forward_hook(
            lambda _m, _i, out, name=name: captured.__setitem__(name, out[0].detach().float().cpu())))
    try:
        model.eval()(inputs[:1].to(next(model.parameters()).device))
    finally:
        for h in hooks:
            h.remove()
    return captured


def silent_channels(fmap: torch.Tensor) -> int:
    """How many channels of one layer's maps (channels, h, w) are nowhere above zero: after a ReLU,
    channels this input does not switch on at all."""
    return int((fmap.reshape(fmap.shape[0], -1).max(1).values <= 0).sum())


def first_layer_kernels(model: nn.Module) -> torch.Tensor:
    """The learned kernels of the first conv layer, (out, in, k, k)."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise ValueError("this model has no convolution layers")
    return conv.weight.detach().float().cpu()


# ---- can the map be trusted? ---------------------------------------------------------------------
@dataclass
class RandomisationStep:
    layer: str            # the last layer re-initialised ("trained" for the original weights)
    maps: torch.Tensor    # (H, W)
    correlation: float    # Spearman rank correlation of |map| with the trained model's |map|
    ssim: float | None = None                  # SSIM of the map as drawn with the trained one (see map_ssim)
    gradient_correlation: float | None = None  # integrated gradients only: rank correlation of the path
    # gradient (the map without its input factor, see path_gradient) on the pixels the map can colour


def _parametrised_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    grouped = getattr(model, "randomisation_layers", None)  # a large model may group them (imagenet.py)
    if grouped is not None:
        return grouped()
    return [(name, m) for name, m in model.named_modules()
            if hasattr(m, "reset_parameters") and any(True for _ in m.parameters(recurse=False))]


def rank_correlation(a, b) -> float:
    a, b = np.abs(np.asarray(a, dtype=np.float64)).ravel(), np.abs(np.asarray(b, dtype=np.float64)).ravel()
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0  # a constant map carries no ranking
    return float(spearmanr(a, b).statistic)


def map_ssim(a, b, display: str = "abs") -> float:
    """Structural similarity (SSIM, scikit-image) of two maps as they are drawn: each scaled by
    normalise(display), so signs count for signed maps. Unlike the rank correlation of |map| it
    compares local structure and sign, not just which pixels are large: zeros that two maps share
    (the black background under input x gradient) do not make the strokes inside them agree.
    A 7x7 window (scikit-image's default), smaller for maps under 7 pixels a side."""
    a, b = normalise(np.stack([np.asarray(a), np.asarray(b)]), display).astype(np.float64)
    side = min(a.shape)
    window = min(7, side if side % 2 else side - 1)
    return float(structural_similarity(a, b, win_size=window, data_range=2.0 if display == "signed" else 1.0,
                                       use_sample_covariance=False))  # so a 1-pixel window stays defined


def randomisation_check(model: nn.Module, inputs: torch.Tensor, target: int, method: str, seed: int = 0,
                        **opts) -> list[RandomisationStep]:
    """Cascading model randomisation: re-initialise the layers from the output down, one more at a
    time, and compare each map with the trained one (rank correlation of |map| and SSIM; for
    integrated gradients also the rank correlation of its gradient part). A faithful method's map
    decorrelates; a map that survives random weights is explaining the input (an edge detector),
    not the model."""
    x = inputs[:1]
    with_gradient = method == "integrated-gradients"

    def maps_of(net: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None]:
        return (attribute(net, x, target, method, **opts)[0],
                path_gradient(net, x, target, **opts)[0] if with_gradient else None)

    trained, trained_gradient = maps_of(model)
    if with_gradient:  # compared where the map can be non-zero: the picture is input factor x this part
        support = ig_support(x, opts.get("baseline", "black"))[0]
        trained_gradient = trained_gradient[support]
    steps = [RandomisationStep("trained", trained, 1.0, 1.0, 1.0 if with_gradient else None)]
    randomised = copy.deepcopy(model)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        for name, module in reversed(_parametrised_layers(randomised)):
            for part in module.modules():  # one layer, or each layer of a group
                if hasattr(part, "reset_parameters") and any(True for _ in part.parameters(recurse=False)):
                    part.reset_parameters()
            maps, gradient = maps_of(randomised)
            steps.append(RandomisationStep(
                name, maps, rank_correlation(trained, maps), map_ssim(trained, maps, DISPLAY[method]),
                rank_correlation(trained_gradient, gradient[support]) if with_gradient else None))
    finally:
        torch.random.set_rng_state(generator_state)
    return steps


# A map passes the randomisation check when its rank correlation with the trained map, once every
# layer is re-initialised, is below this: it changed with the weights, so it depends on the model.
TRUSTED_BELOW = 0.5


@dataclass(frozen=True)
class TrustVerdict:
    passes: bool
    correlation: float    # with the trained map, after every layer was re-initialised
    reason: str           # one line for the reader


def trust_verdict(steps: list[RandomisationStep]) -> TrustVerdict:
    """The verdict of a randomisation check (the steps `randomisation_check` returned)."""
    final = steps[-1].correlation
    if final < TRUSTED_BELOW:
        return TrustVerdict(True, final, "changes with the weights: passes")
    return TrustVerdict(False, final, "barely changes with random weights: it shows the input more than the model")


# Below this probability of the explained class on the intact input there is little to delete:
# the curves start near zero whatever the map, so they do not tell maps apart.
INFORMATIVE_FROM = 0.5


@dataclass
class DeletionCurve:
    fractions: np.ndarray       # share of pixels removed, 0 .. 1
    salient: np.ndarray         # target probability, most salient pixels removed first
    random: np.ndarray          # the same, pixels removed in random order (mean of `repeats` orders)
    auc_salient: float          # area under each curve (lower = the map found what matters)
    auc_random: float

    @property
    def ratio(self) -> float | None:
        """Salient-first area over random area (below 1: the map beats chance); None if random is 0."""
        return self.auc_salient / self.auc_random if self.auc_random > 0 else None

    @property
    def informative(self) -> bool:
        """Whether the class was likely enough on the intact input for the curve to score the map."""
        return bool(self.salient[0] >= INFORMATIVE_FROM)


@torch.no_grad()
def deletion_curve(model: nn.Module, inputs: torch.Tensor, target: int, maps: torch.Tensor, steps: int = 20,
                   fill: float = 0.0, repeats: int = 3, seed: int = 0) -> DeletionCurve:
    """Remove pixels (set to `fill`, black for MNIST) in `steps` equal chunks, most salient first
    (by |map|), and record the target's probability; the same for random orders as the baseline."""
    x = inputs[:1].float()
    _, c, h, w = x.shape
    n = h * w
    counts = np.linspace(0, n, steps + 1).round().astype(int)

    def curve(order: torch.Tensor) -> np.ndarray:
        masks = torch.ones(len(counts), n)
        for i, k in enumerate(counts):
            masks[i, order[:k]] = 0.0
        masks = masks.view(-1, 1, h, w)
        batch = x * masks + fill * (1 - masks)
        return probabilities(model, batch)[:, target].numpy()

    salient = curve(torch.as_tensor(np.abs(np.asarray(maps, dtype=np.float32)).ravel()).argsort(descending=True))
    generator = torch.Generator().manual_seed(seed)
    random = np.mean([curve(torch.randperm(n, generator=generator)) for _ in range(repeats)], axis=0)
    fractions = counts / n
    return DeletionCurve(fractions, salient, random, float(np.trapezoid(salient, fractions)),
                         float(np.trapezoid(random, fractions)))
