"""Hyperparameter sweeps on Ray Tune: many ordinary runs at once, each tagged with its sweep.

spec.py (what varies, checked as `train` checks it), tune_space.py (Ray Tune's search space,
search algorithm, scheduler), trial.py (one trial: a TrainingJob inside a Ray worker),
remote_store.py (the driver's store for trials on other machines), job.py (SweepJob: drives the
sweep, in this process or a child, like a run's job), results.py (the trials table, the best run).
"""
