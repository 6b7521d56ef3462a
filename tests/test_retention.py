"""Checkpoint retention (engine/core/retention.py): which epochs a run keeps, the Trainer applying
it after each save, and the clean-up of runs made before it existed (Home, `runs clean-up`)."""
import pytest
import torch

from engine.core.registry import TRAINING_PARAMS, validate
from engine.core.retention import Retention, best_epoch, clean_up, default_retention, human_bytes, plan_clean_up
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def _epochs_with_scores(store, model: str, scores: dict[int, float], name: str = "val_acc",
                        params: dict | None = None, status: str = "completed") -> int:
    """A finished run with one tiny checkpoint and one `name` score per epoch."""
    run_id = store.create_run(model, "spiral", params or {})
    for epoch, score in scores.items():
        store.save_checkpoint(run_id, epoch, {"w": torch.full((250,), float(epoch))})
        store.append_metrics(run_id, [(epoch, epoch, name, score, 0.0)])
    store.set_status(run_id, status)
    return run_id


def test_the_policy_keeps_the_last_k_epoch_one_every_nth_and_the_best():
    policy = Retention(keep_last=3, keep_every=10, keep_best=True)
    assert policy.kept(list(range(1, 26)), best=7) == {1, 7, 10, 20, 23, 24, 25}
    assert Retention(3, 0, False).kept(list(range(1, 26)), best=7) == {23, 24, 25}
    assert Retention(1, 0, True).kept([4, 9], best=None) == {9}  # the newest is always kept
    assert policy.describe() == "the last 3 epochs, epoch 1 and every 10th, and the best"
    assert Retention(1, 0, False).describe() == "the last epoch"


def test_the_defaults_keep_16_checkpoints_of_a_1000_epoch_run():
    """Input: the 1000-epoch MLP run of the issue (12.9 GB, one checkpoint per epoch: 12.9 MB each)."""
    kept = default_retention().kept(list(range(1, 1001)), best=437)
    assert len(kept) == 16 and {1, 100, 437, 996, 1000} <= kept
    assert len(kept) * 12.9e6 < 300e6  # under a few hundred MB
    assert default_retention().kept([1, 2, 3, 4, 5], best=2) == {1, 2, 3, 4, 5}  # short runs keep all


def test_the_retention_settings_are_training_params():
    names = {p.name: p for p in TRAINING_PARAMS}
    assert (names["keep_last"].default, names["keep_every"].default, names["keep_best"].default) == (5, 100, True)
    config = validate("mlp", "spiral", {"keep_last": "2", "keep_every": "0", "keep_best": "false"})
    assert Retention.of(config.training) == Retention(2, 0, False)
    assert Retention.of({}) == default_retention()  # a run made before they existed


def test_the_best_epoch_is_the_highest_accuracy_else_the_lowest_loss(store):
    acc = _epochs_with_scores(store, "mlp", {1: 0.5, 2: 0.9, 3: 0.8})
    loss = _epochs_with_scores(store, "mlp", {1: 0.7, 2: 0.3, 3: float("nan")}, name="val_loss")
    none = _epochs_with_scores(store, "mlp", {1: 1.0}, name="train_loss")
    assert (best_epoch(store, acc), best_epoch(store, loss), best_epoch(store, none)) == (2, 2, None)


def test_a_long_run_keeps_only_what_its_policy_keeps(data_env, store):
    """Input: a 12-epoch run with keep_last=3, keep_every=5, keep_best=true (before: all 12 kept)."""
    config = validate("mlp", "spiral", {"epochs": 12, "batch_size": 125, "keep_last": 3, "keep_every": 5})
    job = TrainingJob(config, store, device="cpu")
    assert job.run() == "completed"
    best = best_epoch(store, job.run_id)
    assert store.checkpoint_epochs(job.run_id) == sorted({1, 5, 10, 11, 12, best})
    assert set(store.checksums(job.run_id)) == set(store.checkpoint_epochs(job.run_id))


def test_clean_up_applies_the_defaults_to_finished_runs_made_before_retention(store):
    """Input: a finished 30-epoch run without retention settings, a running one, and a run of a model
    outside the registry (word vectors): only the first is cleaned."""
    old = _epochs_with_scores(store, "mlp", {e: e / 100 for e in range(1, 31)} | {12: 0.99})
    running = _epochs_with_scores(store, "mlp", {e: 0.5 for e in range(1, 31)}, status="running")
    vectors = _epochs_with_scores(store, "word2vec", {e: 0.5 for e in range(1, 31)})
    size = store.checkpoint_sizes(old)[1]

    plan = plan_clean_up(store)

    kept = {1, 12, 26, 27, 28, 29, 30}  # epoch 1, the best (12), the last 5
    assert plan.epochs == {old: sorted(set(range(1, 31)) - kept)}
    assert plan.checkpoints == 23 and plan.bytes == 23 * size
    assert clean_up(store, plan) == plan.bytes
    assert store.checkpoint_epochs(old) == sorted(kept)
    assert len(store.checkpoint_epochs(running)) == len(store.checkpoint_epochs(vectors)) == 30
    assert plan_clean_up(store).checkpoints == 0


def test_human_bytes():
    assert [human_bytes(n) for n in (0, 999, 1234, 12_900_000_000)] == ["0 bytes", "999 bytes", "1.2 kB", "12.9 GB"]
