"""GanSession trains a GAN one D or G step at a time (GAN Lab's buttons) as a job of its own
(engine.core.jobs): a child process holds the model and waits for clicks, which reach it as store
commands; the page keeps only the run id and draws what the job writes (per-step metrics; the
DCGAN's fixed-noise samples as an artifact; the 2D GAN's live frame, as the Trainer draws it).
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from engine.core.device import precision_for
from engine.core.jobs import STOPPED_BY_USER, Job, Progress
from engine.core.modules import eval_mode
from engine.core.registry import get_spec
from engine.core.step import Stepper
from engine.latent.space import LatentError, decode, fixed_noise
from engine.objectives import objective_for


GAN_STEP_KINDS = ("d", "g", "both")
GAN_STEP_METRICS = ("d_loss", "g_loss", "d_real_acc", "d_fake_acc", "wasserstein")  # a WGAN's: no accuracies
MAX_STEPS_PER_COMMAND = 1000  # a click asks for 1, 10 or 100; the CLI may ask for more, not for ever
SAMPLES = 64                  # the fixed-noise batch drawn after every command
SESSION_IDLE_S = 30 * 60      # a session nobody clicks for this long ends itself (and frees its process)
HAND_STEPPED = ("dcgan", "wgan", "gan2d")  # the GANs that can be stepped by hand (GANObjective's D and G phases)


class GanSession(Job):
    """A GAN (the DCGAN, or the GAN on 2D points) trained by hand (GAN Lab's buttons): step D only,
    G only, or both, and watch the same noise batch change.

    A job like any other run (engine.core.jobs): creating it creates the run (status running, state
    "paused": waiting for clicks); `start()` builds the model in a child process, which then waits
    for commands:
        step   {"n": 1..1000, "what": "d" | "g" | "both"}   (RunControl.step) n steps, then wait again
        finish                                              checkpoint epoch 1, end "completed"
        stop                                                checkpoint epoch 1, end "stopped"
    Per step it writes d_loss, g_loss, d_real_acc, d_fake_acc (and loss = their sum, for the
    Training page's step chart) as metric rows (epoch 1, step = steps so far); after each command
    (and for the fresh weights): for image GANs the 64 fixed-noise samples as artifact "samples" at
    epoch k (k = commands that stepped, 0 = fresh weights); for models whose objective draws one,
    the live frame (RunStore.save_frame, at the step count) and the objective's hand_measures (the
    2D GAN's KL, JS, modes covered) as metric rows at that step; then the progress: state "paused"
    again, and in `final` the counts (d_steps, g_steps, steps, commands) and the id of the last
    command done (`command`), so a page can tell whether a click is still waiting (see
    `hand_gan_state`). Nobody clicking for `idle_timeout_s` ends it.
    """

    def __init__(self, config, store, device=None, data_dir=None, idle_timeout_s: float = SESSION_IDLE_S):
        from engine.core.device import default_device, pick_device
        if config.model not in HAND_STEPPED:
            raise LatentError(f"step-by-step training is for the DCGAN, the WGAN and the 2D GAN (gan2d); "
                              f"{config.model} trains with Start")
        self.config = config
        self.device = device if isinstance(device, torch.device) else \
            default_device() if device is None else pick_device(device)
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
        rows = self._save_view(gan)
        self.progress.note = f"waiting for a click ({self._summary()} so far)"
        self._write_counts(rows)
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
        rows += self._save_view(gan)  # before the progress that says the command is done
        return rows, None

    def _save_view(self, gan: "_HandGan") -> list[tuple]:
        """What the model looks like now: an image GAN's fixed-noise samples, as artifact "samples"
        at epoch k (0: fresh weights; then one more per command that stepped), with "counts" (D
        steps, G steps, steps) they were drawn at; the live frame, where the objective draws one;
        and the objective's hand measures, returned as metric rows (at the step count) for the
        progress write that follows."""
        if self._samples_step is not None:
            if self._samples_step == self.steps:
                return []  # nothing changed since the last ones
            self.commands_done += 1
        if gan.images:
            self.store.save_artifacts(self.run_id, self.commands_done, {
                "samples": gan.samples().numpy(), "counts": np.array([self.d_steps, self.g_steps, self.steps])})
        frame = gan.frame()
        if frame is not None:
            self.store.save_frame(self.run_id, self.steps, frame)
        self._samples_step = self.steps
        wall = time.time()
        return [(self.steps, 1, name, value, wall) for name, value in gan.measures().items()]

    def _end(self, gan: "_HandGan", status: str, message: str) -> tuple[str, str]:
        """Checkpoint (epoch 1: the whole session is one "epoch"), so every view and CLI verb can
        open the run, whatever ended it."""
        rows = self._save_view(gan)  # a stop in the middle of a command: the samples of its last step
        self.store.save_checkpoint(self.run_id, 1, gan.model.state_dict())
        self.progress.epoch = 1
        self._write_counts(rows)
        self.progress.final = {"d_steps": self.d_steps, "g_steps": self.g_steps, "steps": self.steps}
        return status, message

    def _release(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


class _HandGan:
    """The model, its optimisers and its data, as the session's process holds them."""

    def __init__(self, config, device: torch.device, data_dir=None):
        from engine.data import load_dataset
        from engine.core.device import seed_everything
        from engine.core.trainer import build_model
        self.generator = seed_everything(config.training["seed"])
        self.data = data = load_dataset(config.dataset, config.dataset_options, data_dir=data_dir)
        self.device = device
        spec = get_spec(config.model)
        self.objective = objective_for(spec)  # a GANObjective: its D and G losses, its view of the data
        self.images = spec.can("generator")  # decodes images: its samples are drawn as pictures
        self.model = build_model(config, data).to(device).train()
        self.stepper = Stepper(self.objective.optimizers(self.model, config.training), precision_for(device),
                               after_step=lambda i: self.objective.after_step(self.model, i))  # a WGAN's clipping
        self.x, self.y = data.x_train.to(device), data.y_train.to(device)
        self.batch_size = min(config.training["batch_size"], len(self.x))
        self.noise = fixed_noise(self.model.latent, SAMPLES, seed=0)
        self.labels = (torch.arange(SAMPLES) % self.model.num_classes) if self.model.conditional else None

    def step(self, what: str) -> dict[str, float]:
        """One step of D ("d"), G ("g") or one of each ("both") on a random batch; its stats."""
        idx = torch.randint(len(self.x), (self.batch_size,), generator=self.generator).to(self.device)
        real, labels = self.objective.to_gan(self.x[idx]), (self.y[idx] if self.model.conditional else None)
        stats = self.stepper.step(self._phases(what, real, labels))
        return {k: v.item() for k, v in stats.items()}

    def _phases(self, what: str, real: torch.Tensor, labels):
        """The GAN objective's D (a WGAN's critic) and G phases, as the click asks for them."""
        if what in ("d", "both"):
            yield self.objective.d_phase(self.model, real, labels)
        if what in ("g", "both"):
            yield self.objective.g_phase(self.model, len(real), labels, self.device)

    def frame(self) -> dict | None:
        """The objective's live frame of the model now (None: it draws none), as the Trainer draws it."""
        with eval_mode(self.model):
            return self.objective.live_frame(self.model, self.data)

    def measures(self) -> dict[str, float]:
        """The objective's scores after a click (the 2D GAN's KL, JS, modes covered; none for the DCGAN)."""
        return self.objective.hand_measures(self.model, self.data, self.device)

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
    return run.model in HAND_STEPPED and "d_steps" in (run.progress.get("final") or {})


def recent_gan_problem(metrics: pd.DataFrame, window: int = 20, model: str = "dcgan") -> str | None:
    """The model's objective's check (the DCGAN's engine.objectives.gan.gan_problem; a WGAN's, whose
    critic loss is signed) over the mean of the last `window` hand steps' stats (long metric rows as
    the store gives them); None until there are that many D steps."""
    d = metrics.value[metrics.name == "d_loss"].tail(window)
    if len(d) < window:
        return None
    g = metrics.value[metrics.name == "g_loss"].tail(window)
    means = {"d_loss": float(d.mean()), "g_loss": float(g.mean()) if len(g) else 0.0}
    return objective_for(get_spec(model)).check(means)
