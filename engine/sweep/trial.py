"""One trial of a sweep, inside a Ray worker: an ordinary TrainingJob, tagged with its sweep.

It reports each epoch's figures to Tune (tune.report), which the scheduler reads to prune (without
a scheduler, only its final figures, once: each report waits for the driver). When
Tune ends the trial early (pruned, or the sweep stopped), that report never returns: Tune's session
raises SystemExit in it, the run's thread ends there with the epoch's metrics and checkpoint written,
and the driver marks the run (engine/sweep/job.py settle()).
"""
from __future__ import annotations

import math

from engine.core.params import ParamError
from engine.sweep.spec import SweepSpec


def open_trial_store(root: str, driver_node: str, server, force_remote: bool = False):
    """The run store: opened directly on the driver's machine, through the StoreServer actor elsewhere."""
    import ray

    from engine.core.runs import RunStore
    from engine.sweep.remote_store import RemoteStore

    if server is None or not force_remote and ray.get_runtime_context().get_node_id() == driver_node:
        return RunStore(root)
    return RemoteStore(server, root)


def run_trial(config: dict, spec: dict, sweep_id: int, root: str, data_dir: str | None, driver_node: str,
              server, threads: int, force_remote: bool = False) -> None:
    import torch
    from ray import tune

    from engine.core.trainer import TrainingJob

    torch.set_num_threads(threads)
    spec = SweepSpec.from_dict(spec)
    store = open_trial_store(root, driver_node, server, force_remote)
    if any(verb == "stop" for _, verb in store.sweep_commands_since(sweep_id, 0)):
        return  # the sweep is stopping: no new run
    job = None

    def report(progress) -> None:
        figures = {k: float(v) for k, v in progress.final.items() if isinstance(v, (int, float))}
        if spec.metric not in figures:
            known = ", ".join(k for k in figures if k not in ("epochs", "steps"))
            raise ParamError(f"this run has no metric {spec.metric!r} to rank trials by; it has {known}")
        value = figures[spec.metric]
        figures[spec.metric] = value if math.isfinite(value) else (-math.inf if spec.mode == "max" else math.inf)
        tune.report({**figures, "run_id": job.run_id, "epoch": progress.epoch})

    # A report blocks the trial until the driver has taken it (Tune's function trainables report
    # synchronously): once per epoch only where a scheduler needs it to prune, else once at the end.
    job = TrainingJob(spec.trial_config(config), store, device=spec.device, data_dir=data_dir,
                      on_epoch=report if spec.prune else None, sweep_id=sweep_id)
    job.run()
    if not spec.prune and job.progress.epoch and spec.metric in job.progress.final:
        report(job.progress)
