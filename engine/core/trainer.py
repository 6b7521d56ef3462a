"""The Trainer: trains one validated run, writing everything to the RunStore as it happens.

Every family steps through engine.core.step.Stepper, the one place where zero_grad, backward,
gradient clipping (`clip_norm`), gradient accumulation (`accumulate`) and the optimiser step happen,
in the precision the device trains in (engine.core.device.precision_for: bf16, or fp16 with a
GradScaler, on CUDA; fp32 on the CPU). Per step it records the loss; per epoch the train/val loss
and accuracy, samples/s, the gradient norm of every layer (the vanishing-gradient view), the
arrays a page would otherwise recompute (validation predictions, the decision grid), then a
checkpoint. Step losses are kept in a small on-device buffer and copied to the host in one
transfer every `flush_every` steps or `flush_seconds`, so the step loop has no host syncs on a GPU
(a GradScaler's inf check aside); divergence (nan/inf, or a loss 10,000x its first value) is found
at that flush, and the message names the exact step. After each epoch's checkpoint, the run's
retention policy (engine/core/retention.py) deletes the checkpoints it does not keep.

The objective comes from the model's spec and the dataset's task (a classifier's network on a
regression set learns with the regression objective: engine.objectives.objective_for). With the
run's `regularization` L1 or L2, the penalty on the weights is added to each phase's loss
(engine/core/regularise.py); "loss" stays the data loss and the penalty is the stat "reg_loss".

A TrainingJob is an engine.core.jobs.EpochJob: `start()` trains in a child process (what every page does),
`run()` in the calling one (the CLI). Stop, pause, resume and step arrive as store commands.
"""
from __future__ import annotations

import functools
import math
import time
from typing import Callable

import numpy as np
import torch
from torch import nn

import engine.models  # noqa: F401  (a run may be of any built-in model: the child process registers them too)
from engine.data import Dataset, load_dataset
from engine.core.distributed import SYNC_EVERY, Group, Replicated, lost_peer, sync_batchnorm
from engine.core.device import Precision, default_device, pick_device, precision_for, seed_everything, \
    set_deterministic
from engine.core.jobs import STOPPED_BY_USER, EpochJob, Progress
from engine.core.registry import RunConfig, Shape, get_spec
from engine.core.regularise import Regulariser
from engine.core.modules import eval_mode
from engine.core.retention import prune
from engine.core.runs import RunStore
from engine.core.step import Stepper
from engine.objectives import objective_for

# A loss this many times its first value has diverged even while still finite: with ReLUs a huge
# learning rate kills the units and parks the loss near 1e17 instead of reaching inf.
EXPLOSION_FACTOR = 1e4
# The live frame (Objective.live_frame: the 2D boundary, each neuron's map) is drawn at most every
# FRAME_SECONDS, and never takes more than FRAME_SHARE of the training time: a frame that took
# 10 ms waits at least 10 ms / FRAME_SHARE for the next one. A page polls the newest frame.
FRAME_SECONDS = 0.2
FRAME_SHARE = 0.05


def build_model(config: RunConfig, dataset: Dataset) -> nn.Module:
    info = dataset.info
    shape = Shape(tuple(info.input_shape), len(info.classes), info.kind)
    return get_spec(config.model).build(config.model_params, shape)


def layer_grad_norms(model: nn.Module) -> dict[str, torch.Tensor]:
    """L2 norm of the gradients of each module that owns parameters (still on the device)."""
    norms = {}
    for name, module in model.named_modules():
        grads = [p.grad for p in module.parameters(recurse=False) if p.grad is not None]
        if grads:
            norms[name or "model"] = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    return norms


class TrainingJob(EpochJob):
    """One run of a registered model. `start()` trains it in a child process, `run()` here."""

    def __init__(self, config: RunConfig, store: RunStore | None, device: str | torch.device | None = None,
                 data_dir=None, flush_every: int = 64, flush_seconds: float = 0.5,
                 checkpoints: bool = True, on_epoch: Callable[[Progress], None] | None = None,
                 pause_after_epoch: int | None = None, precision: Precision | None = None,
                 group: Group | None = None, sync_bn: bool = True, sweep_id: int | None = None):
        self.config = config
        # A rank of a run over several processes (engine/core/distributed.py; None: one process).
        self.group = group  # the leader has the store; the other ranks get None: they never open it
        self.sync_bn = sync_bn
        self.device = device if isinstance(device, torch.device) else \
            default_device() if device is None else pick_device(device)
        self.precision = precision  # None: the device's own (chosen in the process that trains)
        self.data_dir = data_dir
        self.flush_every = flush_every
        self.flush_seconds = flush_seconds
        self.checkpoints = checkpoints
        self.on_epoch = on_epoch  # called after each epoch, in the process that trains
        params = {**config.as_dict(), "device": str(self.device)}
        if group is not None:
            # sync_bn as it applies: SyncBatchNorm runs on GPUs only (engine/core/distributed.py)
            params |= {"world_size": group.world, "sync_bn": sync_bn and self.device.type == "cuda"}
        leader = group is None or group.leader  # only the leader has a run (the others record nothing)
        # A sweep's trial is tagged with its sweep.
        run_id = store.create_run(config.model, config.dataset, params, sweep_id=sweep_id) if leader else None
        super().__init__(store, run_id, config.training["epochs"], pause_after_epoch)
        self._first_loss: float | None = None
        self._last_rate_point: tuple[float, int] | None = None  # (time, step) of the last ETA update
        self._step_rate: float | None = None
        self._bad_loss = math.nan
        self._relative_divergence = True  # the objective's: a finite loss 10,000x its first value diverged
        self._unwritten: list[tuple] = []  # step-loss rows read from the device, not yet in the store

    def __getstate__(self) -> dict:
        # A child process gets everything but the caller's callback (it belongs to the caller).
        return {**self.__dict__, "on_epoch": None}

    def _stop_message(self, step: int, epoch: int) -> str:
        return f"{STOPPED_BY_USER} at step {step} (epoch {epoch}); checkpoints up to epoch {epoch - 1} are kept"

    # ---- the loop ------------------------------------------------------------------------------
    def _failure(self, err: Exception) -> tuple[str, str]:
        bs = self.config.training["batch_size"]
        if self.group is not None and (why := lost_peer(err)):
            return "interrupted", (f"another process of this run (one of {self.group.world} ranks) ended, so this "
                                   f"one stopped too ({why}); metrics and checkpoints up to then are kept")
        if isinstance(err, torch.cuda.OutOfMemoryError):
            if self.records and (others := self._runs_sharing_the_gpu()):  # not this run's size: another run holds the memory
                return "failed", _shared_gpu_message(others, self.device)
            return "failed", (f"ran out of GPU memory with batch size {bs}: try a smaller batch "
                              f"size (e.g. {max(1, bs // 2)}) or a smaller model")
        if "out of memory" in str(err).lower():
            return "failed", f"ran out of memory: try a smaller batch size or model ({err})"
        if "does not have a deterministic implementation" in str(err):
            return "failed", (f"this model uses an operation with no deterministic kernel on {self.device.type} "
                              f"({str(err).split(' does not')[0]}): train it with 'deterministic' off")
        return super()._failure(err)

    def _runs_sharing_the_gpu(self) -> list:
        """Other runs training right now on this run's GPU (each run stores the device it trains on)."""
        self.store.mark_interrupted()  # runs whose process is gone hold no memory
        return [run for run in self.store.list_runs() if run.status == "running" and run.id != self.run_id
                and _same_device(run.params.get("device"), self.device)]

    def _release(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _work(self) -> tuple[str, str | None]:
        cfg, device, group = self.config, self.device, self.group
        t = cfg.training
        generator = seed_everything(t["seed"])  # the same on every rank: same weights, same permutation
        set_deterministic(t["deterministic"])
        data = load_dataset(cfg.dataset, cfg.dataset_options, data_dir=self.data_dir)
        model = build_model(cfg, data).to(device)
        if hasattr(model, "training_data"):  # e.g. a frozen backbone's features, computed once (models/transfer.py)
            data = model.training_data(data, device, self.data_dir)
        objective = objective_for(get_spec(cfg.model), data.info.task)
        # What the objective trains through: the model, or under DDP its Replicated view (calls go
        # through DDP, which all-reduces the gradients). Everything else uses the model itself.
        trained = model
        if group is not None:
            model, _ = sync_batchnorm(model, device, self.sync_bn)
            trained = Replicated(model, objective.ddp_parts, device)
            torch.manual_seed(t["seed"] + group.rank)  # each rank its own dropout masks and noise
        world = group.world if group is not None else 1
        accumulate = t.get("accumulate", 1)
        stepper = Stepper(objective.optimizers(model, t), self.precision or precision_for(device),
                          clip_norm=t.get("clip_norm", 0.0) or objective.clip_norm, accumulate=accumulate,
                          after_step=functools.partial(objective.after_step, model))  # a WGAN clips its critic there
        self._relative_divergence = objective.relative_divergence
        regulariser = Regulariser.for_run(t, stepper.optimizers)  # None: no penalty (the default)
        # The whole (small) dataset lives on the device: batches are gathered there, no host copies.
        x_train, y_train = data.x_train.to(device), data.y_train.to(device)
        n, bs, epochs = len(x_train), t["batch_size"], t["epochs"]
        # Drop the ragged last batch (a batch of one breaks BatchNorm, and it is noise anyway) and
        # the ragged last accumulation: every epoch ends on an update, its true gradients in .grad.
        # Under DDP a step takes world x bs examples (bs on each rank).
        steps_per_epoch = n // (bs * world) // accumulate * accumulate
        sync_every = min(SYNC_EVERY, self.flush_every)
        self.progress.total_steps = steps_per_epoch * epochs
        self.progress.state = "training"
        self.write_progress()

        losses = torch.empty(self.flush_every, device=device)
        pending: list[tuple[int, int, float]] = []  # (step, epoch, wall time) of the buffered losses
        last_flush = -math.inf  # the first step is written at once: the curve starts as soon as training does
        step, started = 0, time.monotonic()
        # The first frame shows the fresh weights; then one every FRAME_SECONDS or so (see _frame).
        next_frame = self._frame(model, data, objective, 0)
        model.train()
        for epoch in range(1, epochs + 1):
            epoch_start = time.monotonic()
            sums: dict[str, torch.Tensor] = {}  # per-epoch sums of the step stats, on the device
            order = torch.randperm(n, generator=generator)
            order = (order if group is None else group.shard(order, bs)).to(device)
            for i in range(steps_per_epoch):
                if group is None and self._apply_commands():
                    return self._stopped(model, data, objective, losses, pending, step, epoch)
                idx = order[i * bs:(i + 1) * bs]
                phases = objective.phases(trained, x_train[idx], y_train[idx])
                stats = stepper.step(regulariser.add(phases) if regulariser else phases)

                step += 1
                losses[len(pending)] = stats["loss"]
                pending.append((step, epoch, time.time()))
                for name, value in stats.items():  # accumulated in place: no new tensor per step
                    if name in sums:
                        sums[name].add_(value)
                    else:
                        sums[name] = value.float().clone()
                now = time.monotonic()
                if now >= next_frame:
                    next_frame = self._frame(model, data, objective, step)
                if group is None and (len(pending) == self.flush_every or now - last_flush > self.flush_seconds):
                    self._update_eta(step, started)
                    bad_step = self._flush(losses, pending)
                    last_flush = now
                    if bad_step is not None:
                        return "diverged", self._divergence_message(bad_step)
                elif group is not None and step % sync_every == 0:
                    # Every rank reads its losses at the same step and all agree; the leader writes
                    # them when a flush is due.
                    due = now - last_flush > self.flush_seconds
                    if due:
                        self._update_eta(step, started)
                        last_flush = now
                    bad_step = self._flush(losses, pending, write=due)
                    stop, _, bad = group.agree(self._apply_commands(), bad=self._bad(bad_step), device=device)
                    if bad is not None:
                        return "diverged", self._divergence_message(*bad)
                    if stop:
                        return self._stopped(model, data, objective, losses, pending, step, epoch)
            self._update_eta(step, started)
            bad_step = self._flush(losses, pending)
            if group is not None:
                _, _, bad = group.agree(False, bad=self._bad(bad_step), device=device)
                bad_step, self._bad_loss = bad if bad is not None else (None, self._bad_loss)
            if bad_step is not None:
                return "diverged", self._divergence_message(bad_step)
            epoch_time = time.monotonic() - epoch_start
            problem = self._end_epoch(model, data, objective, epoch, step, steps_per_epoch, bs, sums, epoch_time)
            if problem:
                return "diverged", problem
            if self.progress.state == "paused":
                self._wait_while_paused()
            if self._stop:
                self._frame(model, data, objective, step)
                return "stopped", self._stop_message(step, epoch + 1)
        self._frame(model, data, objective, step)  # the trained model's picture
        return "completed", None

    def _stopped(self, model, data: Dataset, objective, losses, pending, step: int, epoch: int) -> tuple[str, str]:
        self._flush(losses, pending)
        self._frame(model, data, objective, step)  # the picture where it stopped
        return "stopped", self._stop_message(step, epoch)

    def _bad(self, bad_step: int | None) -> tuple[int, float] | None:
        return None if bad_step is None else (bad_step, self._bad_loss)

    def _wait_while_paused(self) -> None:
        """Paused between epochs; under DDP every rank waits here, and each poll the leader's
        reading of the commands is agreed, so all resume, step or stop together."""
        if self.group is None:
            return super()._wait_while_paused()
        while True:
            stop, paused, _ = self.group.agree(self._apply_commands(force=True), self._pause_due(self.progress.epoch),
                                               device=self.device)
            self._stop = self._stop or stop
            if self._stop or not paused:
                break
            time.sleep(self.poll_seconds)
        if not self._stop:
            self.progress.state = "training"
            self.write_progress()

    def _frame(self, model, data: Dataset, objective, step: int) -> float:
        """Draw and store the live frame (if the objective draws one); returns when the next is due
        (time.monotonic()): FRAME_SECONDS from now, or later when drawing it took long. Only a job
        that records draws (under DDP, the leader, with the model itself: no collectives)."""
        if not self.records:
            return math.inf
        begun = time.monotonic()
        with eval_mode(model):
            arrays = objective.live_frame(model, data)
        if arrays is None:
            return math.inf  # nothing to draw for this model and data: never ask again
        self.store.save_frame(self.run_id, step, arrays)
        now = time.monotonic()
        return now + max(FRAME_SECONDS, (now - begun) / FRAME_SHARE)

    def _flush(self, losses: torch.Tensor, pending: list, write: bool = True) -> int | None:
        """Read the buffered step losses (one device->host copy) and, with `write`, write them with
        the live progress; return the first non-finite (or exploded) step."""
        if not pending:
            if write and self._unwritten:
                self.write_progress(self._unwritten)
                self._unwritten = []
            return None
        values = losses[:len(pending)].tolist()
        if self._first_loss is None and math.isfinite(values[0]):
            self._first_loss = values[0]
        limit = EXPLOSION_FACTOR * self._first_loss if self._first_loss and self._relative_divergence else math.inf
        bad_step = None
        for (step, epoch, wall), value in zip(pending, values):
            self._unwritten.append((step, epoch, "loss", value, wall))
            if bad_step is None and not (math.isfinite(value) and value <= limit):
                bad_step, self._bad_loss = step, value
        self.progress.step, self.progress.last_loss = pending[-1][0], values[-1]
        if write:
            self.write_progress(self._unwritten)
            self._unwritten = []
        pending.clear()
        return bad_step

    def _divergence_message(self, step: int, loss: float | None = None) -> str:
        """Why the run diverged; `loss` is the bad loss when another rank saw it (under DDP)."""
        self._bad_loss = self._bad_loss if loss is None else loss
        lr = self.config.training["lr"]
        what = (f"became {self._bad_loss}" if not math.isfinite(self._bad_loss) else
                f"exploded to {self._bad_loss:.3g} ({EXPLOSION_FACTOR:,.0f}x its first value)")
        return (f"the loss {what} at step {step}: training diverged. Try a lower learning rate "
                f"(e.g. {lr / 10:g} instead of {lr:g}); the curves up to that step are kept")

    def _update_eta(self, step: int, started: float) -> None:
        """ETA from the recent step rate (an EMA over flushes): the first steps are slow (warm-up,
        allocator), and an average since the start overestimates for a long while."""
        now = time.monotonic()
        last_time, last_step = self._last_rate_point or (started, 0)
        self._last_rate_point = (now, step)
        if now <= last_time or step <= last_step:
            return
        rate = (step - last_step) / (now - last_time)
        self._step_rate = rate if self._step_rate is None else 0.7 * self._step_rate + 0.3 * rate
        self.progress.eta_s = (self.progress.total_steps - step) / self._step_rate

    def _end_epoch(self, model, data: Dataset, objective, epoch, step, steps, bs, sums, epoch_time) -> str | None:
        """Evaluate, checkpoint, then write the epoch's metrics with the state that follows them
        (paused or not) in one transaction: a page that sees the epoch sees its checkpoint and
        whether the run paused after it."""
        group = self.group
        names = list(sums)
        totals = torch.stack([sums[k] for k in names]) / steps if names else None
        if totals is not None and group is not None:
            totals = group.mean(totals)  # the epoch's train stats over every rank's batches
        means = dict(zip(names, totals.tolist())) if names else {}
        problem = objective.check(means)  # the same on every rank: the means are
        if not self.records:  # another rank of a DDP run: the leader evaluates and writes; this one
            # learns whether the run stops or pauses (the leader's agree below)
            self._stop, paused, _ = group.agree(self._apply_commands(force=True), device=self.device)
            self.progress.epoch = epoch
            self.progress.state = "paused" if paused else "training"
            return problem
        norms = layer_grad_norms(model)  # gradients of the epoch's last step are still in .grad
        train = {f"train_{k}": v for k, v in means.items()}
        results = objective.evaluate(model, data, self.device)
        val = {k: v for k, v in results.items() if not isinstance(v, np.ndarray)}
        arrays = {k: v for k, v in results.items() if isinstance(v, np.ndarray)}
        samples_per_s = steps * bs * (group.world if group else 1) / epoch_time if epoch_time > 0 else None
        wall = time.time()
        rows = [(step, epoch, name, value, wall) for name, value in {**train, **val}.items()]
        rows += [(step, epoch, "samples_per_s", samples_per_s, wall), (step, epoch, "epoch_time", epoch_time, wall)]
        rows += [(step, epoch, f"grad_norm/{name}", value, wall)
                 for name, value in zip(norms, torch.stack(list(norms.values())).tolist())] if norms else []
        if self.checkpoints:
            self.store.save_checkpoint(self.run_id, epoch, model.state_dict())
        if arrays:
            self.store.save_artifacts(self.run_id, epoch, arrays)
        stop = self._apply_commands(force=True)  # a pause asked for during the epoch applies now
        paused = self._pause_due(epoch)
        if group is not None:  # the others wait here for the leader's word (and may have been interrupted)
            self._stop, paused, _ = group.agree(stop, paused, device=self.device)
        self.progress.epoch, self.progress.samples_per_s = epoch, samples_per_s
        self.progress.state = "paused" if paused and not self._stop else "training"
        self.progress.final = {"epochs": epoch, "steps": step, **train, **val}
        self.write_progress(rows)
        if self.checkpoints:  # after the epoch's scores are written: the best epoch may be this one
            prune(self.store, self.run_id, self.config.training)
        if self.on_epoch is not None:
            self.on_epoch(self.progress)
        return problem


def start_training(config: RunConfig, store: RunStore, device=None, data_dir=None,
                   pause_after_epoch: int | None = None) -> TrainingJob:
    """Create the run and train it in a child process; returns at once. With `pause_after_epoch`
    it pauses once that epoch is done (the page's "step one epoch")."""
    return TrainingJob(config, store, device=device, data_dir=data_dir, pause_after_epoch=pause_after_epoch).start()


def _same_device(name: str | None, device: torch.device) -> bool:
    if not name:
        return False
    try:
        other = torch.device(name)
    except RuntimeError:
        return False
    return other.type == device.type and (other.index or 0) == (device.index or 0)


def _shared_gpu_message(others: list, device: torch.device) -> str:
    runs = ", ".join(f"run {r.id} ({r.model} on {r.dataset})" for r in others)
    return (f"ran out of GPU memory on {device} while other runs train there too ({runs}), holding part of "
            "its memory: a smaller batch may not be needed. Wait for them to finish or stop them, then train "
            "this run again")
