"""Registry, param schema and validation messages."""
import pytest
import torch
from torch import nn

from engine.core.params import Param, ParamError, resolve
import engine.models  # noqa: F401  (registers the built-in models)
from engine.core.registry import TRAINING_PARAMS, Shape, get_spec, list_specs, validate


def test_builtin_models_registered():
    assert {s.name for s in list_specs()} >= {"mlp", "cnn", "resnet"}


def test_param_coercion_from_cli_strings():
    lr = Param("lr", "float", 1e-3, low=1e-6, high=10, log=True)
    assert lr.coerce("0.01") == 0.01
    depth = Param("depth", "int", 2, low=0, high=16)
    assert depth.coerce("3") == 3 and depth.coerce(4.0) == 4
    bn = Param("batchnorm", "bool", False)
    assert bn.coerce("yes") is True and bn.coerce("false") is False
    act = Param("activation", "choice", "relu", choices=("relu", "tanh"))
    assert act.coerce("TANH") == "tanh"


@pytest.mark.parametrize("param, value, words", [
    (Param("lr", "float", 1e-3, low=1e-6, high=10), "20", "lr must be between 1e-06 and 10; got 20"),
    (Param("depth", "int", 2, low=0, high=16), "2.5", "depth must be a whole number"),
    (Param("depth", "int", 2, low=0, high=16), "abc", "depth must be a whole number, not 'abc'"),
    (Param("lr", "float", 1e-3), "nan", "lr must be a finite number"),
    (Param("act", "choice", "relu", choices=("relu", "tanh")), "gelu", "act must be one of relu, tanh; got 'gelu'"),
    (Param("bn", "bool", False), "maybe", "bn must be true or false"),
])
def test_param_errors_are_human(param, value, words):
    with pytest.raises(ParamError, match=None) as err:
        param.coerce(value)
    assert words in str(err.value)


def test_resolve_rejects_unknown_keys():
    with pytest.raises(ParamError, match="unknown setting"):
        resolve(TRAINING_PARAMS, {"learning_rate": 1})


def test_validate_fills_defaults():
    cfg = validate("mlp", "spiral", {"lr": "0.03", "depth": "3"})
    assert cfg.training["lr"] == 0.03 and cfg.model_params["depth"] == 3
    assert cfg.model_params["width"] == get_spec("mlp").param("width").default
    assert cfg.dataset_options["noise"] == pytest.approx(0.1)


def test_validate_messages():
    with pytest.raises(ParamError, match="trains on image data; Spiral .* is points data: pick another model or dataset"):
        validate("cnn", "spiral")
    with pytest.raises(ParamError, match="4 pooling blocks shrink a 8x8 image below one pixel: use at most 3 blocks"):
        validate("cnn", "digits", {"blocks": 4})
    with pytest.raises(ParamError, match="kernel size must be odd"):
        validate("cnn", "mnist", {"kernel": 4})
    with pytest.raises(ParamError, match="batch size 4096 is larger than the 1437 training examples of digits"):
        validate("mlp", "digits", {"batch_size": 4096})
    with pytest.raises(ParamError, match="unknown model 'gpt'"):
        validate("gpt", "mnist")
    with pytest.raises(ParamError, match="optimizer must be one of"):
        validate("mlp", "mnist", {"optimizer": "lbfgs"})


@pytest.mark.parametrize("name", ["mlp", "cnn", "resnet"])
@pytest.mark.parametrize("shape", [Shape((1, 28, 28), 10, "image"), Shape((1, 8, 8), 10, "image")])
def test_models_build_and_use_relu_modules(name, shape):
    spec = get_spec(name)
    values = {p.name: p.default for p in spec.params}
    if name == "mlp":
        values["batchnorm"], values["dropout"] = True, 0.2
    model = spec.build(values, shape)
    out = model(torch.randn(3, *shape.input_shape))
    assert out.shape == (3, 10)
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert relus, "models must use nn.ReLU modules (captum guided backprop rewires only those)"
    assert len({id(m) for m in relus}) == len(relus)


def test_conv_pool_block_concatenates_branches():
    spec = get_spec("cnn")
    values = {p.name: p.default for p in spec.params} | {"conv_pool": True, "blocks": 1, "channels": 8}
    model = spec.build(values, Shape((1, 28, 28), 10, "image"))
    block = model.features[0]
    assert block.out_channels == 8 + 8 + 3
    assert block(torch.randn(2, 1, 28, 28)).shape == (2, 19, 14, 14)
    assert isinstance(block.branch_max[-1], nn.MaxPool2d) and isinstance(block.branch_avg[-1], nn.AvgPool2d)


def test_preact_resnet_shortcut_on_stride():
    spec = get_spec("resnet")
    values = {p.name: p.default for p in spec.params}
    model = spec.build(values, Shape((1, 28, 28), 10, "image"))
    blocks = list(model.stages)
    assert blocks[0].shortcut is None  # same width, stride 1: identity
    assert blocks[1].shortcut is not None and blocks[1].conv1.stride == (2, 2)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "elu", "selu", "tanh", "sigmoid"])
@pytest.mark.parametrize("init", ["default", "xavier", "he"])
def test_mlp_activations_and_inits(activation, init):
    spec = get_spec("mlp")
    values = {p.name: p.default for p in spec.params} | {"activation": activation, "init": init}
    model = spec.build(values, Shape((2,), 2, "points"))
    assert model(torch.randn(5, 2)).shape == (5, 2)
    if init != "default":
        assert all(torch.all(m.bias == 0) for m in model.modules() if isinstance(m, nn.Linear))


def test_log_ladder_of_a_float_and_an_int_param():
    from engine.core.params import Param, log_ladder
    lr = Param("lr", "float", 3e-4, low=1e-4, high=1e-2, log=True)
    assert log_ladder(lr) == [1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2]
    decay = Param("wd", "float", 0.0, low=0.0, high=1e-5, log=True)
    assert log_ladder(decay)[:2] == [0.0, 1e-6] and log_ladder(decay)[-1] == 1e-5
    batch = Param("batch", "int", 48, low=8, high=100, log=True)
    assert log_ladder(batch) == [8, 16, 32, 48, 64]


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"])
def test_momentum_applies_exactly_where_the_optimiser_uses_it(optimizer):
    """Input: each optimiser built with momentum 0.5. The schema's `when` must say what
    engine.core.optim does: the page hides momentum where the optimiser would ignore it."""
    from engine.core.optim import make_optimizer
    momentum = next(p for p in TRAINING_PARAMS if p.name == "momentum")
    built = make_optimizer(optimizer, [nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.5)
    uses_it = built.param_groups[0].get("momentum") == 0.5
    assert momentum.applies({"optimizer": optimizer}) is uses_it


def test_a_setting_the_others_leave_unused_is_refused_with_what_to_change():
    """Input: --set momentum=0.5 with Adam (refused), with Nesterov (kept); Adam alone keeps the default."""
    with pytest.raises(ParamError) as err:
        validate("mlp", "spiral", {"optimizer": "adam", "momentum": "0.5"})
    assert str(err.value) == ("momentum is used only when optimizer is momentum or nesterov (here optimizer is adam): "
                              "leave it out, or change optimizer")
    assert validate("mlp", "spiral", {"optimizer": "nesterov", "momentum": "0.5"}).training["momentum"] == 0.5
    assert validate("mlp", "spiral", {"optimizer": "adam"}).training["momentum"] == 0.9


def test_a_param_s_condition_is_kept_hashable_and_unknown_settings_do_not_hide_it():
    """Input: a Param with when={"optimizer": ["momentum"]} (a dict of lists)."""
    param = Param("momentum", "float", 0.9, low=0, high=1, when={"optimizer": ["momentum"]})
    assert param.when == (("optimizer", ("momentum",)),) and hash(param)
    assert param.applies({}) and param.applies({"optimizer": "momentum"}) and not param.applies({"optimizer": "sgd"})
    assert param.needs() == "optimizer is momentum"


def test_no_two_settings_shown_together_share_a_label():
    """Input: every model with every dataset it trains on. The training seed and a generated
    dataset's seed were both labelled "seed" (on the Attention page's form side by side)."""
    from engine.data import list_datasets
    for spec in list_specs():
        for info in list_datasets(include_unavailable=True):
            if info.kind not in spec.data_kinds:
                continue
            titles = [p.title for p in (*spec.params, *TRAINING_PARAMS, *info.params)]
            assert len(titles) == len(set(titles)), (spec.name, info.name, sorted(titles))
