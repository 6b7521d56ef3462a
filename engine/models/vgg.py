"""VGG (Simonyan & Zisserman 2014), configuration E (VGG-19), scaled for 32-64 px images.

VGG-19 is five blocks of 3x3 convolutions, 2, 2, 4, 4 and 4 of them, each block ending in a 2x2
max-pool, with 64, 128, 256, 512, 512 channels; then three dense layers. Here the first block's
channels are a slider (doubled per block and, as in VGG, not past 8x), the number of blocks is the
depth slider (the first `blocks` of the five: 5 takes a 32 px image down to 1x1, as VGG on
CIFAR-10 does), BatchNorm after each convolution is optional (the later "VGG-19 BN"), and the head
is two dense layers of `dense` units instead of 4096.
"""
from __future__ import annotations

from torch import nn

from engine.core.registry import Capabilities, ModelSpec, Param, Shape, register
from engine.models.cnn import conv_stack
from engine.models.layers import classifier_head

VGG19_CONVS = (2, 2, 4, 4, 4)
MAX_WIDTH_FACTOR = 8  # 64 -> 512 channels in VGG, and no wider


class VGG(nn.Module):
    def __init__(self, input_shape, num_classes: int, blocks: int = 5, channels: int = 16, batchnorm: bool = True,
                 dense: int = 128, dropout: float = 0.0):
        super().__init__()
        in_ch, height, width = input_shape
        features: list[nn.Module] = []
        for i, convs in enumerate(VGG19_CONVS[:blocks]):
            out_ch = channels * min(2 ** i, MAX_WIDTH_FACTOR)
            features.append(nn.Sequential(conv_stack(in_ch, out_ch, 3, convs, batchnorm, 0.0), nn.MaxPool2d(2)))
            in_ch, height, width = out_ch, height // 2, width // 2
        self.features = nn.Sequential(*features)
        self.classifier = classifier_head(in_ch * height * width, num_classes, dense, dropout, hidden=2)  # VGG's two

    def forward(self, x):
        return self.classifier(self.features(x))


def build(p: dict, shape: Shape) -> nn.Module:
    return VGG(shape.input_shape, shape.num_classes, p["blocks"], p["channels"], p["batchnorm"], p["dense"],
               p["dropout"])


def check(p: dict, shape: Shape) -> list[str]:
    side = min(shape.input_shape[1:])
    if side // 2 ** p["blocks"] < 1:
        most = max(i for i in range(0, 6) if side // 2 ** i >= 1)
        return [f"{p['blocks']} VGG blocks halve a {side}x{side} image below one pixel: use at most {most} blocks"]
    return []


SPEC = register(ModelSpec(
    name="vgg",
    title="VGG (VGG-19 layout, scaled down)",
    description="VGG-19's five blocks of 2, 2, 4, 4, 4 3x3 convolutions, each ending in a max-pool, widths "
                "doubling per block (16 to 128 by default), then two dense layers: the classic deep plain CNN, "
                "sized for 32-64 px colour images.",
    capabilities=Capabilities(inputs=("image",), conv_classifier=True),
    params=(
        Param("blocks", "int", 5, "conv blocks of VGG-19's 2, 2, 4, 4, 4 (each halves the resolution): "
              "the depth", low=1, high=5),
        Param("channels", "int", 16, "channels of the first block (doubled per block, at most 8x)",
              low=4, high=64, log=True),
        Param("batchnorm", "bool", True, "batch normalisation after each convolution (VGG-19 BN); "
              "without it a deep VGG trains slowly", label="batch norm"),
        Param("dense", "int", 128, "width of the two dense layers before the output (0 = none)", low=0, high=1024),
        Param("dropout", "float", 0.0, "dropout after each dense layer (VGG used 0.5)", low=0.0, high=0.9),
    ),
    build=build,
    check=check,
))
