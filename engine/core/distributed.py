"""One run over many processes: PyTorch's DistributedDataParallel, started by torchrun.

`python -m engine train ... --nproc N` hands the same command (less --nproc) to torchrun
(`torch.distributed.run`, PyTorch's own launcher) with N local processes; --nnodes, --node-rank
and --rdzv-endpoint pass through for several machines. Each process is one rank: it joins the
process group (gloo on the CPU, nccl on CUDA, each rank on LOCAL_RANK's GPU) and the Trainer
(engine/core/trainer.py) trains through DDP, which all-reduces (averages) the gradients during
backward, so every rank takes the same optimiser step on the same weights.

What the Trainer does differently with a Group:
- Only rank 0 (the leader) has a run in the store: it writes metrics, progress, live frames and
  checkpoints (the inner module's state_dict: no `module.` prefix) and reads the commands; the
  other ranks record nothing.
- Each rank takes its own block of every global batch of the epoch's permutation (`shard`): with
  the same seed on every rank, global batch i is the union of the ranks' batch i, so N ranks at
  batch_size B learn as one process at N x B. batch_size is per process.
- Decisions are agreed (`agree`): every SYNC_EVERY steps, at the end of each epoch and while
  paused, all ranks exchange [stop, divergence] in one small all_gather at the same point of the
  loop, so they stop, pause and give up together and none waits forever in a collective.
- Objectives train through `Replicated`: calls go through the DDP wrapper, attribute reads go to
  the model; a GAN's generator and discriminator each get a wrapper of their own (Objective.ddp_parts).
  Evaluation and live frames run on the leader with the inner module (no collectives).
"""
from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from engine.core.params import Param

SYNC_BN = Param("sync_bn", "bool", True, "under --nproc: BatchNorm statistics over the whole global batch "
                "(nn.SyncBatchNorm; it needs GPUs: on the CPU each process normalises by its own batch)")
SYNC_EVERY = 8  # steps between the ranks' agreements on stop and divergence (a stop waits at most this)
# A collective waits this long for its peers: evaluation on the leader (a few seconds) must fit. A
# rank that dies closes its sockets, so the others fail at once; torchrun's agent then ends them.
TIMEOUT = timedelta(minutes=5)
DEFAULT_RDZV_PORT = 29400


@dataclass(frozen=True)
class Group:
    """This process's place in the run: rank among `world` processes, and its rank on this machine."""
    rank: int
    world: int
    local_rank: int

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def shard(self, order: torch.Tensor, batch: int) -> torch.Tensor:
        """This rank's indices of the epoch's permutation: block `rank` of every global batch of
        world x batch (the ragged end dropped), so the ranks' batch i together are global batch i."""
        usable = len(order) // (self.world * batch) * self.world * batch
        return order[:usable].view(-1, self.world, batch)[:, self.rank].reshape(-1)

    def agree(self, stop: bool, paused: bool = False, bad: tuple[int, float] | None = None,
              device: torch.device | None = None) -> tuple[bool, bool, tuple[int, float] | None]:
        """One all_gather of every rank's view: stop if any rank stops (the leader read the store's
        commands, any rank may have been interrupted), paused as the leader says, diverged at the
        earliest bad step any rank saw (with its loss)."""
        mine = torch.tensor([float(stop), float(paused), bad[0] if bad else float("inf"),
                             bad[1] if bad else 0.0], dtype=torch.float64, device=device)
        rows = [torch.empty_like(mine) for _ in range(self.world)]
        dist.all_gather(rows, mine)
        table = torch.stack(rows).cpu()
        first = int(table[:, 2].argmin())
        earliest = (int(table[first, 2]), float(table[first, 3])) if torch.isfinite(table[first, 2]) else None
        return bool(table[:, 0].any()), bool(table[0, 1]), earliest

    def mean(self, values: torch.Tensor) -> torch.Tensor:
        """The mean over the ranks of a tensor of per-rank figures (the epoch's train stats)."""
        values = values.clone()
        dist.all_reduce(values)
        return values / self.world


def in_torchrun() -> bool:
    """Whether this process is a rank started by torchrun (it sets these for every worker)."""
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ and "RANK" in os.environ


def join(device: torch.device) -> tuple[Group, torch.device]:
    """Join torchrun's process group: nccl with cuda:LOCAL_RANK when `device` is CUDA, gloo
    otherwise. Returns this rank's Group and the device it trains on."""
    group = Group(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))
    if device.type == "cuda":
        device = torch.device("cuda", group.local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", timeout=TIMEOUT, device_id=device)
    else:
        dist.init_process_group("gloo", timeout=TIMEOUT)
    return group, device


def leave(together: bool) -> None:
    """Leave the process group. `together` (every rank ended the run the same way): wait for the
    others first. A rank that tore its group down while another was still evaluating and saving the
    last epoch was seen to abort in C++ ("terminate called without an active exception", SIGABRT)
    on a busy machine; after a lost peer there is no one to wait for."""
    if not dist.is_initialized():
        return
    if together:
        try:
            dist.barrier()
        except Exception:  # noqa: BLE001  (a peer gone at the last moment: leave anyway)
            pass
    dist.destroy_process_group()


def exit_rank(code: int):
    """End a torchrun rank's process now, its output flushed, without the interpreter's teardown (for
    a run whose ranks ended it together; after a lost peer the ranks return as usual): on a
    busy machine a rank that had finished, left its group and returned still aborted there in C++
    ("terminate called without an active exception", SIGABRT: a native thread still joinable when its
    owner was destroyed), failing a run that had completed. Everything the run writes is written by
    then (the store commits each write; checkpoints are renamed into place)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def sync_batchnorm(model: nn.Module, device: torch.device, wanted: bool) -> tuple[nn.Module, bool]:
    """The model with its BatchNorm layers synchronised across ranks when wanted and possible
    (SyncBatchNorm runs on GPUs only); returns it and whether it is synchronised."""
    has_bn = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    if not (wanted and has_bn and device.type == "cuda"):
        return model, False
    return nn.SyncBatchNorm.convert_sync_batchnorm(model), True


class Replicated:
    """The model as an objective trains it under DDP. Calling it calls the DDP wrapper (its
    backward all-reduces the gradients); reading an attribute reads the model's own (beta,
    latent, d_steps, ...); the parts in `parts` (a GAN's generator and discriminator, each with its
    own optimiser and phase) are DDP wrappers of their own. DDP broadcasts rank 0's weights when
    it wraps, so every rank starts from the same model."""

    def __init__(self, model: nn.Module, parts: tuple[str, ...], device: torch.device):
        ids = [device] if device.type == "cuda" else None
        self.__dict__.update(module=model, parts={name: DDP(getattr(model, name), device_ids=ids) for name in parts},
                             whole=None if parts else DDP(model, device_ids=ids))

    def __call__(self, *args, **kwargs):
        if self.whole is None:
            raise TypeError(f"call the parts of this model ({', '.join(self.parts)}), not the whole")
        return self.whole(*args, **kwargs)

    def __getattr__(self, name: str):  # only for names not set in __init__
        parts = self.__dict__["parts"]
        return parts[name] if name in parts else getattr(self.__dict__["module"], name)


def local(module: nn.Module) -> nn.Module:
    """The module itself, without its DDP wrapper: for a pass whose gradients must not be
    all-reduced (a GAN's generator phase runs through D but steps only G: D's wrapper would wait
    for gradients that never come)."""
    return module.module if isinstance(module, DDP) else module


def lost_peer(err: Exception) -> str | None:
    """Why a collective failed when it is because another rank is gone (gloo: its socket closed or
    reset; nccl: the communicator aborted; either: it stopped answering), in a few words; else None."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    if not (isinstance(err, dist.DistError) or any(words in text.lower() for words in (
            "closed by peer", "reset by peer", "broken pipe", "timed out"))):
        return None
    return text.split("] ", 1)[-1].split(". ")[0][:200]  # gloo's "[pair.cc:537] Read error ...: Connection reset"


def device_label(params: dict) -> str:
    """A run's device as a page shows it: "cuda:0", or "2 x cpu" for a run over 2 processes."""
    device, world = params.get("device") or "?", int(params.get("world_size") or 1)
    return f"{world} x {device.split(':')[0]}" if world > 1 else device


def torchrun_args(nproc: int, nnodes: int, node_rank: int, rdzv_endpoint: str | None) -> list[str]:
    """torchrun's own flags: one machine (standalone: it picks a free port) or several meeting at
    the rendezvous endpoint host:port, served by node 0. The static rendezvous keeps --node-rank's
    order (node 0's first process is rank 0, the one that writes the store on node 0's machine);
    torchrun's c10d rendezvous would number the machines in an order of its own."""
    args = [f"--nproc-per-node={nproc}"]
    if nnodes == 1 and rdzv_endpoint is None:
        return args + ["--standalone"]
    return args + [f"--nnodes={nnodes}", f"--node-rank={node_rank}", "--rdzv-backend=static",
                   f"--rdzv-endpoint={rdzv_endpoint or f'localhost:{DEFAULT_RDZV_PORT}'}", "--max-restarts=0"]


def launch(engine_args: list[str], nproc: int, nnodes: int = 1, node_rank: int = 0,
           rdzv_endpoint: str | None = None) -> int:
    """Run `python -m engine <engine_args>` as `nproc` ranks on this machine under torchrun (in this
    process: its agent starts the ranks, watches them, and ends the others when one dies). Each
    rank gets its share of the cores as OMP_NUM_THREADS unless set. Returns 0 when every rank
    exits with 0, else 1 (the failing rank's message is already on stderr); 0 after Ctrl-C or
    SIGTERM, which torchrun's agent passes on to the ranks: they stop the run as one process would."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    args = get_args_parser().parse_args(
        torchrun_args(nproc, nnodes, node_rank, rdzv_endpoint) + ["--module", "engine", *engine_args])
    try:
        run(args)
    except ChildFailedError as err:
        rank, failure = err.get_first_failure()
        how = f"was killed by {failure.signal_name()}" if failure.exitcode < 0 else f"exited with {failure.exitcode}"
        print(f"torchrun: rank {rank} {how}, so the run's other processes were ended", file=sys.stderr)
        return 1
    except SignalException as err:  # Ctrl-C / SIGTERM: the agent passed it on, the ranks stopped the run
        print(f"torchrun: got {signal.Signals(err.sigval).name}: the processes were told to stop", file=sys.stderr)
        return 0
    return 0
