"""The engine's core: device policy, Param schema, ModelSpec registry, RunStore, Trainer, jobs, optimisers."""
