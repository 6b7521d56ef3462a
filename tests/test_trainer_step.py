"""The one training step (engine.core.step.Stepper, driven by the Trainer): every family trains
in fp16 with a GradScaler (on the CPU), clipping bounds the gradient norm, accumulation equals a
larger batch, and the CPU trains in fp32."""
import dataclasses
import math

import pytest
import torch
from torch import nn

from engine.core import trainer
from engine.core.device import Precision, autocast, precision_for
from engine.core.registry import ParamError, validate
from engine.core.runs import RunStore
from engine.core.regularise import Regulariser
from engine.core.step import Phase, Stepper
from engine.core.trainer import TrainingJob
from engine.models.gan import DCGAN
from engine.objectives.gan import D, G, discriminator_loss, gan_optimizers, generator_loss

FP16_CPU = Precision("cpu", torch.float16, scaler_needed=True)


def test_the_cpu_trains_in_fp32_without_a_scaler():
    precision = precision_for(torch.device("cpu"))
    assert precision == Precision("cpu", torch.float32, scaler_needed=False)
    assert precision.name == "fp32" and precision.grad_scaler() is None
    with autocast(torch.device("cpu")):
        assert not torch.is_autocast_enabled("cpu")
    assert precision_for(torch.device("cpu"), "fp16") == FP16_CPU
    with pytest.raises(ValueError, match="unknown precision 'fp8'"):
        precision_for(torch.device("cpu"), "fp8")


class WatchedStepper(Stepper):
    """A Stepper that notes the autocast state each phase is computed in."""
    made: list["WatchedStepper"] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.autocast_seen = set()
        WatchedStepper.made.append(self)

    def step(self, phases):
        def watched():
            for phase in phases:  # computed inside the Stepper's autocast
                self.autocast_seen.add((torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu")))
                yield phase
        return super().step(watched())


@pytest.fixture
def watched(monkeypatch):
    WatchedStepper.made = []
    monkeypatch.setattr(trainer, "Stepper", WatchedStepper)
    return WatchedStepper.made


FAMILIES = [  # (model, dataset, settings, dataset options, training examples kept: None = all)
    ("cnn", "digits", {"channels": 8, "dense": 32, "epochs": 2, "lr": 3e-3}, {}, None),
    ("mlp", "circle", {"epochs": 3, "lr": 1e-2}, {"n_samples": 2000}, None),
    ("transformer", "reverse", {"d_model": 32, "heads": 2, "layers": 1, "d_ff": 64, "epochs": 2, "lr": 3e-3},
     {"n_samples": 1000}, None),
    ("recurrent", "count_ones", {"cell": "lstm", "hidden": 16, "epochs": 2, "lr": 1e-2}, {"n_samples": 2000}, None),
    ("vae", "digits", {"latent": 2, "hidden": 64, "epochs": 2, "batch_size": 32}, {}, None),
    # fp16 convolutions are ~50x slower than fp32 on a CPU without fp16 units: 12 steps, not 22.
    ("dcgan", "digits", {"latent": 8, "epochs": 1, "batch_size": 16}, {}, 192),
    # TF Playground's network with sin features and an L2 penalty; its regression set; the 2D GAN.
    ("playground", "spiral", {"sin_x1": True, "sin_x2": True, "regularization": "L2", "reg_rate": 1e-3,
                              "epochs": 3, "lr": 1e-2, "batch_size": 16}, {"n_samples": 1000}, None),
    ("playground", "plane", {"epochs": 3, "lr": 1e-2, "batch_size": 16}, {"n_samples": 1000}, None),
    ("gan2d", "ring", {"epochs": 1}, {"n_samples": 2000}, None),
]


@pytest.mark.parametrize("model, dataset, settings, options, keep", FAMILIES, ids=[f"{f[0]}-{f[1]}" for f in FAMILIES])
def test_every_family_trains_in_fp16_with_a_grad_scaler(model, dataset, settings, options, keep, tmp_path,
                                                        watched, one_thread, monkeypatch):
    if keep:
        load = trainer.load_dataset

        def first_examples(*args, **kwargs):
            data = load(*args, **kwargs)
            return dataclasses.replace(data, x_train=data.x_train[:keep], y_train=data.y_train[:keep])
        monkeypatch.setattr(trainer, "load_dataset", first_examples)
    store = RunStore(tmp_path / "runs")
    job = TrainingJob(validate(model, dataset, settings, options), store, device="cpu", precision=FP16_CPU)
    assert job.run() == "completed", store.get_run(job.run_id).message
    (stepper,) = watched
    assert stepper.autocast_seen == {(True, torch.float16)}
    assert all(isinstance(s, torch.amp.GradScaler) for s in stepper.scalers) and len(stepper.scalers) >= 1
    assert all(math.isfinite(s.get_scale()) and s.get_scale() > 0 for s in stepper.scalers)
    losses = store.metrics(job.run_id, ["loss"]).value.to_numpy()
    assert len(losses) > 10 and all(math.isfinite(v) for v in losses)
    if model not in ("dcgan", "gan2d"):  # a GAN's summed loss need not fall; it must stay finite
        first, last = losses[:5].mean(), losses[-5:].mean()
        assert last < first, f"{model}: loss went from {first:.4g} to {last:.4g}"


def test_clip_norm_bounds_the_gradient_norm_exactly():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    x, y = torch.randn(16, 4) * 100, torch.randn(16, 3)
    loss = nn.functional.mse_loss(model(x), y)
    raw = torch.autograd.grad(loss, list(model.parameters()), retain_graph=True)
    raw_norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in raw]))
    assert raw_norm > 10  # far above the bound: clipping has work to do
    Stepper([optimizer], clip_norm=0.25).step([Phase(0, loss)])
    grads = [p.grad for p in model.parameters()]
    norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    assert norm.item() == pytest.approx(0.25, rel=1e-5)
    for p, b, g, r in zip(model.parameters(), before, grads, raw):
        torch.testing.assert_close(g, r * (0.25 / raw_norm))  # same direction, shorter
        torch.testing.assert_close(p.detach(), b - 0.1 * g)


def test_the_trainer_clips_at_the_runs_clip_norm(tmp_path):
    # The per-layer gradient norms the Trainer records at each epoch's end are of the clipped gradients.
    store = RunStore(tmp_path / "runs")
    job = TrainingJob(validate("mlp", "circle", {"epochs": 2, "clip_norm": 1e-3}), store, device="cpu")
    assert job.run() == "completed"
    rows = store.metrics(job.run_id).query("epoch == 2")
    norms = rows[rows.name.str.startswith("grad_norm/")].value.to_numpy()
    assert len(norms) == 3  # the MLP's three Linear layers
    assert math.sqrt((norms ** 2).sum()) == pytest.approx(1e-3, rel=1e-4)


@pytest.mark.parametrize("model, dataset, settings, expected", [
    ("transformer", "reverse", {}, 1.0),          # the seq2seq family's own default
    ("transformer", "reverse", {"clip_norm": 5.0}, 5.0),
    ("recurrent", "count_ones", {}, 0.0),         # the counting demo shows unclipped gradients
    ("mlp", "circle", {"clip_norm": 2.0}, 2.0),
])
def test_the_clip_a_run_gets(model, dataset, settings, expected, tmp_path, watched, monkeypatch):
    # Stop before the first step: only the Stepper the Trainer builds is looked at.
    monkeypatch.setattr(TrainingJob, "_apply_commands", lambda self, force=False: True)
    job = TrainingJob(validate(model, dataset, {"epochs": 1, **settings}), RunStore(tmp_path / "runs"), device="cpu")
    assert job.run() == "stopped"
    (stepper,) = watched
    assert stepper.clip_norm == expected


def linear_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Linear(5, 2)


def test_accumulating_k_batches_is_one_update_of_a_k_times_larger_batch():
    torch.manual_seed(1)
    x, y = torch.randn(32, 5), torch.randn(32, 2)
    big, small = linear_model(), linear_model()
    Stepper([torch.optim.SGD(big.parameters(), lr=0.5)]).step(
        [Phase(0, nn.functional.mse_loss(big(x), y))])
    stepper = Stepper([torch.optim.SGD(small.parameters(), lr=0.5)], accumulate=4)
    start = [p.detach().clone() for p in small.parameters()]
    for k in range(4):
        xb, yb = x[8 * k:8 * (k + 1)], y[8 * k:8 * (k + 1)]
        stepper.step([Phase(0, nn.functional.mse_loss(small(xb), yb))])
        if k < 3:  # no update until the fourth batch
            assert all(torch.equal(p, s) for p, s in zip(small.parameters(), start))
    assert not torch.equal(small.weight, start[0])
    for p, q in zip(small.parameters(), big.parameters()):
        torch.testing.assert_close(p, q)


def test_the_trainer_accumulates_to_the_same_weights_as_a_larger_batch(tmp_path):
    # Batches of 32 taken two at a time are the batches of 64 the same seed draws: same examples,
    # same updates (plain SGD, no dropout or batchnorm). Without accumulation, batches of 32 differ.
    store = RunStore(tmp_path / "runs")
    settings = {"optimizer": "sgd", "lr": 0.1, "epochs": 2, "seed": 3}
    weights = {}
    for batch, accumulate in ((64, 1), (32, 2), (32, 1)):
        job = TrainingJob(validate("mlp", "circle", {**settings, "batch_size": batch, "accumulate": accumulate}),
                          store, device="cpu")
        assert job.run() == "completed"
        weights[batch, accumulate] = store.load_checkpoint(job.run_id, 2)
    large, accumulated, small = weights[64, 1], weights[32, 2], weights[32, 1]
    assert large.keys() == accumulated.keys()
    for name in large:
        torch.testing.assert_close(accumulated[name], large[name], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(small["net.1.weight"], large["net.1.weight"], rtol=1e-3, atol=1e-4)


def test_a_batch_times_accumulate_larger_than_the_data_is_refused():
    with pytest.raises(ParamError, match="batch size 512 x accumulate 4 is more than the 1437 training examples"):
        validate("mlp", "digits", {"batch_size": 512, "accumulate": 4})


def test_a_gan_generator_phase_leaves_the_discriminators_gradients_alone():
    torch.manual_seed(0)
    model = DCGAN((1, 8, 8), 10, latent=8)
    stepper = Stepper(gan_optimizers(model), accumulate=2)  # no step yet: the gradients stay to look at
    real = torch.rand(16, 1, 8, 8) * 2 - 1
    d = discriminator_loss(model, real, None)
    stepper.step([Phase(D, d["d_loss"], d)])
    d_grads = [p.grad.clone() for p in model.discriminator.parameters()]
    g = generator_loss(model, 16, None, torch.device("cpu"))
    stepper.step([Phase(G, g["g_loss"], g)])
    assert all(torch.equal(p.grad, before) for p, before in zip(model.discriminator.parameters(), d_grads))
    assert all(p.grad is not None for p in model.generator.parameters() if p.requires_grad)


CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@CUDA
@pytest.mark.parametrize("model, dataset, settings, options, keep", FAMILIES, ids=[f"{f[0]}-{f[1]}" for f in FAMILIES])
def test_the_step_makes_no_host_sync_on_cuda_in_bf16(model, dataset, settings, options, keep):
    # What the Trainer does per step on a GPU (phases -> Stepper, batches gathered on the device)
    # must never wait for the GPU: torch's sync debug mode turns any device->host sync into an error.
    from engine.core.registry import get_spec
    from engine.core.trainer import build_model
    from engine.data import load_dataset
    from engine.objectives import objective_for
    device = torch.device("cuda")
    config = validate(model, dataset, settings, options)
    data = load_dataset(dataset, options)
    net = build_model(config, data).to(device).train()
    objective = objective_for(get_spec(model), data.info.task)
    precision = precision_for(device)
    assert precision.name == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    optimizers = objective.optimizers(net, config.training)
    stepper = Stepper(optimizers, precision, clip_norm=objective.clip_norm or 1.0)
    regulariser = Regulariser.for_run(config.training, optimizers)  # L1/L2 as the Trainer adds it

    def phases(xb, yb):
        each = objective.phases(net, xb, yb)
        return regulariser.add(each) if regulariser else each
    x, y = data.x_train.to(device), data.y_train.to(device)
    order = torch.randperm(len(x), device=device)
    bs = config.training["batch_size"]
    stepper.step(phases(x[order[:bs]], y[order[:bs]]))  # warm-up: lazy inits may sync once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error" if precision.name == "bf16" else "default")  # fp16: the scaler checks infs
    try:
        for i in range(1, 6):
            idx = order[i * bs:(i + 1) * bs]
            stats = stepper.step(phases(x[idx], y[idx]))
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert stats["loss"].device.type == "cuda" and torch.isfinite(stats["loss"]).item()
    assert all(p.device.type == "cuda" for p in net.parameters())
