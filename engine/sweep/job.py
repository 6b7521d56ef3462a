"""SweepJob: drives one sweep on Ray Tune, in this process (`run()`, the CLI) or a child (`start()`, a page).

The same protocol as a run's job (engine/core/jobs.py): creating it records the sweep (`sweep_id`);
`start()` drives it in a child process and returns at once; `run()` drives it here; SweepControl
stops it from any process, through the store's `sweep_commands`.

Ray: with no address, an embedded local Ray (ray.init: no dashboard, quiet) with `parallel` CPU
slots, one per trial (the cores by default, or one trial per GPU where there are GPUs); with an
address, the running cluster (trials on other machines write through the driver's StoreServer,
engine/sweep/remote_store.py). Every trial is a TrainingJob in a Ray worker (engine/sweep/trial.py).

Stopping (a page's Stop, Ctrl-C): the running trials get the run's own "stop" command, so each ends
as "stopped" at its next step with its checkpoints; no new trial starts; Tune then ends the rest.
Trials Tune ended itself (pruned by the scheduler, or killed at the stop) leave their run "running":
`settle()` marks it pruned, stopped or completed, with the epoch it reached.
"""
from __future__ import annotations

import functools
import logging
import os
import sys
import time
from pathlib import Path

from engine.core import jobs
from engine.core.runs import Run, RunStore
from engine.sweep import results
from engine.sweep.spec import SweepSpec

STOP_GRACE_S = 10.0  # after a stop, how long running trials get to end themselves before Tune ends them
POLL_S = 0.2         # the sweep's commands are read at most this often
PRUNERS = {"asha": "ASHA", "median": "the median stopping rule"}
_PROCESSES: dict[tuple[str, int], object] = {}  # sweeps driven by children of this process


def start_embedded_ray(num_cpus: int) -> None:
    """A local Ray in this process with num_cpus slots and the machine's GPUs, quiet. (Workers that
    imported torch as they started, through a worker_process_setup_hook, were measured by
    bench/sweep.py: no faster, as Tune's own set-up, not the import, delays the first trials.)"""
    import ray
    import torch

    ray.init(num_cpus=num_cpus, num_gpus=torch.cuda.device_count(), include_dashboard=False,
             logging_level=logging.WARNING, log_to_driver=False)


def default_parallel() -> int:
    """Trials at once on the embedded Ray: one per GPU where there are GPUs, else one per core."""
    import torch
    return torch.cuda.device_count() or os.cpu_count() or 1


class SweepJob:
    def __init__(self, spec: SweepSpec, store: RunStore, data_dir=None, log=None, force_remote: bool = False):
        self.spec, self.store, self.data_dir = spec, store, data_dir
        self.log = log  # progress lines (the CLI's stderr); None: quiet
        self.force_remote = force_remote  # trials write through the StoreServer even here (tests)
        self.sweep_id = store.create_sweep(spec.as_dict(), spec.metric, spec.mode)
        self._interrupted = False
        self._stop_since: float | None = None
        self._last_poll = 0.0
        self._last_command = 0
        self._runs_by_trial: dict[str, int] = {}
        self._early_failures: list[str] = []  # trials that failed before they had a run

    def __getstate__(self) -> dict:
        return {**self.__dict__, "log": None}  # a child process has no caller to log to

    # ---- control ------------------------------------------------------------------------------
    def interrupt(self) -> None:
        """Stop the sweep (Ctrl-C, SIGTERM); safe in a signal handler (touches no database)."""
        self._interrupted = True

    def start(self) -> "SweepJob":
        """Drive the sweep in a child process (the forkserver's, like a run's job); returns at once."""
        process = jobs._CONTEXT.Process(target=jobs._child_main, args=(self, dict(os.environ)), daemon=True,
                                        name=f"SweepJob-{self.sweep_id}")
        process.start()
        self.store.set_sweep_owner(self.sweep_id, process.pid)
        _PROCESSES[(str(self.store.root), self.sweep_id)] = process
        return self

    def join(self, timeout: float | None = None) -> str:
        return SweepControl(self.store, self.sweep_id).wait_until_done(timeout if timeout is not None else float("inf"))

    # ---- driving ------------------------------------------------------------------------------
    def run(self) -> str:
        """Drive the sweep here, to the end; returns its final status."""
        self.store.set_sweep_owner(self.sweep_id, os.getpid())
        try:
            status, message = self._work()
        except Exception as err:  # noqa: BLE001 - the sweep must say it failed, not hang in "running"
            status, message = "failed", f"{type(err).__name__}: {err}"
        for run in self.store.sweep_runs(self.sweep_id):  # trials Tune ended without their run knowing
            self.settle(run)
        best = results.best_trial(results.sweep_trials(self.store, self.store.get_sweep(self.sweep_id)),
                                  self.spec.mode)
        self.store.set_sweep_status(self.sweep_id, status, message, best_run=best.run.id if best else None)
        return status

    def _work(self) -> tuple[str, str | None]:
        if self.spec.address and "RAY_AUTH_MODE" not in os.environ and (Path.home() / ".ray" / "auth_token").is_file():
            # `ray start --head` turns token authentication on where ~/.ray/auth_token exists, but a
            # driver that connects to it does not: ask for it the same way (Ray 2.60 reads
            # RAY_AUTH_MODE when it is imported, hence before the import).
            os.environ["RAY_AUTH_MODE"] = "token"
        import ray
        from ray import tune

        from engine.sweep import tune_space
        from engine.sweep.remote_store import start_store_server
        from engine.sweep.trial import run_trial

        os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"  # Ctrl-C is ours: stop the trials cleanly (above)
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        started_ray = self._connect_ray()
        try:
            parallel, resources, threads = self._slots()
            trainable = tune.with_parameters(
                run_trial, spec=self.spec.as_dict(), sweep_id=self.sweep_id, root=str(self.store.root),
                data_dir=None if self.data_dir is None else str(self.data_dir),
                driver_node=ray.get_runtime_context().get_node_id(),
                # Trials on other machines write through it; an embedded Ray's trials are all here
                # and open the store themselves (the actor's worker would only slow the start).
                server=start_store_server(self.store.root) if self.spec.address or self.force_remote else None,
                threads=threads, force_remote=self.force_remote)
            tuner = tune.Tuner(
                tune.with_resources(trainable, resources),
                param_space=tune_space.search_space(self.spec),
                tune_config=tune.TuneConfig(
                    metric=self.spec.metric, mode=self.spec.mode, search_alg=tune_space.search_algorithm(self.spec, parallel),
                    scheduler=tune_space.scheduler(self.spec), reuse_actors=True,
                    max_concurrent_trials=parallel if self.spec.search == "tpe" else None,
                    num_samples=1 if self.spec.search == "grid" else self.spec.trials),
                run_config=tune.RunConfig(name=f"sweep-{self.sweep_id}", storage_path=str(self.store.root / "sweeps"),
                                          verbose=0, callbacks=[tune_callback(self)], stop=tune_stopper(self),
                                          log_to_file=False))
            self._say(f"sweep {self.sweep_id}: {self.spec.trials} trial(s) of {self.spec.model} on "
                      f"{self.spec.dataset}, {self.spec.search} search over {', '.join(self.spec.varied)}, "
                      f"{parallel or 'as many as the cluster fits'} at once")
            tuner.fit()
            self.poll_stop(force=True)  # a stop that came as the last trials ended (they saw it, Tune did not)
        finally:
            if started_ray:
                ray.shutdown()
        return self.outcome()

    def outcome(self) -> tuple[str, str | None]:
        """How the sweep ended, once Tune is done: (status, message)."""
        if self._stop_since is not None:
            return "stopped", "stopped by the user: running trials were stopped, finished ones are kept"
        if self._early_failures:
            failed = f"{len(self._early_failures)} trial(s) failed before their first epoch: {self._early_failures[0]}"
            return ("completed", failed) if self.store.sweep_runs(self.sweep_id) else ("failed", failed)
        return "completed", None

    def _connect_ray(self) -> bool:
        """Connect to the cluster at the spec's address, or start an embedded local Ray (unless this
        process has one already: tests share one). True when this call started it."""
        import ray

        if ray.is_initialized():
            return False
        if not self.spec.address:
            start_embedded_ray(self.spec.parallel or default_parallel())
            return True
        # The engine's code travels with the job (Ray uploads the package to the cluster), so the
        # other machines need only the same Python packages (requirements.txt), not this folder.
        engine_dir = str(Path(__file__).resolve().parents[1])
        ray.init(address=self.spec.address, runtime_env={"py_modules": [engine_dir], "excludes": ["__pycache__"]},
                 include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
        return True

    def _slots(self) -> tuple[int | None, dict, int]:
        """(trials at once, one trial's Ray resources, its torch threads)."""
        import ray

        available = ray.available_resources()
        gpus = available.get("GPU", 0)
        if self.spec.address:  # a cluster: each trial takes a core (and a GPU where there are some)
            return self.spec.parallel, {"cpu": 1, **({"gpu": 1} if gpus else {})}, 1
        parallel = self.spec.parallel or default_parallel()
        cpus = max(available.get("CPU", parallel), 1)
        resources = {"cpu": max(cpus / parallel, 0.01), **({"gpu": gpus / parallel} if gpus else {})}
        return parallel, resources, max(1, (os.cpu_count() or 1) // parallel)

    def _say(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    # ---- called by Tune, in this process -------------------------------------------------------
    def poll_stop(self, force: bool = False) -> None:
        """A stop asked for (Ctrl-C here, or the sweep's "stop" command): stop its running trials."""
        now = time.monotonic()
        if self._stop_since is not None or now - self._last_poll < POLL_S and not (self._interrupted or force):
            return
        self._last_poll = now
        commands = self.store.sweep_commands_since(self.sweep_id, self._last_command)
        if commands:
            self._last_command = commands[-1][0]
        if self._interrupted or any(verb == "stop" for _, verb in commands):
            self._stop_since = now
            if not commands:  # Ctrl-C: new trials look for the command before they create a run
                self.store.send_sweep_command(self.sweep_id, "stop")
            self._say(f"sweep {self.sweep_id}: stopping {stop_trials(self.store, self.sweep_id)} running trial(s)")

    def stop_all(self) -> bool:
        """Whether Tune should end the sweep now: stopping, and the running trials have ended (or
        had STOP_GRACE_S to)."""
        self.poll_stop()
        if self._stop_since is None:
            return False
        if time.monotonic() - self._stop_since > STOP_GRACE_S:
            return True
        return not any(r.status == "running" for r in self.store.sweep_runs(self.sweep_id))

    def trial_result(self, trial_id: str, result: dict) -> None:
        if "run_id" in result:
            self._runs_by_trial[trial_id] = int(result["run_id"])

    def trial_ended(self, trial_id: str, error: str | None = None) -> None:
        """Tune ended a trial: settle its run, and say how it went."""
        run_id = self._runs_by_trial.get(trial_id)
        if run_id is None:
            if error:
                self._early_failures.append(error.strip().splitlines()[-1] if error.strip() else "no message")
                self._say(f"sweep {self.sweep_id}: trial {trial_id} failed before its first epoch: {error}")
            return
        run = self.settle(self.store.get_run(run_id))
        best = results.best_value(self.store, run.id, self.spec.metric, self.spec.mode)
        values = ", ".join(f"{k}={run.params.get(k)}" for k in self.spec.varied)
        score = f", best {self.spec.metric} {best:.4f}" if best is not None else ""
        self._say(f"run {run.id} ({values}): {run.status} after epoch {run.progress.get('epoch', 0)}{score}")
        trials = results.sweep_trials(self.store, self.store.get_sweep(self.sweep_id))
        leader = results.best_trial(trials, self.spec.mode)
        self.store.set_sweep_best(self.sweep_id, leader.run.id if leader else None)

    def settle(self, run: Run) -> Run:
        """A trial's run that Tune ended while it was "running" (its thread ended inside tune.report,
        or its worker was killed): pruned, stopped or completed, as it was; returns the run as it is now."""
        if run.status not in ("running", "interrupted"):
            return run
        epoch, epochs = int(run.progress.get("epoch", 0)), int(run.params.get("epochs", 0))
        final = run.progress.get("final") or None
        kept = f"checkpoints up to epoch {epoch} are kept"
        if self._stop_since is not None:
            status, message = "stopped", f"stopped by the user with sweep {self.sweep_id} after epoch {epoch}; {kept}"
        elif epochs and epoch >= epochs:
            status, message = "completed", None
        elif self.spec.prune:
            status, message = "pruned", (f"pruned after epoch {epoch} of {epochs} by {PRUNERS[self.spec.prune]}: "
                                         f"its {self.spec.metric} was behind the other trials' there; {kept}")
        else:
            status, message = "interrupted", f"sweep {self.sweep_id}'s trial ended after epoch {epoch}; {kept}"
        self.store.set_status(run.id, status, message, final=final)
        return self.store.get_run(run.id)


def stop_trials(store: RunStore, sweep_id: int) -> int:
    """Send the sweep's running trials the run's own "stop" (each ends at its next step, its
    checkpoints kept); returns how many were running."""
    running = [run for run in store.sweep_runs(sweep_id) if run.status == "running"]
    for run in running:
        store.send_command(run.id, "stop")
    return len(running)


class SweepControl:
    """Stop and follow a sweep from any process (a page, the CLI), whoever drives it."""

    def __init__(self, store: RunStore, sweep_id: int):
        self.store, self.sweep_id = store, int(sweep_id)

    def stop(self) -> None:
        """Ask the driver to stop; its running trials are asked at once too (they stop at their next step)."""
        self.store.send_sweep_command(self.sweep_id, "stop")
        stop_trials(self.store, self.sweep_id)

    def status(self) -> str:
        """The sweep's status; a sweep driven by a child of this process that died is marked so here."""
        sweep = self.store.get_sweep(self.sweep_id)
        process = _PROCESSES.get((str(self.store.root), self.sweep_id))
        if sweep.running and process is not None and not process.is_alive():
            _PROCESSES.pop((str(self.store.root), self.sweep_id), None)
            self.store.set_sweep_status(self.sweep_id, "interrupted",
                                        f"the process driving the sweep ended (exit code {process.exitcode})")
            return "interrupted"
        if sweep.running and process is None:
            self.store.mark_sweeps_interrupted()
            sweep = self.store.get_sweep(self.sweep_id)
        return sweep.status

    def wait_until_done(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        process = _PROCESSES.get((str(self.store.root), self.sweep_id))
        if process is not None:
            process.join(None if timeout == float("inf") else timeout)
        while (status := self.status()) == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
        return status


@functools.cache  # the classes once: Ray is imported only once a sweep runs
def _tune_classes():
    from ray.tune import Callback
    from ray.tune.stopper import Stopper

    class Callback_(Callback):
        def __init__(self, job: SweepJob):
            self.job = job

        def on_step_begin(self, iteration, trials, **info):
            self.job.poll_stop()

        def on_trial_result(self, iteration, trials, trial, result, **info):
            self.job.trial_result(trial.trial_id, result)

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.job.trial_ended(trial.trial_id)

        def on_trial_error(self, iteration, trials, trial, **info):
            self.job.trial_ended(trial.trial_id, error=str(getattr(trial, "error_msg", None) or "see Ray's log"))

    class Stopper_(Stopper):
        def __init__(self, job: SweepJob):
            self.job = job

        def __call__(self, trial_id, result):
            return False

        def stop_all(self):
            return self.job.stop_all()

    return Callback_, Stopper_


def tune_callback(job: SweepJob):
    """Tune's Callback for the job (Ray is imported only once a sweep runs)."""
    return _tune_classes()[0](job)


def tune_stopper(job: SweepJob):
    """Tune's Stopper: ends the whole sweep once the job has stopped its trials."""
    return _tune_classes()[1](job)


def log_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
