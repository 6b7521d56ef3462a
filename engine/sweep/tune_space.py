"""A SweepSpec in Ray Tune's terms: the search space, the search algorithm and the scheduler.

Grid: tune.grid_search over each --grid list (Tune runs the cartesian product). Random and TPE:
--grid lists become tune.choice, ranges tune.uniform / tune.loguniform (tune.randint /
tune.lograndint for whole numbers) as their Param is a plain or a log slider; TPE is Optuna's
TPESampler behind Ray's OptunaSearch. Pruning: ASHA (asynchronous successive halving) or the
median stopping rule, over epochs (each trial reports once per epoch).
"""
from __future__ import annotations

from engine.sweep.spec import SweepSpec, param_of

TIME_ATTR = "training_iteration"  # Tune counts the reports: one per epoch


def search_space(spec: SweepSpec) -> dict:
    from ray import tune

    if spec.search == "grid":
        return {name: tune.grid_search(values) for name, values in spec.grid.items()}
    space = {name: tune.choice(values) for name, values in spec.grid.items()}
    for name, (low, high) in spec.ranges.items():
        param = param_of(spec.model, name)
        if param.kind == "int":  # randint's upper end is exclusive
            space[name] = tune.lograndint(int(low), int(high) + 1) if param.log else tune.randint(int(low), int(high) + 1)
        else:
            space[name] = tune.loguniform(low, high) if param.log else tune.uniform(low, high)
    return space


def search_algorithm(spec: SweepSpec, parallel: int | None, seed: int = 0):
    """Tune's own variant generator for grid and random (seeded: the same sweep samples the same
    values), Optuna's TPE for tpe. `parallel`: trials at once (None: as many as fit)."""
    if spec.search != "tpe":
        from ray.tune.search.basic_variant import BasicVariantGenerator
        return BasicVariantGenerator(max_concurrent=parallel or 0, random_state=seed)
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return OptunaSearch(sampler=optuna.samplers.TPESampler(seed=seed))  # metric and mode: from TuneConfig


def scheduler(spec: SweepSpec, grace_period: int = 1):
    """The early-stopping scheduler for --prune, or None (every trial runs all its epochs). Metric
    and mode come from the TuneConfig (Tune refuses them in both places)."""
    if spec.prune is None:
        return None
    from ray.tune.schedulers import ASHAScheduler, MedianStoppingRule

    if spec.prune == "median":
        return MedianStoppingRule(time_attr=TIME_ATTR, grace_period=grace_period, min_samples_required=2)
    return ASHAScheduler(time_attr=TIME_ATTR, max_t=max(spec.epochs, 1),
                         grace_period=min(grace_period, max(spec.epochs, 1)), reduction_factor=2)
