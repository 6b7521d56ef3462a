"""The Training page on a run over two processes started from the CLI (`--nproc 2`, torchrun): it is
shown live like any other, its device reads "2 x cpu", and Pause, Step and Stop reach every rank."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.core.jobs import RunControl
from engine.core.runs import RunStore
from tests.app.helpers import open_page
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "train.py")
pytestmark = pytest.mark.slow  # torchrun starts 3 processes that import torch


def test_a_ddp_run_from_the_cli_is_shown_live_with_its_device_and_stops_from_the_store(fresh_data_dir):
    cli = subprocess.Popen([sys.executable, "-m", "engine", "train", "--model", "mlp", "--dataset", "spiral",
                            "--epochs", "1000", "--batch-size", "8", "--nproc", "2"], cwd=ROOT,
                           env={**os.environ, "OMP_NUM_THREADS": "1"}, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    try:
        store = RunStore(fresh_data_dir / "runs")
        run = wait_for(lambda: (store.root / "runs.sqlite").exists() and (runs := store.list_runs())
                       and RunControl(store, runs[0].id).progress().epoch >= 1 and runs[0], 180,
                       "the DDP run's first epoch")
        at = open_page(PAGE, run=str(run.id))
        assert any(f"**Run {run.id}**: mlp on spiral · 2 x cpu · **running**" in m.value for m in at.markdown)
        assert any("Trained by a process this server did not start" in c.value for c in at.caption)
        control = RunControl(store, run.id)  # the page's buttons: commands in the store, read by rank 0
        control.pause()
        paused = wait_for(lambda: (p := control.progress()).paused and p, 60, "the pause")
        control.step(1)  # one more epoch on every rank, then paused again
        wait_for(lambda: (p := control.progress()).paused and p.epoch == paused.epoch + 1, 60, "the stepped epoch")
        assert control.stop(wait=60) == "stopped"
        out, err = cli.communicate(timeout=60)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["status"] == "stopped"
