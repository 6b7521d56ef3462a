"""The model registry: every trainable model is declared once as a ModelSpec.

The training page, the CLI (`--set key=value`) and the tests all read the spec's Param schema, so a
new model shows up with its sliders everywhere without new UI code. Cross-parameter checks live in
the spec's `check` and come back as messages a person can act on. What a model can be used for
beyond training (the inspection pages, the CLI verbs) is declared on the spec as `Capabilities`,
never looked up by model name: `specs_with("conv_classifier")` is every model Saliency can open.

This module never imports the models: whoever needs every built-in model imports `engine.models`
(as timm does), which registers them here.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Callable

from torch import nn

from engine.core.params import Param, ParamError, resolve, unused
from engine.core.regularise import REGULARIZATIONS

__all__ = ["Param", "ParamError", "Capabilities", "ModelSpec", "TRAINING_PARAMS", "register", "get_spec",
           "unregister", "list_specs", "specs_with", "validate", "run_config"]


@dataclass(frozen=True)
class Shape:
    """What a model needs to know about its data to be built."""
    input_shape: tuple
    num_classes: int
    kind: str  # "image" | "points" | "sequence" | ...


@dataclass(frozen=True)
class Capabilities:
    """What a model takes and what can be looked at inside it, in the spirit of scikit-learn's
    estimator tags. Pages and CLI verbs ask these (`specs_with`), so a new model that declares
    them appears everywhere it can be used with no other edit."""
    inputs: tuple[str, ...]          # dataset kinds it trains on ("image", "points", "sequence", ...)
    conv_classifier: bool = False    # an image classifier built from conv layers: Saliency (Grad-CAM needs them)
    attention_maps: bool = False     # `generate_with_attention(src, steps)`: the Attention page's maps
    generator: bool = False          # `decode(z, labels)` and `latent`: the Latent space page
    encoder: bool = False            # `encode(x) -> (mean, log-variance)`: latent scatter, reconstructions
    hidden_states: bool = False      # a recurrent cell `unroll` can step by hand: the Recurrent view


# The objectives whose networks can learn a regression set instead (by name: see ModelSpec.objective).
REGRESSION_LEARNERS = ("classification", "regression")

# The capabilities a page or verb can ask for (every flag; `inputs` is what a model trains on).
CAPABILITIES = tuple(f.name for f in fields(Capabilities) if f.name != "inputs")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    description: str
    capabilities: Capabilities
    params: tuple[Param, ...]
    build: Callable[[dict, Shape], nn.Module]
    check: Callable[[dict, Shape], list[str]] = field(default=lambda values, shape: [])
    # How it learns: the name of an objective in engine.objectives (or an Objective itself, e.g. in a
    # test). By name, so a model module never imports the objectives (nor what they score with).
    objective: Any = "classification"

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    @property
    def data_kinds(self) -> tuple[str, ...]:
        """The dataset kinds it trains on (its capabilities' inputs)."""
        return self.capabilities.inputs

    def learns(self, task: str) -> bool:
        """Whether it can learn a dataset's task (DatasetInfo.task): every model its own; a
        "regression" only a classifier's network (its output layer then holds one unit and the
        regression objective replaces cross-entropy: engine.objectives.objective_for)."""
        return task != "regression" or self.objective in REGRESSION_LEARNERS

    def can(self, capability: str) -> bool:
        """Whether the model has this capability (a Capabilities flag, e.g. "generator")."""
        if capability not in CAPABILITIES:
            raise ValueError(f"unknown capability {capability!r}; known: {', '.join(CAPABILITIES)}")
        return getattr(self.capabilities, capability)


# Settings every run has, whatever the model. Learning rate and weight decay use log sliders.
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop")
# The optimisers that take a momentum (engine.core.optim): plain SGD and the adaptive ones ignore it.
WITH_MOMENTUM = ("momentum", "nesterov")
TRAINING_PARAMS: tuple[Param, ...] = (
    Param("optimizer", "choice", "adam", "SGD, SGD with momentum, Nesterov momentum, Adam, AdamW or RMSprop",
          choices=OPTIMIZERS),
    Param("lr", "float", 1e-3, "learning rate", low=1e-6, high=100.0, log=True, label="learning rate"),
    Param("momentum", "float", 0.9, "momentum for SGD+momentum and Nesterov", low=0.0, high=0.999,
          when={"optimizer": WITH_MOMENTUM}),
    Param("weight_decay", "float", 0.0, "L2 penalty (decoupled for AdamW); 0 turns it off",
          low=0.0, high=1.0, log=True),
    # TensorFlow Playground's regularisation (engine/core/regularise.py): a penalty in the loss,
    # on the weight matrices only; the curves keep the data loss, the penalty is train_reg_loss.
    Param("regularization", "choice", "none", "penalty on the weights added to the loss, as in TensorFlow "
          "Playground: L1 = rate x sum |w| (pushes weights to exactly 0), L2 = rate x sum w²/2 (shrinks "
          "them all); biases are not penalised", choices=REGULARIZATIONS),
    Param("reg_rate", "float", 0.001, "how strongly the penalty pulls the weights toward 0", low=0.0, high=10.0,
          log=True, label="regularization rate", when={"regularization": ("L1", "L2")}),
    Param("batch_size", "int", 64, "examples per step", low=1, high=8192, log=True),
    Param("epochs", "int", 5, "passes over the training set", low=1, high=1000),
    Param("seed", "int", 0, "seeds the initial weights and the order of the batches: same seed, same run "
          "(a generated dataset has a data seed of its own)", low=0, high=2**31 - 1, label="training seed"),
    Param("deterministic", "bool", False, "deterministic GPU kernels: same seed, same run on a GPU too "
          "(slower; the CPU is deterministic anyway)"),
    Param("clip_norm", "float", 0.0, "clip the gradient norm to this before each update; 0 = the "
          "model's default (off, but 1 for the seq2seq models)", low=0.0, high=100.0),
    Param("accumulate", "int", 1, "batches whose gradients add up to one optimiser update "
          "(a batch this many times larger, in the memory of one)", low=1, high=64),
    # Checkpoint retention (engine/core/retention.py): one checkpoint per epoch filled 12.9 GB in a
    # 1000-epoch run; these defaults keep 16 of its checkpoints.
    Param("keep_last", "int", 5, "checkpoints kept: those of the last this many epochs (older ones are "
          "deleted unless kept by the two settings below)", low=1, high=1000),
    Param("keep_every", "int", 100, "also keep epoch 1 and every n-th epoch (n, 2n, ...), to look back at "
          "how the model learned; 0 keeps none of those", low=0, high=1000),
    Param("keep_best", "bool", True, "also keep the epoch with the best validation score (accuracy, "
          "else the lowest validation loss)"),
)

_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    clash = {p.name for p in spec.params} & {p.name for p in TRAINING_PARAMS}
    if clash:
        raise ValueError(f"{spec.name} params clash with training params: {sorted(clash)}")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a model (tests that register one of their own put the registry back this way)."""
    _REGISTRY.pop(name, None)


def list_specs() -> list[ModelSpec]:
    """Every registered model (the built-in ones once `engine.models` is imported)."""
    return list(_REGISTRY.values())


def specs_with(capability: str) -> list[ModelSpec]:
    """The registered models that have `capability` (a Capabilities flag), in registration order."""
    return [spec for spec in _REGISTRY.values() if spec.can(capability)]


def get_spec(name: str) -> ModelSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ParamError(f"unknown model {name!r}; choose one of {', '.join(_REGISTRY)}") from None


@dataclass(frozen=True)
class RunConfig:
    """A validated run: the model's params and the training settings, all resolved."""
    model: str
    dataset: str
    model_params: dict[str, Any]
    training: dict[str, Any]
    dataset_options: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "dataset": self.dataset, **self.model_params, **self.training,
                "dataset_options": self.dataset_options}


def validate(model: str, dataset: str, values: dict[str, Any] | None = None,
             dataset_options: dict[str, Any] | None = None) -> RunConfig:
    """Check one run's settings; raise ParamError with every problem, each in plain words."""
    from engine.data import get_info

    spec = get_spec(model)
    info = get_info(dataset)
    values = dict(values or {})
    training_names = {p.name for p in TRAINING_PARAMS}
    model_values = {k: v for k, v in values.items() if k not in training_names}
    training = resolve(TRAINING_PARAMS, {k: v for k, v in values.items() if k in training_names})
    model_params = resolve(spec.params, model_values)
    options = resolve(info.params, dataset_options)

    problems = unused(TRAINING_PARAMS, values, training) + unused(spec.params, model_values, model_params) \
        + unused(info.params, dataset_options or {}, options)
    if not info.available:
        problems.append(f"dataset {dataset!r} is not installed here: {info.hint}")
    if info.kind not in spec.data_kinds:
        problems.append(f"{spec.title} trains on {' or '.join(spec.data_kinds)} data; "
                        f"{info.title} is {info.kind} data: pick another model or dataset")
    elif not spec.learns(info.task):
        problems.append(f"{spec.title} cannot learn a {info.task} set like {info.title}: pick a network that "
                        f"regresses (e.g. the MLP or the TF Playground network) or a classification set")
    else:
        shape = Shape(tuple(info.input_shape), len(info.classes), info.kind)
        problems += spec.check(model_params, shape)
    train_size = _train_size(info, options)
    if train_size is not None and training["batch_size"] > train_size:
        problems.append(f"batch size {training['batch_size']} is larger than the {train_size} training "
                        f"examples of {dataset}: use at most {train_size}")
    elif train_size is not None and training["batch_size"] * training["accumulate"] > train_size:
        problems.append(f"batch size {training['batch_size']} x accumulate {training['accumulate']} is more than "
                        f"the {train_size} training examples of {dataset}: no update would ever happen")
    if problems:
        raise ParamError("; ".join(problems))
    return RunConfig(model, dataset, model_params, training, options)


def _train_size(info, options) -> int | None:
    from engine.data import train_size
    return train_size(info.name, options)


def run_config(params: dict[str, Any]) -> RunConfig:
    """A stored run's config, rebuilt from the plain values stored with it.

    Not validated again: the values were valid when the run was made, and a slider range narrowed
    since must never make an old run unopenable. A setting added since takes its default; one
    removed since (and the stored "device") is dropped."""
    from engine.data import get_info

    stored = dict(params)
    model, dataset = stored.pop("model"), stored.pop("dataset")
    options = stored.pop("dataset_options", None) or {}

    def pick(schema, values):
        return {p.name: values.get(p.name, p.default) for p in schema}

    return RunConfig(model, dataset, pick(get_spec(model).params, stored), pick(TRAINING_PARAMS, stored),
                     pick(get_info(dataset).params, options))
