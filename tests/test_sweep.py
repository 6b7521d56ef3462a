"""Sweeps on Ray Tune (engine/sweep): a grid's trials are runs in the store with the right params and
the best one named; ASHA prunes a trial that falls behind and the run says so with its epoch; a stop
ends the running trials as stopped; bad names and values exit 2 with `train`'s messages.

One embedded Ray session serves the module (its start-up takes seconds); trials are tiny (2D sets
of 200 points, a few epochs)."""
import itertools
import threading
import time

import pytest
import torch

from engine.__main__ import main
from engine.core.runs import RunStore
from engine.sweep import results
from engine.sweep.job import SweepControl, SweepJob, start_embedded_ray
from engine.sweep.spec import make_spec

SMALL = {"epochs": "2", "batch_size": "16"}
POINTS = {"n_samples": "200"}


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    start_embedded_ray(2)  # as a CLI sweep starts it: its workers import torch as they start
    yield
    ray.shutdown()


@pytest.fixture
def store(tmp_path, data_env):
    return RunStore(tmp_path / "runs")


# Marked full: beside two busy loops an embedded Ray slows to minutes per test (114-198 s each of these three in CI);
# the default run keeps the sweep path through the Sweep tab's AppTest and the browser test (a CLI 2x2 grid).
@pytest.mark.full
def test_a_2x2_grid_runs_4_trials_into_the_store_and_names_the_best(ray_session, store):
    spec = make_spec("mlp", "spiral", SMALL, POINTS, grid={"lr": ["0.01", "0.1"], "width": ["4", "16"]}, parallel=2)
    job = SweepJob(spec, store)
    assert job.run() == "completed"

    runs = store.sweep_runs(job.sweep_id)
    assert sorted((r.params["lr"], r.params["width"]) for r in runs) == sorted(itertools.product((0.01, 0.1), (4, 16)))
    assert {(r.status, r.sweep_id, r.model, r.dataset, r.params["epochs"]) for r in runs} == \
        {("completed", job.sweep_id, "mlp", "spiral", 2)}
    best = {r.id: store.metrics(r.id, ["val_acc"]).value.max() for r in runs}
    sweep = store.get_sweep(job.sweep_id)
    assert (sweep.status, sweep.metric, sweep.mode) == ("completed", "val_acc", "max")
    assert best[sweep.best_run] == max(best.values())
    table = results.trials_frame(results.sweep_trials(store, sweep), sweep)
    assert list(table.columns) == ["run", "status", "epochs", "lr", "width", "best val_acc"]
    assert sorted(table.run) == sorted(best) and set(table.epochs) == {2}


@pytest.mark.full
def test_asha_prunes_a_trial_that_falls_behind_and_marks_its_run(ray_session, store):
    # One at a time, the good learning rate first: at epoch 1 ASHA has its score (1.0 on the
    # Gaussians) when the hopeless one (lr 1e-6, about 0.5) arrives, and stops that one there.
    # The trials write through the driver's StoreServer actor, as trials on other machines do.
    spec = make_spec("mlp", "gaussians", {"epochs": "3", "batch_size": "8"}, POINTS,
                     grid={"lr": ["0.03", "1e-6"]}, prune="asha", parallel=1)
    job = SweepJob(spec, store, force_remote=True)
    assert job.run() == "completed"

    good, bad = store.sweep_runs(job.sweep_id)
    assert (good.params["lr"], good.status, good.progress["epoch"]) == (0.03, "completed", 3)
    assert (bad.params["lr"], bad.status, bad.progress["epoch"]) == (1e-6, "pruned", 1)
    assert bad.message.startswith("pruned after epoch 1 of 3 by ASHA: its val_acc was behind")
    assert bad.final["epochs"] == 1 and store.checkpoint_epochs(bad.id) == [1]
    assert store.get_sweep(job.sweep_id).best_run == good.id


@pytest.mark.full
def test_stop_ends_the_running_trials_as_stopped(ray_session, store):
    spec = make_spec("mlp", "spiral", {"epochs": "1000", "batch_size": "8"}, POINTS,
                     grid={"lr": ["0.01", "0.001", "0.1"]}, parallel=2)
    job = SweepJob(spec, store)

    def stop_once_training():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(r.progress.get("epoch", 0) >= 1 for r in store.sweep_runs(job.sweep_id)):
                SweepControl(store, job.sweep_id).stop()
                return
            time.sleep(0.2)

    stopper = threading.Thread(target=stop_once_training)
    stopper.start()
    assert job.run() == "stopped"
    stopper.join()
    runs = store.sweep_runs(job.sweep_id)
    assert 1 <= len(runs) <= 2  # the third trial never started
    assert {r.status for r in runs} == {"stopped"}
    assert all(r.progress["epoch"] < 1000 for r in runs)


def test_trials_that_failed_before_their_run_make_the_sweep_fail_with_their_error(store):
    """A trial can fail before it creates its run (its worker could not start, its data would not load):
    the sweep must not say "completed" over an empty table."""
    job = SweepJob(make_spec("mlp", "spiral", SMALL, POINTS, grid={"lr": ["0.01", "0.1"]}, parallel=2), store)
    error = "Traceback (most recent call last):\n  File \"x.py\", line 1\nModuleNotFoundError: No module named 'engine'\n"
    job.trial_ended("trial_1", error=error)
    job.trial_ended("trial_2", error=error)
    assert job.outcome() == ("failed", "2 trial(s) failed before their first epoch: "
                                       "ModuleNotFoundError: No module named 'engine'")
    store.create_run("mlp", "spiral", {"lr": 0.1}, sweep_id=job.sweep_id)  # one trial had its run
    assert job.outcome() == ("completed", "2 trial(s) failed before their first epoch: "
                                          "ModuleNotFoundError: No module named 'engine'")


def test_bad_names_and_values_exit_2_with_the_messages_of_train(data_env, capsys):
    base = ["--model", "mlp", "--dataset", "spiral"]
    cases = [(["--grid", "widht=4,8"], ["--set", "widht=4"]),
             (["--grid", "lr=0.01,1000"], ["--lr", "1000"]),
             (["--random", "lr=0:1"], ["--lr", "0"]),
             (["--grid", "width=4,0"], ["--set", "width=0"])]
    for sweep_args, train_args in cases:
        assert main(["sweep", *base, *sweep_args]) == 2
        sweep_error = capsys.readouterr().err
        assert main(["train", *base, *train_args]) == 2
        assert sweep_error == capsys.readouterr().err
    assert main(["sweep", *base, "--grid", "activation=relu,tanh", "--random", "width=2:8", "--search", "grid"]) == 2
    assert capsys.readouterr().err == \
        "error: --random ranges are sampled: use --search random or --search tpe with them\n"
    assert main(["sweep", *base, "--random", "activation=relu:tanh"]) == 2
    assert capsys.readouterr().err == "error: activation is a choice setting: give its values with --grid activation=a,b\n"


def test_an_older_store_opened_read_only_lists_its_runs_and_no_sweeps(tmp_path, monkeypatch):
    """A store made before sweeps (no runs.sweep_id, no sweeps table) on a full disk or a read-only
    folder cannot be migrated: its runs still list and open, and it has no sweeps."""
    import sqlite3

    from engine.core.runs import StoreReadOnly
    store = RunStore(tmp_path)
    run_id = store.create_run("mlp", "spiral", {"lr": 0.1})
    with sqlite3.connect(tmp_path / "runs.sqlite") as conn:
        conn.execute("ALTER TABLE runs DROP COLUMN sweep_id")
        conn.execute("DROP TABLE sweep_commands")
        conn.execute("DROP TABLE sweeps")

    def refuse(self):
        raise StoreReadOnly("the disk is full")
    monkeypatch.setattr(RunStore, "_prepare", refuse)
    old = RunStore(tmp_path)
    assert old.read_only is not None
    assert [(r.id, r.params, r.sweep_id) for r in old.list_runs()] == [(run_id, {"lr": 0.1}, None)]
    assert old.get_run(run_id).status == "running"
    assert old.list_sweeps() == [] and old.sweep_runs(1) == []


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_cuda_two_trials_share_the_gpu(ray_session, store):
    """On a GPU machine: --parallel 2 puts two trials on the one GPU (half of it each, in Ray's
    accounting), each training there."""
    spec = make_spec("mlp", "spiral", SMALL, POINTS, grid={"lr": ["0.01", "0.1"]}, parallel=2, device="cuda")
    job = SweepJob(spec, store)
    assert job.run() == "completed"
    runs = store.sweep_runs(job.sweep_id)
    assert [(r.status, r.params["device"].startswith("cuda")) for r in runs] == [("completed", True)] * 2


def test_ranges_follow_the_param_schema_in_tunes_search_space(data_env):
    """Log sliders sample log-uniformly (lr, width), others uniformly; grid lists are Tune's grid,
    or its choices under random and TPE search. No Ray session needed."""
    from ray.tune.search.sample import Categorical, Float, Integer, LogUniform, Uniform

    from engine.sweep.tune_space import search_space
    grid = search_space(make_spec("mlp", "spiral", {}, {}, grid={"width": ["4", "16"], "activation": ["relu", "tanh"]}))
    assert grid == {"width": {"grid_search": [4, 16]}, "activation": {"grid_search": ["relu", "tanh"]}}
    space = search_space(make_spec("mlp", "spiral", {}, {}, grid={"activation": ["relu", "tanh"]}, search="tpe",
                                   ranges={"lr": ("1e-4", "1"), "width": ("4", "64"), "dropout": ("0", "0.5")}))
    assert isinstance(space["activation"], Categorical) and space["activation"].categories == ["relu", "tanh"]
    assert isinstance(space["lr"], Float) and isinstance(space["lr"].sampler, LogUniform)
    assert (space["lr"].lower, space["lr"].upper) == (1e-4, 1.0)
    assert isinstance(space["width"], Integer) and isinstance(space["width"].sampler, LogUniform)
    assert (space["width"].lower, space["width"].upper) == (4, 65)  # randint's upper end is exclusive
    assert isinstance(space["dropout"], Float) and isinstance(space["dropout"].sampler, Uniform)
