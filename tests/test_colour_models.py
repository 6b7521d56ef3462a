"""Colour image classifiers: VGG's layout and sizes, and the CNN, ResNet and VGG on the colour shapes."""
import pytest
import torch
from torch import nn

import engine.models  # noqa: F401  (registers the models)
from engine.core.params import ParamError
from engine.core.registry import Shape, get_spec, validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob, build_model
from engine.data import load_dataset
from engine.models.vgg import VGG


def convs_per_block(model: VGG) -> list[int]:
    return [sum(isinstance(m, nn.Conv2d) for m in block.modules()) for block in model.features]


def test_vgg_has_vgg19s_blocks_and_widths():
    model = VGG((3, 32, 32), 10, blocks=5, channels=8)
    assert convs_per_block(model) == [2, 2, 4, 4, 4]
    widths = [[m.out_channels for m in block.modules() if isinstance(m, nn.Conv2d)][-1] for block in model.features]
    assert widths == [8, 16, 32, 64, 64]  # doubled per block, at most 8x (VGG's 64 -> 512)
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 5
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 16
    assert not any(isinstance(m, nn.BatchNorm2d) for m in VGG((3, 32, 32), 10, batchnorm=False).modules())
    linear = [m for m in model.classifier if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(64, 128), (128, 128), (128, 10)]


@pytest.mark.parametrize("side,blocks", [(32, 5), (64, 5), (64, 3), (16, 2)])
def test_vgg_outputs_one_score_per_class(side, blocks):
    model = VGG((3, side, side), 10, blocks=blocks, channels=4, dense=0).eval()
    assert convs_per_block(model) == [2, 2, 4, 4, 4][:blocks]
    assert model(torch.rand(2, 3, side, side)).shape == (2, 10)


def test_vgg_refuses_blocks_that_shrink_the_image_below_a_pixel():
    with pytest.raises(ParamError, match="5 VGG blocks halve a 8x8 image below one pixel: use at most 3 blocks"):
        validate("vgg", "digits", {})
    validate("vgg", "digits", {"blocks": 3})


@pytest.mark.parametrize("model,values", [("cnn", {"channels": 4, "dense": 8}), ("resnet", {"width": 4}),
                                          ("vgg", {"channels": 4, "dense": 8})])
def test_classifiers_take_the_datasets_colour_channels_and_size(model, values):
    config = validate(model, "shapes", values, {"size": 64, "n_train": 100, "n_val": 100})
    data = load_dataset("shapes", config.dataset_options)
    net = build_model(config, data)
    first = next(m for m in net.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 3
    assert net.eval()(data.x_val[:2]).shape == (2, 10)
    assert get_spec(model).capabilities.conv_classifier


def test_vgg_trains_on_shapes_through_the_trainer(tmp_path):
    store = RunStore(tmp_path / "runs")
    config = validate("vgg", "shapes", {"epochs": 1, "channels": 4, "blocks": 3, "dense": 16, "batch_size": 50},
                      {"n_train": 200, "n_val": 100})
    job = TrainingJob(config, store, device="cpu")
    assert job.run() == "completed"
    assert store.checkpoint_epochs(job.run_id) == [1]
    assert 0.0 <= store.get_run(job.run_id).final["val_acc"] <= 1.0


def test_vgg_shape_check_uses_the_spec():
    spec = get_spec("vgg")
    assert spec.check({"blocks": 4}, Shape((3, 16, 16), 10, "image")) == []
    assert "use at most 4 blocks" in spec.check({"blocks": 5}, Shape((3, 16, 16), 10, "image"))[0]
