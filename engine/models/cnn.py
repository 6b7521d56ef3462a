"""Plain CNN: conv blocks that halve the resolution, then a dense head.

Each block is either [conv -> (BN) -> ReLU -> (dropout)] x convs -> pool, or the "conv-pool block":
branch A = the conv stack -> max-pool, branch B = another conv stack -> avg-pool, branch C = a 1x1
projection of the block input to 3 maps -> avg-pool; concatenated into (k + k + 3) maps.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.models.layers import classifier_head
from engine.core.registry import Capabilities, ModelSpec, Param, Shape, register


def conv_stack(in_ch: int, out_ch: int, kernel: int, convs: int, batchnorm: bool, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(convs):
        layers.append(nn.Conv2d(in_ch if i == 0 else out_ch, out_ch, kernel, padding=kernel // 2,
                                bias=not batchnorm))
        if batchnorm:
            layers.append(nn.BatchNorm2d(out_ch))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


class ConvBlock(nn.Module):
    def __init__(self, in_ch, out_ch, kernel, convs, batchnorm, dropout, pooling):
        super().__init__()
        self.convs = conv_stack(in_ch, out_ch, kernel, convs, batchnorm, dropout)
        self.pool = {"max": nn.MaxPool2d(2), "avg": nn.AvgPool2d(2), "none": nn.Identity()}[pooling]
        self.out_channels = out_ch

    def forward(self, x):
        return self.pool(self.convs(x))


class ConvPoolBlock(nn.Module):
    def __init__(self, in_ch, out_ch, kernel, convs, batchnorm, dropout):
        super().__init__()
        self.branch_max = nn.Sequential(conv_stack(in_ch, out_ch, kernel, convs, batchnorm, dropout), nn.MaxPool2d(2))
        self.branch_avg = nn.Sequential(conv_stack(in_ch, out_ch, kernel, convs, batchnorm, dropout), nn.AvgPool2d(2))
        self.branch_input = nn.Sequential(nn.Conv2d(in_ch, 3, 1), nn.AvgPool2d(2))
        self.out_channels = 2 * out_ch + 3

    def forward(self, x):
        return torch.cat([self.branch_max(x), self.branch_avg(x), self.branch_input(x)], dim=1)


class CNN(nn.Module):
    def __init__(self, input_shape, num_classes, blocks=2, channels=32, kernel=3, convs_per_block=1,
                 pooling="max", conv_pool=False, batchnorm=False, dropout=0.0, dense=128):
        super().__init__()
        in_ch, height, width = input_shape
        features: list[nn.Module] = []
        for i in range(blocks):
            out_ch = channels * 2 ** i
            if conv_pool:
                block = ConvPoolBlock(in_ch, out_ch, kernel, convs_per_block, batchnorm, dropout)
            else:
                block = ConvBlock(in_ch, out_ch, kernel, convs_per_block, batchnorm, dropout, pooling)
            features.append(block)
            in_ch = block.out_channels
            if conv_pool or pooling != "none":
                height, width = height // 2, width // 2
        self.features = nn.Sequential(*features)
        self.classifier = classifier_head(in_ch * height * width, num_classes, dense, dropout)

    def forward(self, x):
        return self.classifier(self.features(x))


def build(p: dict, shape: Shape) -> nn.Module:
    return CNN(shape.input_shape, shape.num_classes, p["blocks"], p["channels"], p["kernel"],
               p["convs_per_block"], p["pooling"], p["conv_pool"], p["batchnorm"], p["dropout"], p["dense"])


def check(p: dict, shape: Shape) -> list[str]:
    problems = []
    if p["kernel"] % 2 == 0:
        problems.append(f"kernel size must be odd (3, 5, 7) so the maps keep their size; got {p['kernel']}")
    halvings = p["blocks"] if (p["conv_pool"] or p["pooling"] != "none") else 0
    side = min(shape.input_shape[1:])
    if side // 2 ** halvings < 1:
        most = max(i for i in range(0, 8) if side // 2 ** i >= 1)
        problems.append(f"{p['blocks']} pooling blocks shrink a {side}x{side} image below one pixel: "
                        f"use at most {most} blocks, or pooling 'none'")
    return problems


SPEC = register(ModelSpec(
    name="cnn",
    title="CNN (conv blocks + dense head)",
    description="Conv blocks (32 then 64 channels by default) with pooling, then a dense layer: the "
                "classic small MNIST network. Optionally the conv-pool block with parallel max/avg branches.",
    capabilities=Capabilities(inputs=("image",), conv_classifier=True),
    params=(
        Param("blocks", "int", 2, "conv blocks; each halves the resolution when pooling", low=1, high=5),
        Param("channels", "int", 32, "channels of the first block (doubled in each next block)", low=1, high=256, log=True),
        Param("kernel", "int", 3, "convolution kernel size (odd)", low=1, high=7),
        Param("convs_per_block", "int", 1, "convolutions in each block (or branch)", low=1, high=4),
        Param("pooling", "choice", "max", "pooling at the end of each block", choices=("max", "avg", "none")),
        Param("conv_pool", "bool", False, "use the conv-pool block: max-pool branch + avg-pool branch + "
              "1x1 projection of the input, concatenated", label="conv-pool block"),
        Param("batchnorm", "bool", False, "batch normalisation after each convolution", label="batch norm"),
        Param("dropout", "float", 0.0, "dropout after each convolution and the dense layer", low=0.0, high=0.9),
        Param("dense", "int", 128, "width of the dense layer before the output (0 = none)", low=0, high=2048),
    ),
    build=build,
    check=check,
))
