"""Transfer learning: the pretrained ImageNet EfficientNet-Lite0 as a backbone, a new linear head.

Two modes, as in Keras' transfer-learning guide:
- "frozen" (feature extraction): the backbone never changes, so its 1280 pooled features of every
  image are computed once, before the first epoch, and cached by content hash in the data dir
  (engine/models/feature_cache.py); the head then trains on those vectors in seconds. The Trainer
  asks the model for its `training_data` (the cached features) and the forward takes either images
  or feature vectors (2-D input: the head alone). Augmentation then means a few augmented copies of
  each training image, their features cached with the rest (`aug_copies`).
- "finetune": the last k of the backbone's 16 MBConv blocks and its final 1x1 conv train too, at
  the run's learning rate; the images go through the backbone every step, augmented on the fly
  (engine/data/augment.py, like Keras' preprocessing layers: active in training mode only).
The backbone's BatchNorm layers stay in inference mode in both (Keras' advice for fine-tuning on
small sets: the pretrained statistics are better than those of a few small batches).

Any image set trains it: grey images are repeated to three channels and every image is resized to
224 x 224 and normalised as the backbone was trained ((x * 255 - 127) / 128 on [0, 1] input).
A checkpoint holds the whole network, so a run opens like any other (the Saliency page included).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from engine.core.registry import Capabilities, ModelSpec, Param, Shape, register
from engine.data.augment import augment
from engine.models import imagenet

FEATURES = 1280  # EfficientNet-Lite0's pooled features
MODES = ("frozen", "finetune")


class TransferNet(nn.Module):
    def __init__(self, num_classes: int, mode: str = "frozen", tuned_blocks: int = 2, dropout: float = 0.2,
                 flips: bool = True, crops: bool = False, jitter: bool = False, aug_copies: int = 2):
        super().__init__()
        self.backbone = imagenet.load_efficientnet_lite0()
        self.backbone._fc = nn.Identity()  # ImageNet's 1000-way classifier is replaced by the head below
        self.maps = nn.Identity()  # the backbone's last rectified maps (1280 x 7 x 7): Grad-CAM's default layer
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(FEATURES, num_classes))
        self.mode, self.flips, self.crops, self.jitter = mode, flips, crops, jitter
        self.aug_copies = aug_copies if (flips or crops or jitter) else 0
        self.backbone.requires_grad_(False)
        if mode == "finetune":
            blocks = self.backbone._blocks
            for module in (*blocks[len(blocks) - tuned_blocks:], self.backbone._conv_head, self.backbone._bn1):
                module.requires_grad_(True)
        self.backbone.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.eval()  # BatchNorm in inference mode, no drop-connect: see the module's docstring
        return self

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """[0, 1] images of any size, grey or RGB, as the backbone's normalised 3 x 224 x 224 input."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        if tuple(x.shape[2:]) != (imagenet.IMAGE_SIZE, imagenet.IMAGE_SIZE):
            x = F.interpolate(x, size=(imagenet.IMAGE_SIZE, imagenet.IMAGE_SIZE), mode="bilinear",
                              align_corners=False)
        return (x * 255.0 - imagenet.MEAN) / imagenet.SCALE

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's pooled features (N, 1280) of [0, 1] images."""
        return self.maps(self.backbone.extract_features(self.prepare(x))).mean(dim=(2, 3))

    def saliency_layers(self) -> dict[str, nn.Module]:
        """Grad-CAM's layers (engine.saliency.maps.conv_layers): the package's convs carry a padding child
        and share one ReLU6 module, so the generic conv finder finds none. Each of the backbone's seven
        stages' outputs, then its last maps ("head", the default: the last of these)."""
        layers = {f"stage {i + 1}": self.backbone._blocks[end] for i, end in enumerate(imagenet.STAGE_ENDS)}
        return layers | {"head": self.maps}

    def randomisation_layers(self) -> list[tuple[str, nn.Module]]:
        """The weights grouped in forward order (stem, stages, head conv, the new classifier), for the
        Saliency page's cascading randomisation check."""
        net, groups, start = self.backbone, [("stem", nn.ModuleList([self.backbone._conv_stem, self.backbone._bn0]))], 0
        for i, end in enumerate(imagenet.STAGE_ENDS):
            groups.append((f"stage {i + 1}", nn.ModuleList(net._blocks[start:end + 1])))
            start = end + 1
        return groups + [("head", nn.ModuleList([net._conv_head, net._bn1])), ("classifier", self.head)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:  # cached features (frozen mode): the head alone
            return self.head(x)
        if self.training and self.mode == "finetune":
            x = augment(x, self.flips, self.crops, self.jitter)
        return self.head(self.features(x))

    def training_data(self, data, device: torch.device, data_dir=None):
        """What the Trainer trains on: the frozen backbone's cached features, or the images themselves."""
        if self.mode != "frozen":
            return data
        from engine.models.feature_cache import feature_dataset
        return feature_dataset(self, data, device, data_dir)


def build(p: dict, shape: Shape) -> nn.Module:
    return TransferNet(shape.num_classes, p["mode"], p["tuned_blocks"], p["dropout"], p["flip"], p["crop"],
                       p["jitter"], p["aug_copies"])


def check(p: dict, shape: Shape) -> list[str]:
    channels = shape.input_shape[0]
    if channels not in (1, 3):
        return [f"the ImageNet backbone takes RGB (or grey) images; this data has {channels} channels"]
    return []


SPEC = register(ModelSpec(
    name="transfer",
    title="Transfer learning (pretrained EfficientNet-Lite0)",
    description="The ImageNet-trained EfficientNet-Lite0 as a feature extractor with a new linear head: "
                "frozen (features computed once and cached, the head trains in seconds) or fine-tuning its "
                "last blocks. Meant for your own photos (a zip with one folder per class).",
    capabilities=Capabilities(inputs=("image",), conv_classifier=True),
    params=(
        Param("mode", "choice", "frozen", "frozen: the backbone's features are computed once and cached, only "
              "the head learns (seconds); finetune: the last blocks learn too (every step runs the backbone)",
              choices=MODES, label="backbone"),
        Param("tuned_blocks", "int", 2, "how many of the backbone's 16 blocks (the last ones, with its final "
              "1x1 conv) learn", low=0, high=16, when={"mode": ("finetune",)}, label="blocks fine-tuned"),
        Param("dropout", "float", 0.2, "dropout before the new head", low=0.0, high=0.9),
        Param("flip", "bool", True, "augmentation: mirror half the training images left to right"),
        Param("crop", "bool", False, "augmentation: a random 60-100 % crop of each training image, resized back"),
        Param("jitter", "bool", False, "augmentation: random brightness, contrast and saturation (x 0.7-1.3)",
              label="colour jitter"),
        Param("aug_copies", "int", 2, "frozen backbone: augmented copies of each training image whose features "
              "are cached with the originals (an epoch then sees each image this many times more)",
              low=0, high=8, when={"mode": ("frozen",)}, label="augmented copies"),
    ),
    build=build,
    check=check,
))
