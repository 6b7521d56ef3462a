"""A small pre-activation ResNet (He et al. 2016, "Identity mappings"), sized for 8-32 px inputs."""
from __future__ import annotations

from torch import nn

from engine.core.registry import Capabilities, ModelSpec, Param, Shape, register


class PreActBlock(nn.Module):
    """BN -> ReLU -> 3x3 conv (stride s) -> BN -> ReLU -> 3x3 conv, plus the shortcut.

    The 1x1 shortcut (when stride or width change) takes the pre-activated input, as in the paper.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_ch)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.shortcut = None
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False)

    def forward(self, x):
        pre = self.relu1(self.bn1(x))
        identity = self.shortcut(pre) if self.shortcut is not None else x
        out = self.conv1(pre)
        out = self.conv2(self.relu2(self.bn2(out)))
        return out + identity


class GlobalAvgPool(nn.Module):
    """The mean over height and width: what nn.AdaptiveAvgPool2d(1) computes, but with a
    deterministic backward on CUDA (AdaptiveAvgPool2d's has none), so a ResNet can train with the
    `deterministic` setting. It has no weights: checkpoints of either load."""

    def forward(self, x):
        return x.mean((2, 3), keepdim=True)


class PreActResNet(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, width: int = 16, stages: int = 3,
                 blocks_per_stage: int = 1):
        super().__init__()
        # 3x3 stride-1 stem: the ImageNet 7x7/2 stem would throw away most of a 28 px image.
        self.stem = nn.Conv2d(in_channels, width, 3, padding=1, bias=False)
        layers, in_ch = [], width
        for stage in range(stages):
            out_ch = width * 2 ** stage
            for block in range(blocks_per_stage):
                stride = 2 if stage > 0 and block == 0 else 1
                layers.append(PreActBlock(in_ch, out_ch, stride))
                in_ch = out_ch
        self.stages = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.BatchNorm2d(in_ch), nn.ReLU(), GlobalAvgPool(), nn.Flatten(),
                                  nn.Linear(in_ch, num_classes))

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


def build(p: dict, shape: Shape) -> nn.Module:
    return PreActResNet(shape.input_shape[0], shape.num_classes, p["width"], p["stages"], p["blocks_per_stage"])


def check(p: dict, shape: Shape) -> list[str]:
    side = min(shape.input_shape[1:])
    if side // 2 ** (p["stages"] - 1) < 1:
        return [f"{p['stages']} stages halve a {side}x{side} image below one pixel: use fewer stages"]
    return []


SPEC = register(ModelSpec(
    name="resnet",
    title="Pre-activation ResNet (small)",
    description="Residual blocks BN-ReLU-conv x2 with identity shortcuts; widths double and the "
                "resolution halves at each stage (16/32/64 by default).",
    capabilities=Capabilities(inputs=("image",), conv_classifier=True),
    params=(
        Param("width", "int", 16, "channels of the first stage (doubled at each stage)", low=4, high=128, log=True),
        Param("stages", "int", 3, "stages; every stage after the first halves the resolution", low=1, high=4),
        Param("blocks_per_stage", "int", 1, "residual blocks per stage", low=1, high=4),
    ),
    build=build,
    check=check,
))
