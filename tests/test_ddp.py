"""One run over two processes (DistributedDataParallel on gloo, CPU): the same weights as one process
at twice the batch, every model family trains, the CLI's `--nproc 2` through torchrun, a killed rank.

The Trainer-level tests run two ranks from the forkserver (tests/ddp_ranks.py: one process group,
no torchrun start per test); the CLI tests start torchrun as a person does.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from engine.core.registry import validate
from engine.core.runs import RunStore
from tests.ddp_ranks import in_two_ranks
from tests.waiting import wait_for

pytestmark = pytest.mark.slow  # each test starts processes that import torch (torchrun: 3 of them)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _train(group, root: str, model: str, dataset: str, values: dict, options: dict | None = None) -> tuple:
    """In a rank (or, with group None, alone): train one run; returns (run id, status, message,
    the trained parameters as one flat tensor)."""
    from engine.core import trainer

    built = []
    build = trainer.build_model

    def keep(config, data):  # this process only (a forkserver child): see what the Trainer trains
        built.append(build(config, data))
        return built[-1]

    trainer.build_model = keep
    try:
        store = RunStore(root) if group is None or group.leader else None  # the others never open it
        job = trainer.TrainingJob(validate(model, dataset, values, options or {}), store,
                                  device=torch.device("cpu"), data_dir=root, group=group)
        job.run()
    finally:
        trainer.build_model = build
    weights = torch.cat([p.detach().flatten() for p in built[-1].parameters()])
    return job.run_id, job.progress.status, job.progress.message, weights


def _ddp_then_alone(group, root: str, values: dict, batch: int) -> tuple:
    """Both ranks train with batch `batch` each; then rank 0 trains alone with 2 x batch."""
    together = _train(group, root, "mlp", "spiral", {**values, "batch_size": batch})
    alone = _train(None, root, "mlp", "spiral", {**values, "batch_size": 2 * batch}) if group.leader else None
    return together, alone


def test_two_ranks_at_batch_b_end_with_the_weights_of_one_process_at_2b(tmp_path):
    """DDP averages the ranks' gradients, and rank r takes block r of each global batch of the
    shared permutation: with SGD and a mean loss, one epoch ends on the same weights."""
    values = {"optimizer": "sgd", "lr": 0.3, "epochs": 1, "depth": 2, "width": 16, "seed": 3}
    (together, alone), (follower, _) = in_two_ranks(_ddp_then_alone, str(tmp_path), values, 16)
    assert together[1] == alone[1] == follower[1] == "completed"
    assert follower[0] is None  # rank 1 has no run: it records nothing
    assert torch.equal(together[3], follower[3])  # the ranks hold the same weights
    assert torch.allclose(together[3], alone[3], atol=1e-6)
    start = _train(None, str(tmp_path), "mlp", "spiral", {**values, "epochs": 1, "lr": 1e-6, "batch_size": 32})[3]
    assert not torch.allclose(start, alone[3], atol=1e-3)  # it did learn something in that epoch

    store = RunStore(tmp_path)
    run = store.get_run(together[0])
    assert run.params["world_size"] == 2 and run.params["device"] == "cpu" and run.params["batch_size"] == 16
    assert store.get_run(alone[0]).params.get("world_size") is None
    steps = store.metrics(run.id)
    assert steps[steps.name == "loss"].step.max() == 250 // 32  # every step written once, by rank 0


FAMILIES = [  # one short epoch of each family the Trainer trains, tiny settings
    ("vae", "digits", {"hidden": 32}, {}),
    ("dcgan", "digits", {"latent": 8}, {}),
    ("wgan", "digits", {"latent": 8, "n_critic": 1}, {}),  # the critic clipped after each step, on each rank
    ("wgan", "digits", {"latent": 8, "n_critic": 1, "variant": "gp"}, {}),  # the penalty's double backward
    ("gan2d", "ring", {}, {"n_samples": 400}),
    ("seq2seq", "reverse", {"hidden": 16}, {"n_samples": 400}),
    ("transformer", "reverse", {"d_model": 16, "layers": 1}, {"n_samples": 400}),
    ("recurrent", "count_ones", {"hidden": 8}, {"n_samples": 400}),
    ("resnet", "digits", {"width": 4}, {}),
    ("playground", "spiral", {}, {}),
    ("mlp", "plane", {}, {}),  # regression
    ("cnn", "digits", {"channels": 8, "batchnorm": True, "dropout": 0.2}, {}),
]


# 31 steps of 2 x 4 points an epoch: the loss explodes within the first 8, found at the first agreement
DIVERGING = ("mlp", "spiral", {"lr": 100.0, "optimizer": "sgd", "batch_size": 4, "epochs": 3}, {})


def _every_family(group, root: str) -> list:
    return [_train(group, root, model, dataset, {"epochs": 1, "batch_size": 32, **values}, options)
            for model, dataset, values, options in FAMILIES + [DIVERGING]]


def test_every_family_trains_under_ddp_with_the_same_weights_on_both_ranks(tmp_path):
    """A GAN's generator and discriminator (a WGAN's critic) each train through a DDP wrapper of their own; the VAE's
    beta, the GAN's latent and d_steps are read through the Replicated view. A diverging run ends
    on both ranks at the same step."""
    leader, follower = in_two_ranks(_every_family, str(tmp_path))
    store = RunStore(tmp_path)
    for (model, *_), mine, theirs in zip(FAMILIES, leader, follower):
        assert (mine[1], theirs[1]) == ("completed", "completed"), (model, mine[2], theirs[2])
        assert torch.equal(mine[3], theirs[3]), f"{model}: the ranks' weights differ"
        assert store.get_run(mine[0]).model == model and store.checkpoint_epochs(mine[0]) == [1]
    assert leader[-1][1] == follower[-1][1] == "diverged" and leader[-1][2] == follower[-1][2]
    assert store.get_run(leader[-1][0]).status == "diverged"
    assert len(store.list_runs()) == len(FAMILIES) + 1  # rank 1 created none


def _cli(data_dir, *args) -> list[str]:
    return [sys.executable, "-m", "engine", "--data-dir", str(data_dir), "train", *args]


def _env(shared_data_dir) -> dict:
    return {**os.environ, "DEEP_PLAYGROUND_DATA": str(shared_data_dir), "OMP_NUM_THREADS": "1"}


CNN = ["--model", "cnn", "--dataset", "digits", "--set", "channels=8", "--lr", "0.01", "--seed", "1"]


def test_cli_nproc_2_trains_a_cnn_to_the_accuracy_of_one_process_and_its_checkpoint_opens(
        tmp_path, shared_data_dir, data_env):
    from engine.core.loading import load_run
    from engine.core.trainer import TrainingJob

    result = subprocess.run(_cli(tmp_path, *CNN, "--epochs", "4", "--batch-size", "32", "--nproc", "2"),
                            cwd=ROOT, env=_env(shared_data_dir), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])  # one JSON line: rank 0's
    assert len(result.stdout.strip().splitlines()) == 1
    assert line["status"] == "completed" and line["world_size"] == 2
    assert "2 processes" in result.stderr and "epoch 4/4" in result.stderr

    store = RunStore(tmp_path / "runs")
    alone = TrainingJob(validate("cnn", "digits", {"channels": 8, "lr": 0.01, "seed": 1, "epochs": 4,
                                                   "batch_size": 64}), store, device="cpu")
    alone.run()
    ddp_acc, alone_acc = line["final"]["val_acc"], alone.progress.final["val_acc"]
    assert alone_acc >= 0.9 and abs(ddp_acc - alone_acc) <= 0.04, (ddp_acc, alone_acc)

    run = store.get_run(line["run_id"])
    assert run.params["world_size"] == 2 and run.params["sync_bn"] is False  # SyncBatchNorm needs GPUs
    assert not [k for k in store.load_checkpoint(run.id) if k.startswith("module.")]
    loaded = load_run(store, run.id, device="cpu")  # opens like any other run's
    assert loaded.epoch == 4 and loaded.model(loaded.data.x_val[:3]).shape == (3, 10)


def _ranks_of(launcher: int) -> dict[int, int]:
    """{rank: pid} of the torchrun workers under the launcher process (from their environment)."""
    ranks = {}
    for pid in (int(p) for p in os.listdir("/proc") if p.isdigit()):
        try:
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            if parent != launcher:
                continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = dict(v.split(b"=", 1) for v in f.read().split(b"\0") if b"=" in v)
        except (OSError, ValueError, IndexError):
            continue
        if b"RANK" in env:
            ranks[int(env[b"RANK"])] = pid
    return ranks


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the ranks' pids in /proc")
def test_sigkill_of_one_rank_ends_the_others_within_seconds_and_the_run_is_interrupted(tmp_path, shared_data_dir):
    launcher = subprocess.Popen(_cli(tmp_path, *CNN, "--epochs", "1000", "--nproc", "2"), cwd=ROOT,
                                env=_env(shared_data_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        runs = tmp_path / "runs"

        def training():
            if not (runs / "runs.sqlite").exists():
                return None
            listed = RunStore(runs).list_runs()
            return listed and RunStore(runs).checkpoint_epochs(listed[0].id) and listed[0]
        run = wait_for(training, 180, "the DDP run's first checkpoint")
        ranks = wait_for(lambda: len(r := _ranks_of(launcher.pid)) == 2 and r, 30, "the two ranks")
        os.kill(ranks[1], signal.SIGKILL)
        killed = time.monotonic()
        launcher.wait(60)
        ended = time.monotonic() - killed
    finally:
        if launcher.poll() is None:
            launcher.kill()
    out, err = launcher.communicate(timeout=30)
    assert ended < 15, f"the launcher took {ended:.1f} s to end after rank 1 was killed"
    assert launcher.returncode == 1
    assert "rank 1 was killed by SIGKILL" in err
    assert not _ranks_of(launcher.pid)
    after = RunStore(runs).get_run(run.id)
    assert after.status == "interrupted", (after.status, after.message)
    assert after.message.startswith("another process of this run (one of 2 ranks) ended")
    assert json.loads(out.strip().splitlines()[-1])["status"] == "interrupted"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_nccl_ranks_train_on_their_own_gpu_with_syncbatchnorm(tmp_path, shared_data_dir):
    """On CUDA: nccl, rank i on cuda:i, BatchNorm synchronised (SyncBatchNorm needs the GPU). One GPU
    runs one rank (torchrun directly: nccl refuses two ranks on one GPU), two or more run two."""
    nproc = min(2, torch.cuda.device_count())
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
               "-m", "engine", "--data-dir", str(tmp_path), "train", *CNN, "--set", "batchnorm=true",
               "--epochs", "3", "--batch-size", "32", "--device", "cuda"]
    result = subprocess.run(command, cwd=ROOT, env=_env(shared_data_dir), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout.strip().splitlines()[-1])
    assert line["status"] == "completed" and line["device"] == "cuda:0" and line["world_size"] == nproc
    assert line["final"]["val_acc"] >= 0.9
    run = RunStore(tmp_path / "runs").get_run(line["run_id"])
    assert run.params["sync_bn"] is True and run.params["device"] == "cuda:0"
