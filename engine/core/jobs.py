"""Jobs: every run trains in a process of its own, and everyone else talks to it through the RunStore.

Why a process: a page that redraws in the Streamlit server holds the GIL while it works, and a
training thread in the same process waits for it (measured: a CNN trained 33x slower with the
Training page open). A job's process shares nothing with the server but the store, so rendering
can never starve training, and a run that crashes, runs out of memory or is killed from outside
cannot take the app down: the page finds it marked failed or interrupted.

One protocol for every kind of job (TrainingJob, WordVectorJob, GanSession, LinearRnnJob):

    job = SomeJob(..., store)      validates, creates the run (job.run_id); nothing trains yet
    job.start()                    trains it in a child process (multiprocessing, spawn); returns at once
    job.run()                      trains it in the calling process instead (the CLI, tests)
    RunControl(store, run_id)      from any process, for any run, whoever started it (a page, a
                                   second tab, the CLI): stop(), pause(), resume(), step(n, what),
                                   progress()

Control travels as rows of the store's `commands` table; a job reads them between steps with
`self.commands()` (at most every `poll_seconds`, so the loop stays free of database reads).
Progress travels the other way, as the run's `progress` JSON, written with the metrics it goes with.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass, field, fields

from engine.core.runs import Command, Run, RunStore

# Never a fork of the server: it is multi-threaded (a forked child could inherit a held lock) and
# CUDA cannot be used in a forked child. A forkserver is a clean process, spawned once, that forks
# each job: torch is already imported there, so a job starts in a fraction of a second instead of
# the 2 s a spawned interpreter takes to import it. Its preload list replaces the default
# ["__main__"]: under Streamlit, __main__ is the page script, which a spawned child would run
# again before unpickling its job. Where there is no forkserver (Windows), plain spawn.
JOB_START_METHOD = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
_CONTEXT = multiprocessing.get_context(JOB_START_METHOD)
if JOB_START_METHOD == "forkserver":
    _CONTEXT.set_forkserver_preload(["torch", "engine.core.trainer", "engine.embeddings.word2vec"])
_PROCESSES: dict[tuple[str, int], multiprocessing.process.BaseProcess] = {}  # children of this process


def _key(store: RunStore, run_id: int) -> tuple[str, int]:
    """A child process is found by (store, run): two stores may both have a run 1."""
    return str(store.root), int(run_id)

STOPPED_BY_USER = "stopped by the user"


@dataclass
class Progress:
    """What a page shows of a run while it trains: the run's status and its job's live state."""
    run_id: int
    status: str = "running"
    message: str | None = None
    state: str = "starting"  # starting | training | paused | finishing (running runs only)
    epoch: int = 0           # epochs done
    epochs: int = 0
    step: int = 0
    total_steps: int = 0
    last_loss: float | None = None
    samples_per_s: float | None = None
    eta_s: float | None = None
    fraction: float | None = None  # for jobs without steps (word vectors): share done
    note: str = ""                 # one line on what the job is doing
    final: dict = field(default_factory=dict)  # the latest epoch's figures (the run's final ones at the end)
    updated: float = 0.0           # when the store last heard from the job

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def paused(self) -> bool:
        return self.running and self.state == "paused"

    @property
    def done_fraction(self) -> float:
        if self.fraction is not None:
            return min(max(self.fraction, 0.0), 1.0)
        if self.total_steps and self.running:
            return min(self.step / self.total_steps, 1.0)
        return min(self.epoch / max(self.epochs, 1), 1.0)

    def as_dict(self) -> dict:
        """The live part, as the job writes it to the store."""
        skip = {"run_id", "status", "message", "updated"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}

    @classmethod
    def of(cls, run: Run) -> "Progress":
        known = {f.name for f in fields(cls)}
        live = {k: v for k, v in run.progress.items() if k in known}
        return cls(run_id=run.id, status=run.status, message=run.message, updated=run.updated, **live)


class RunControl:
    """Control and progress of one run, from any process: commands go through the store."""

    def __init__(self, store: RunStore, run_id: int):
        self.store, self.run_id = store, int(run_id)

    def stop(self, wait: float = 0.0) -> str:
        """Ask the job to stop; with `wait`, wait that long for it to end and return the status.
        A child of this process that does not answer in time is ended by force (its checkpoints
        stay), so Stop always stops."""
        self.store.send_command(self.run_id, "stop")
        status = self.wait_until_done(wait) if wait else self.store.get_run(self.run_id).status
        process = _PROCESSES.get(_key(self.store, self.run_id))
        if wait and status == "running" and process is not None and process.is_alive():
            process.kill()
            process.join(5)
            self.store.set_status(self.run_id, "stopped", f"{STOPPED_BY_USER}; its process did not answer "
                                  f"within {wait:g} s and was ended; checkpoints written until then are kept")
            status = "stopped"
        return status

    def pause(self) -> None:
        """Pause between epochs, once the one under way is done (TF Playground's pause)."""
        self.store.send_command(self.run_id, "pause")

    def resume(self) -> None:
        self.store.send_command(self.run_id, "resume")

    def step(self, n: int = 1, what: str = "epoch") -> None:
        """Train `n` more units of `what` (epochs; a GAN's "d", "g" or "both" steps), then pause."""
        self.store.send_command(self.run_id, "step", n=int(n), what=what)

    def progress(self) -> Progress:
        """The run's status and live state; a job whose process has died is marked so here."""
        run = self.store.get_run(self.run_id)
        if run.status == "running" and reap(self.store, self.run_id):
            run = self.store.get_run(self.run_id)
        return Progress.of(run)

    def wait_until_done(self, timeout: float) -> str:
        """Wait for the run to end (and, when it is our child, for its process to exit: then its
        memory, GPU memory included, is back); returns the run's status."""
        deadline = time.monotonic() + timeout
        process = _PROCESSES.get(_key(self.store, self.run_id))
        if process is not None:
            # Our child: wait on the process itself. Polling the store costs CPU, and on a small
            # machine (2 vCPUs: one core's two hyperthreads) that slows the run it waits for.
            process.join(None if timeout == float("inf") else timeout)
        while (status := self.progress().status) == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        if status != "running" and process is not None:
            process.join(max(0.0, deadline - time.monotonic()) if timeout != float("inf") else None)
            if not process.is_alive():
                _PROCESSES.pop(_key(self.store, self.run_id), None)
        return status


def reap(store: RunStore, run_id: int) -> bool:
    """True when run `run_id` was marked running but its process is gone (now marked so)."""
    process = _PROCESSES.get(_key(store, run_id))
    if process is not None:
        if process.is_alive():
            return False
        _PROCESSES.pop(_key(store, run_id), None)
        status, message = _exit_verdict(process.exitcode)
        run = store.get_run(run_id)
        if run.status == "running":
            store.set_status(run_id, status, message)
            return True
        return False
    return bool(store.mark_interrupted(run_id))


def _exit_verdict(exitcode: int | None) -> tuple[str, str]:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.Signals._value2member_map_ else str(-exitcode)
        if -exitcode in (signal.SIGKILL, signal.SIGTERM):
            return "interrupted", (f"the training process was killed ({name}: from outside, or by the system for "
                                   f"lack of memory); metrics and checkpoints up to then are kept")
        return "failed", f"the training process crashed ({name}); metrics and checkpoints up to then are kept"
    return "failed", (f"the training process ended (exit code {exitcode}) without saying why; metrics and "
                      f"checkpoints up to then are kept")


class Job:
    """A run trained by this process (`run()`) or by a child process (`start()`).

    Subclasses create their run in __init__ (so `run_id` is known at once) and implement
    `_work() -> (status, message)`, calling `self.commands()` between steps and
    `self.write_progress()` as they go. `run()` records the final status, whatever happens.
    """
    poll_seconds = 0.1  # commands are read from the store at most this often

    def __init__(self, store: RunStore, run_id: int | None):
        # run_id None: a rank of a distributed run other than rank 0 (engine/core/distributed.py),
        # which trains but records nothing: it has no run, writes nothing and reads no commands.
        self.store, self.run_id = store, run_id
        self.progress = Progress(run_id)
        self._last_command = 0
        self._last_poll = 0.0
        self._interrupted = False

    # ---- control, from anywhere ---------------------------------------------------------------
    @property
    def control(self) -> RunControl:
        return RunControl(self.store, self.run_id)

    def interrupt(self) -> None:
        """Stop at the next step; safe in a signal handler (touches no database)."""
        self._interrupted = True

    # ---- the lifecycle ------------------------------------------------------------------------
    def start(self) -> "Job":
        """Train in a child process; returns at once. The run is owned by the child: if it dies,
        the run is marked so."""
        # The environment travels with the job: a forkserver child has the server's environment
        # from when the forkserver started, not the one this job was created under.
        process = _CONTEXT.Process(target=_child_main, args=(self, dict(os.environ)), daemon=True,
                                   name=f"{type(self).__name__}-run-{self.run_id}")
        process.start()
        self.store.set_owner(self.run_id, process.pid)
        _PROCESSES[_key(self.store, self.run_id)] = process
        return self

    def join(self, timeout: float | None = None) -> str:
        """Wait for a started job to end; returns the run's status."""
        return self.control.wait_until_done(timeout if timeout is not None else float("inf"))

    @property
    def records(self) -> bool:
        """Whether this job has a run in the store to write to (see __init__)."""
        return self.run_id is not None

    def run(self) -> str:
        """Train in this process, to the end; returns the final status."""
        if self.records:
            self.store.set_owner(self.run_id, os.getpid())
        try:
            status, message = self._work()
        except Exception as err:  # noqa: BLE001 - any crash: the run must say so, not hang in "running"
            status, message = self._failure(err)
        finally:
            self._release()
        self.progress.status, self.progress.message = status, message
        if self.records:
            self.store.set_status(self.run_id, status, message, final=self.progress.final)
        return status

    def _work(self) -> tuple[str, str | None]:
        raise NotImplementedError

    def _failure(self, err: Exception) -> tuple[str, str]:
        return "failed", f"{type(err).__name__}: {err}"

    def _release(self) -> None:
        """Give back what the job holds (GPU memory) before the final status is written."""

    # ---- inside the job -----------------------------------------------------------------------
    def commands(self, force: bool = False) -> list[Command]:
        """Commands sent since the last call (at most one store read per `poll_seconds`); a local
        interrupt (Ctrl-C, SIGTERM) comes back as a stop."""
        now = time.monotonic()
        found: list[Command] = []
        if self.records and (force or now - self._last_poll >= self.poll_seconds):
            self._last_poll = now
            found = self.store.commands_since(self.run_id, self._last_command)
            if found:
                self._last_command = found[-1].id
        if self._interrupted:
            found.append(Command(0, "stop", {}))
        return found

    def write_progress(self, rows: list[tuple] | None = None) -> None:
        """The live state (and any metric rows that go with it), in one transaction."""
        if self.records:
            self.store.append_metrics(self.run_id, rows or [], progress=self.progress.as_dict())


class EpochJob(Job):
    """A job that trains in epochs and pauses between them (the Trainer, word vectors): stop ends
    it at the next step, pause after the epoch under way, step(n) trains n more epochs then
    pauses, resume goes on. The paused state is written with the epoch it follows."""

    def __init__(self, store: RunStore, run_id: int, epochs: int, pause_after_epoch: int | None = None):
        super().__init__(store, run_id)
        self.progress.epochs = epochs
        self._pause_after = pause_after_epoch  # pause once this epoch is done ("step one epoch")
        self._stop = False

    def _apply_commands(self, force: bool = False) -> bool:
        """Apply the commands sent since the last look; True when the run must stop."""
        for command in self.commands(force):
            if command.verb == "stop":
                self._stop = True
            elif command.verb == "pause":
                self._pause_after = self.progress.epoch + 1  # after the epoch under way
            elif command.verb == "resume":
                self._pause_after = None
            elif command.verb == "step":  # n more epochs, then pause
                self._pause_after = self.progress.epoch + int(command.args.get("n", 1))
        return self._stop

    def _pause_due(self, epoch: int) -> bool:
        return epoch < self.progress.epochs and self._pause_after is not None and epoch >= self._pause_after

    def _wait_while_paused(self) -> None:
        """Paused between epochs: wait for resume, step or stop (the paused state is already stored)."""
        while not self._apply_commands(force=True) and self._pause_due(self.progress.epoch):
            time.sleep(self.poll_seconds)
        if not self._stop:
            self.progress.state = "training"
            self.write_progress()


def _child_main(job: Job, environ: dict[str, str]) -> None:
    """The child process: stop cleanly on SIGTERM / Ctrl-C (the server's shutdown), then train."""
    os.environ.clear()
    os.environ.update(environ)
    import torch

    from engine.core.device import job_threads
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: job.interrupt())
    torch.set_num_threads(job_threads())  # one core stays with the server and the browser
    job.run()
    # Everything is in the store (committed) by now: skip the interpreter's teardown (0.7 s of
    # unloading torch), so the process, and the memory it holds, is gone as soon as the run ends.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def children() -> dict[int, multiprocessing.process.BaseProcess]:
    """Live job processes started by this process, by run id (for tests and diagnostics)."""
    return {run_id: p for (_, run_id), p in _PROCESSES.items() if p.is_alive()}
