"""The driver's RunStore, for trials that run on another machine of a Ray cluster.

The store is SQLite in WAL mode on the driver's disk: it cannot be shared over a network file
system (WAL needs shared memory). So a trial on another node writes through a Ray actor pinned to
the driver's node, which holds the one real RunStore there: every call the trial's TrainingJob
makes (create_run, append_metrics, save_checkpoint, commands_since, ...) is forwarded to it, and
the pages on the driver's machine see the run live, as any other. A trial on the driver's own
node opens the store directly (no actor hop): engine/sweep/trial.py picks.
"""
from __future__ import annotations

from pathlib import Path


class StoreServer:
    """The actor's class: the one RunStore on the driver's machine, called by name."""

    def __init__(self, root: str):
        from engine.core.runs import RunStore
        self.store = RunStore(root)

    def call(self, name: str, args: tuple, kwargs: dict):
        return getattr(self.store, name)(*args, **kwargs)


class RemoteStore:
    """Looks like a RunStore to a TrainingJob; each method call is one call to the StoreServer actor."""

    def __init__(self, server, root: str):
        self._server = server
        self.root = Path(root)
        self.read_only = None

    def __getattr__(self, name: str):
        if name.startswith("_"):  # pickling and copying look for dunders: not store methods
            raise AttributeError(name)
        import ray

        def call(*args, **kwargs):
            return ray.get(self._server.call.remote(name, args, kwargs))
        return call


def start_store_server(root: str):
    """The StoreServer actor, on this (the driver's) node, using no CPU slot of the trials."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = ray.get_runtime_context().get_node_id()
    return ray.remote(num_cpus=0)(StoreServer).options(
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=here, soft=False)).remote(str(root))
