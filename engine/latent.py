"""Latent spaces of the generative models (VAEs, GANs): grids, codes, walks, samples, quality.

Every generative model here has `decode(z, labels=None) -> images in [0, 1]` and `latent` (the
code size); VAEs also have `encode(x) -> (mean, log-variance)`. Functions take models and tensors
and return tensors / numpy arrays; a run of the wrong kind or a latent dimension out of range
raises LatentError with a message a person can act on.

GanSession trains a GAN one D or G step at a time (GAN Lab's buttons) as a job of its own
(engine.jobs): a child process holds the model and waits for clicks, which reach it as store
commands; the page keeps only the run id and draws what the job writes (per-step metrics, the
fixed-noise samples as an artifact).
"""
from __future__ import annotations

import functools
import math
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from engine.jobs import STOPPED_BY_USER, Job, Progress


class LatentError(ValueError):
    """A request the latent tools cannot serve (wrong run, bad dimension); the message says why."""


# ---- runs ----------------------------------------------------------------------------------------
def generative_run_problem(store, run_id: int) -> str | None:
    """Why run `run_id` cannot be opened here (missing, not generative, no checkpoint yet), or None."""
    from engine.registry import get_spec
    from engine.params import ParamError
    try:
        run = store.get_run(run_id)
    except KeyError:
        return f"there is no run {run_id}: pick one from the list, or train a VAE or GAN"
    try:
        spec = get_spec(run.model)
    except ParamError:
        return f"run {run_id} is a {run.model!r} model, which this version does not know"
    if spec.family != "generative":
        return (f"run {run_id} is a {spec.title} ({spec.family}), not a generative model: the latent "
                f"space needs a VAE or GAN run (models vae, conv_vae, dcgan)")
    if not store.checkpoint_epochs(run_id):
        return f"run {run_id} has no checkpoint yet: its first epoch is still training"
    return None


def load_generative(store, run_id: int, epoch: int | None = None, device=None):
    """(model in eval mode, dataset, config) of a generative run at `epoch` (latest when None).
    Checkpoints never change once written, so models are cached per (store, run, epoch)."""
    problem = generative_run_problem(store, run_id)
    if problem:
        raise LatentError(problem)
    epochs = store.checkpoint_epochs(run_id)
    if epoch is None:
        epoch = epochs[-1]
    elif epoch not in epochs:
        raise LatentError(f"run {run_id} has no checkpoint for epoch {epoch}; it has epochs {epochs[0]}..{epochs[-1]}")
    return _load_cached(str(store.root), run_id, epoch, str(device or "cpu"))


@functools.lru_cache(maxsize=8)
def _load_cached(root: str, run_id: int, epoch: int, device: str):
    from engine.runs import RunStore
    from engine.train import load_trained
    return load_trained(RunStore(root), run_id, epoch, torch.device(device))


def is_vae(model: nn.Module) -> bool:
    return hasattr(model, "encode")


def check_dims(model: nn.Module, dims) -> tuple[int, ...]:
    dims = tuple(int(d) for d in dims)
    bad = [d for d in dims if not 0 <= d < model.latent]
    if bad:
        raise LatentError(f"latent dimension {bad[0]} does not exist: this model's code has {model.latent} "
                          f"dimensions, numbered 0 to {model.latent - 1}")
    if len(set(dims)) != len(dims):
        raise LatentError(f"choose two different latent dimensions, not {dims[0]} twice")
    return dims


def _device(model: nn.Module) -> torch.device:
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


def _labels(model, labels, n: int):
    if not getattr(model, "conditional", False):
        return None
    if labels is None:
        labels = 0
    if isinstance(labels, int):
        if not 0 <= labels < model.num_classes:
            raise LatentError(f"class {labels} does not exist: this model knows classes 0 to {model.num_classes - 1}")
        return torch.full((n,), labels, dtype=torch.long, device=_device(model))
    return torch.as_tensor(labels, dtype=torch.long, device=_device(model))


# ---- decoding, grids -----------------------------------------------------------------------------
@torch.no_grad()
def decode(model: nn.Module, z, labels=None, batch_size: int = 1024) -> torch.Tensor:
    """Images (N, C, H, W) in [0, 1] on the CPU for codes z (N, latent)."""
    z = torch.as_tensor(z, dtype=torch.float32)
    if z.ndim == 1:
        z = z[None]
    if z.shape[1] != model.latent:
        raise LatentError(f"codes have {z.shape[1]} dimensions; this model's code has {model.latent}")
    device = _device(model)
    labels = _labels(model, labels, len(z))
    out = [model.decode(z[i:i + batch_size].to(device), None if labels is None else labels[i:i + batch_size]).float().cpu()
           for i in range(0, len(z), batch_size)]
    return torch.cat(out).clamp_(0, 1)


def grid_codes(latent: int, n: int = 15, r: float = 4.0, dims=(0, 1), base=None) -> torch.Tensor:
    """(n*n, latent) codes, row by row: x = dims[0] over linspace(-r, r) left to right, y = dims[1]
    from +r at the top to -r at the bottom (up is positive); other dimensions from `base` (or 0)."""
    if n < 1:
        raise LatentError(f"the grid needs at least 1 image per side, not {n}")
    if not r > 0:
        raise LatentError(f"the grid range must be positive, not {r}")
    base = torch.zeros(latent) if base is None else torch.as_tensor(base, dtype=torch.float32).flatten()
    xs = torch.linspace(-r, r, n)
    ys = torch.linspace(r, -r, n)
    z = base.repeat(n * n, 1)
    z[:, dims[0]] = xs.repeat(n)
    z[:, dims[1]] = ys.repeat_interleave(n)
    return z


def latent_grid(model: nn.Module, n: int = 15, r: float = 4.0, dims=(0, 1), base=None, labels=None) -> torch.Tensor:
    """The n x n decoded grid, (n*n, C, H, W) in [0, 1], in grid_codes order."""
    dims = check_dims(model, dims)
    return decode(model, grid_codes(model.latent, n, r, dims, base), labels)


def tile(images, ncols: int, pad: int = 0, pad_value: float = 1.0) -> np.ndarray:
    """Images (N, C, H, W) -> one array (rows*H, ncols*W) (or (..., C) for colour), row-major."""
    images = torch.as_tensor(images).float()
    n, c, h, w = images.shape
    rows = max(1, math.ceil(n / ncols))
    canvas = torch.full((c, rows * (h + pad) - pad, ncols * (w + pad) - pad), pad_value)
    for i in range(n):
        r, k = divmod(i, ncols)
        canvas[:, r * (h + pad):r * (h + pad) + h, k * (w + pad):k * (w + pad) + w] = images[i]
    out = canvas.numpy()
    return out[0] if c == 1 else out.transpose(1, 2, 0)


# ---- codes, reconstructions, walks ---------------------------------------------------------------
def _require_vae(model, what: str):
    if not is_vae(model):
        raise LatentError(f"{what} needs an encoder: a GAN has none (use a VAE run, or walk between noise vectors)")


@torch.no_grad()
def encode(model: nn.Module, x: torch.Tensor, batch_size: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, log-variance) of the codes of images x (N, C, H, W) in [0, 1], on the CPU."""
    _require_vae(model, "encoding images")
    device = _device(model)
    means, logvars = [], []
    for i in range(0, len(x), batch_size):
        mean, logvar = model.encode(x[i:i + batch_size].to(device))
        means.append(mean.float().cpu())
        logvars.append(logvar.float().cpu())
    return torch.cat(means), torch.cat(logvars)


def reconstruct(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Decode each image's mean code: the VAE's deterministic reconstruction."""
    mean, _ = encode(model, x)
    return decode(model, mean)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (White 2016): follows the shell where Gaussian noise lives."""
    norm0, norm1 = z0.norm(), z1.norm()
    cos = torch.dot(z0 / norm0.clamp_min(1e-12), z1 / norm1.clamp_min(1e-12)).clamp(-1, 1)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-6:  # (anti)parallel within rounding: linear is exact enough
        return (1 - t)[:, None] * z0 + t[:, None] * z1
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so)[:, None] * z0 + (torch.sin(t * omega) / so)[:, None] * z1


def interpolate(z0, z1, steps: int = 10, method: str = "linear") -> torch.Tensor:
    """`steps` codes from z0 to z1 inclusive, linear or spherical ("slerp")."""
    if steps < 2:
        raise LatentError(f"an interpolation needs at least 2 steps (its two ends), not {steps}")
    z0 = torch.as_tensor(z0, dtype=torch.float32).flatten()
    z1 = torch.as_tensor(z1, dtype=torch.float32).flatten()
    t = torch.linspace(0, 1, steps)
    if method == "linear":
        return (1 - t)[:, None] * z0 + t[:, None] * z1
    if method in ("slerp", "spherical"):
        return slerp(z0, z1, t)
    raise LatentError(f"unknown interpolation {method!r}; choose linear or spherical")


def fixed_noise(latent: int, n: int, seed: int = 0) -> torch.Tensor:
    """The same (n, latent) standard-normal batch for the same seed, on every device: samples of
    one run at different epochs are comparable image by image."""
    return torch.randn(n, latent, generator=torch.Generator().manual_seed(seed))


def sample(model: nn.Module, n: int = 64, seed: int = 0, labels=None) -> torch.Tensor:
    """Images decoded from prior samples z ~ N(0, I) (fixed by the seed)."""
    if n < 1:
        raise LatentError(f"ask for at least one sample, not {n}")
    if labels is None and getattr(model, "conditional", False):
        labels = torch.arange(n) % model.num_classes  # every class in turn
    return decode(model, fixed_noise(model.latent, n, seed), labels)


# ---- projection of codes to 2D -------------------------------------------------------------------
def project_2d(codes, method: str = "pca", seed: int = 0) -> tuple[np.ndarray, str]:
    """Codes (N, d) -> 2D coordinates and an axis note. d = 2: the codes themselves. Otherwise PCA
    (instant) or UMAP (umap-learn; its first fit in a process compiles for ~40 s)."""
    codes = np.asarray(codes, dtype=np.float32)
    if codes.shape[1] == 2:
        return codes, "latent dimensions 0 and 1"
    if method == "pca":
        from sklearn.decomposition import PCA
        pca = PCA(n_components=2, random_state=seed)
        coords = pca.fit_transform(codes)
        var = pca.explained_variance_ratio_
        return coords, f"PCA: {var[0]:.0%} + {var[1]:.0%} of the variance"
    if method == "umap":
        import umap
        return umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=seed).fit_transform(codes), "UMAP"
    raise LatentError(f"unknown projection {method!r}; choose pca or umap")


# ---- quality of generated digits -----------------------------------------------------------------
@torch.no_grad()
def classifier_scores(images: torch.Tensor, classifier: nn.Module, labels=None) -> dict[str, float]:
    """Score generated images with a classifier: mean top-class confidence, entropy (nats) of the
    distribution of predicted classes (ln K when every class comes out equally often; it falls as
    a GAN collapses onto a few modes), the Inception Score analogue exp(E_x KL(p(y|x) || p(y))),
    and, when `labels` (the classes asked for) are given, how often the classifier agrees."""
    device = _device(classifier)
    probs = torch.cat([torch.softmax(classifier(images[i:i + 512].to(device)).float(), 1).cpu()
                       for i in range(0, len(images), 512)])
    marginal = probs.mean(0)
    eps = 1e-12
    class_entropy = -(marginal * (marginal + eps).log()).sum()
    kl = (probs * ((probs + eps).log() - (marginal + eps).log())).sum(1).mean()
    out = {"confidence": probs.max(1).values.mean().item(), "class_entropy": class_entropy.item(),
           "inception_score": kl.exp().item()}
    if labels is not None:
        out["label_accuracy"] = (probs.argmax(1) == torch.as_tensor(labels).cpu()).float().mean().item()
    return out


_CLASSIFIERS: dict[str, nn.Module | None] = {}
_CLASSIFIER_LOCK = threading.Lock()


def default_classifier(info, device) -> nn.Module | None:
    """The project's pretrained MNIST CNN (engine.pretrained) for 28x28 digit sets, else None (no
    classifier fits: Fashion-MNIST, 8x8 digits; or the checkpoint is not installed)."""
    if tuple(info.input_shape) != (1, 28, 28) or info.name != "mnist":
        return None
    key = str(device)
    with _CLASSIFIER_LOCK:
        if key not in _CLASSIFIERS:
            try:
                from engine.pretrained import load_default_cnn
                _CLASSIFIERS[key] = load_default_cnn(device=device)
            except (ImportError, FileNotFoundError, OSError, RuntimeError):
                _CLASSIFIERS[key] = None
        return _CLASSIFIERS[key]


# ---- GAN, one step at a time ---------------------------------------------------------------------
GAN_STEP_KINDS = ("d", "g", "both")
GAN_STEP_METRICS = ("d_loss", "g_loss", "d_real_acc", "d_fake_acc")
MAX_STEPS_PER_COMMAND = 1000  # a click asks for 1, 10 or 100; the CLI may ask for more, not for ever
SAMPLES = 64                  # the fixed-noise batch drawn after every command
SESSION_IDLE_S = 30 * 60      # a session nobody clicks for this long ends itself (and frees its process)


class GanSession(Job):
    """A DCGAN trained by hand (GAN Lab's buttons): step D only, G only, or both, and watch the
    same noise batch change.

    A job like any other run (engine.jobs): creating it creates the run (status running, state
    "paused": waiting for clicks); `start()` builds the model in a child process, which then waits
    for commands:
        step   {"n": 1..1000, "what": "d" | "g" | "both"}   (RunControl.step) n steps, then wait again
        finish                                              checkpoint epoch 1, end "completed"
        stop                                                checkpoint epoch 1, end "stopped"
    Per step it writes d_loss, g_loss, d_real_acc, d_fake_acc (and loss = their sum, for the
    Training page's step chart) as metric rows (epoch 1, step = steps so far); after each command,
    the 64 fixed-noise samples as artifact "samples" at epoch k (k = commands that stepped, 0 = fresh
    weights), then the progress: state "paused" again, and in `final` the counts (d_steps, g_steps,
    steps, commands) and the id of the last command done (`command`), so a page can tell whether
    a click is still waiting (see `hand_gan_state`). Nobody clicking for `idle_timeout_s` ends it.
    """

    def __init__(self, config, store, device=None, data_dir=None, idle_timeout_s: float = SESSION_IDLE_S):
        from engine.device import pick_device
        if config.model != "dcgan":
            raise LatentError(f"step-by-step training is for the DCGAN; {config.model} trains with Start")
        self.config = config
        self.device = device if isinstance(device, torch.device) else pick_device(device)
        self.data_dir = data_dir
        self.idle_timeout_s = float(idle_timeout_s)
        # Only the config's own keys (and the device): run_config() rebuilds the config from them.
        params = {**config.as_dict(), "device": str(self.device)}
        super().__init__(store, store.create_run(config.model, config.dataset, params))
        self.d_steps = self.g_steps = self.steps = self.commands_done = 0
        self._done_id = 0
        self._samples_step: int | None = None  # the step count when the last samples were saved
        self.progress.epochs = 1
        self.progress.state = "paused"  # waiting for clicks (they queue while the model is built)
        self.progress.note = "building the model"
        self._write_counts()

    # ---- what the page reads -----------------------------------------------------------------
    def _counts(self) -> dict:
        return {"d_steps": self.d_steps, "g_steps": self.g_steps, "steps": self.steps,
                "commands": self.commands_done, "command": self._done_id}

    def _write_counts(self, rows: list[tuple] | None = None) -> None:
        self.progress.step = self.steps
        self.progress.final = self._counts()
        self.write_progress(rows)

    def _summary(self) -> str:
        return f"{self.d_steps} D steps and {self.g_steps} G steps"

    # ---- the job -------------------------------------------------------------------------------
    def _work(self) -> tuple[str, str | None]:
        gan = _HandGan(self.config, self.device, self.data_dir)
        self._save_samples(gan)
        self.progress.note = f"waiting for a click ({self._summary()} so far)"
        self._write_counts()
        queue: deque = deque()
        idle_since = time.monotonic()
        while True:
            if not queue:
                queue.extend(self.commands(force=True))
            if not queue:
                if time.monotonic() - idle_since > self.idle_timeout_s:
                    return self._end(gan, "stopped", (
                        f"ended itself after {self.idle_timeout_s / 60:g} minutes without a click "
                        f"({self._summary()}); its weights are kept as checkpoint epoch 1"))
                time.sleep(self.poll_seconds)
                continue
            command = queue.popleft()
            if command.verb == "stop":
                return self._end(gan, "stopped", f"{STOPPED_BY_USER} after {self._summary()}; "
                                                 f"its weights are kept as checkpoint epoch 1")
            if command.verb == "finish":
                return self._end(gan, "completed", f"trained by hand: {self._summary()}")
            rows, note = [], f"waiting for a click ({self._summary()} so far)"
            if command.verb == "step":
                rows, problem = self._run_steps(gan, command, queue)
                if rows is None:  # a stop came in between the steps
                    return self._end(gan, "stopped", f"{STOPPED_BY_USER} after {self._summary()}; "
                                                     f"its weights are kept as checkpoint epoch 1")
                note = problem or f"waiting for a click ({self._summary()} so far)"
            # pause / resume mean nothing here: between clicks the session is always paused.
            self._done_id = command.id
            self.progress.state, self.progress.note = "paused", note
            self._write_counts(rows)  # the last rows and "done" in one write: the page sees both at once
            idle_since = time.monotonic()

    def _run_steps(self, gan: "_HandGan", command, queue: deque) -> tuple[list[tuple] | None, str | None]:
        """The steps one command asks for. Rows go to the store as they come (about every 0.3 s,
        so a long command draws live); returns the rows not written yet (None when a stop arrived
        meanwhile: it is obeyed at once) and why the command was ignored, if it was."""
        what = command.args.get("what", "both")
        try:
            n = int(command.args.get("n", 1))
        except (TypeError, ValueError):
            n = 0
        if what not in GAN_STEP_KINDS or not 1 <= n <= MAX_STEPS_PER_COMMAND:
            return [], (f"ignored a command to step {what!r} x {command.args.get('n')!r}: step 'd', 'g' or "
                        f"'both', 1 to {MAX_STEPS_PER_COMMAND} times")
        self.progress.state = "training"
        label = {"d": "D", "g": "G", "both": "D and G"}[what]
        rows: list[tuple] = []
        last_write = time.monotonic()
        for i in range(n):
            queue.extend(self.commands())
            if any(c.verb == "stop" for c in queue):
                self._write_counts(rows)
                return None, None
            stats = gan.step(what)
            self.steps += 1
            self.d_steps += what in ("d", "both")
            self.g_steps += what in ("g", "both")
            wall = time.time()
            rows += [(self.steps, 1, name, stats[name], wall) for name in GAN_STEP_METRICS if name in stats]
            rows.append((self.steps, 1, "loss", stats.get("d_loss", 0.0) + stats.get("g_loss", 0.0), wall))
            if time.monotonic() - last_write > 0.3 and i < n - 1:
                self.progress.note = f"step {label}: {i + 1}/{n}"
                self._write_counts(rows)
                rows, last_write = [], time.monotonic()
        self._save_samples(gan)  # before the progress that says the command is done
        return rows, None

    def _save_samples(self, gan: "_HandGan") -> None:
        """The fixed-noise samples now, as artifact "samples" at epoch k (0: fresh weights; then
        one more per command that stepped), with "counts" (D steps, G steps, steps) they were drawn at."""
        if self._samples_step is not None:
            if self._samples_step == self.steps:
                return  # nothing changed since the last ones
            self.commands_done += 1
        self.store.save_artifacts(self.run_id, self.commands_done, {
            "samples": gan.samples().numpy(), "counts": np.array([self.d_steps, self.g_steps, self.steps])})
        self._samples_step = self.steps

    def _end(self, gan: "_HandGan", status: str, message: str) -> tuple[str, str]:
        """Checkpoint (epoch 1: the whole session is one "epoch"), so every view and CLI verb can
        open the run, whatever ended it."""
        self._save_samples(gan)  # a stop in the middle of a command: the samples of its last step
        self.store.save_checkpoint(self.run_id, 1, gan.model.state_dict())
        self.progress.epoch = 1
        self._write_counts()
        self.progress.final = {"d_steps": self.d_steps, "g_steps": self.g_steps, "steps": self.steps}
        return status, message

    def _release(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


class _HandGan:
    """The model, its optimisers and its data, as the session's process holds them."""

    def __init__(self, config, device: torch.device, data_dir=None):
        from engine.data import load_dataset
        from engine.device import seed_everything
        from engine.models.gan import gan_optimizers
        from engine.train import build_model
        self.generator = seed_everything(config.training["seed"])
        data = load_dataset(config.dataset, config.dataset_options, data_dir=data_dir)
        self.device = device
        self.model = build_model(config, data).to(device).train()
        self.opt_d, self.opt_g = gan_optimizers(self.model)
        self.x, self.y = data.x_train.to(device), data.y_train.to(device)
        self.batch_size = min(config.training["batch_size"], len(self.x))
        self.noise = fixed_noise(self.model.latent, SAMPLES, seed=0)
        self.labels = (torch.arange(SAMPLES) % self.model.num_classes) if self.model.conditional else None

    def step(self, what: str) -> dict[str, float]:
        """One step of D ("d"), G ("g") or one of each ("both") on a random batch; its stats."""
        from engine.models.gan import d_step, g_step
        idx = torch.randint(len(self.x), (self.batch_size,), generator=self.generator).to(self.device)
        real, labels = self.x[idx] * 2 - 1, (self.y[idx] if self.model.conditional else None)
        stats = {}
        if what in ("d", "both"):
            stats.update(d_step(self.model, real, labels, self.opt_d))
        if what in ("g", "both"):
            stats.update(g_step(self.model, len(real), labels, self.opt_g, self.device))
        return {k: v.item() for k, v in stats.items()}

    def samples(self) -> torch.Tensor:
        """The fixed noise batch through G (eval mode), in [0, 1], on the CPU: what
        `sample(model, 64, seed=0)` gives for the saved checkpoint."""
        self.model.eval()
        try:
            return decode(self.model, self.noise, self.labels)
        finally:
            self.model.train()


def start_gan_session(config, store, device=None, data_dir=None, idle_timeout_s: float = SESSION_IDLE_S) -> GanSession:
    """Create a hand-stepped GAN's run and start its process; returns at once (clicks may be
    sent straight away: they wait in the store while the model is built)."""
    return GanSession(config, store, device=device, data_dir=data_dir, idle_timeout_s=idle_timeout_s).start()


def finish_gan_session(store, run_id: int) -> None:
    """Ask a hand-stepped GAN to save itself as a completed run (after any steps still queued)."""
    store.send_command(run_id, "finish")


@dataclass(frozen=True)
class HandGanState:
    """What a page shows of a hand-stepped GAN: its counts, and whether it is still working on a
    click (running a command, or one is waiting in the store)."""
    d_steps: int
    g_steps: int
    steps: int
    commands: int  # commands that stepped: the epoch of the latest "samples" artifact
    busy: bool


def hand_gan_state(store, progress: Progress) -> HandGanState:
    final = progress.final or {}
    busy = False
    if progress.running:
        busy = progress.state != "paused" or bool(store.commands_since(progress.run_id, int(final.get("command", 0))))
    return HandGanState(int(final.get("d_steps", 0)), int(final.get("g_steps", 0)), int(final.get("steps", 0)),
                        int(final.get("commands", 0)), busy)


def is_hand_gan(run) -> bool:
    """A run made by GanSession (its progress counts D and G steps), not by the Trainer."""
    return run.model == "dcgan" and "d_steps" in (run.progress.get("final") or {})


def recent_gan_problem(metrics: pd.DataFrame, window: int = 20) -> str | None:
    """engine.models.gan.gan_problem over the mean of the last `window` hand steps' stats (long
    metric rows as the store gives them); None until there are that many D steps."""
    from engine.models.gan import gan_problem
    d = metrics.value[metrics.name == "d_loss"].tail(window)
    if len(d) < window:
        return None
    g = metrics.value[metrics.name == "g_loss"].tail(window)
    return gan_problem({"d_loss": float(d.mean()), "g_loss": float(g.mean()) if len(g) else 0.0})
