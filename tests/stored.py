"""A run made without training, for the tests that only need to open one."""
from __future__ import annotations

from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import build_model
from engine.data import load_dataset


def stored_run(store: RunStore, model: str, dataset: str, values: dict | None = None, options: dict | None = None,
               data_dir=None, epochs: int = 1) -> int:
    """A finished run with `epochs` checkpoints of freshly built weights, written through the store
    as the Trainer writes them. Made here, not trained: a job trains in a child process, which does
    not know a model registered only inside a test (and training takes time a loader test need not)."""
    config = validate(model, dataset, values, options)
    net = build_model(config, load_dataset(dataset, config.dataset_options, data_dir=data_dir))
    run_id = store.create_run(model, dataset, {**config.as_dict(), "device": "cpu"})
    for epoch in range(1, epochs + 1):
        store.save_checkpoint(run_id, epoch, net.state_dict())
    store.set_status(run_id, "completed")
    return run_id
