"""Two ranks of a DDP run without torchrun, for tests that train several runs in one process group.

Each `torchrun` start imports torch in 3 processes (2-3 s each on a busy 2-core machine), so the
tests that only need the Trainer's DDP path (the same TrainingJob code with a Group) start two
processes once, from the project's forkserver (torch already imported there), join one gloo group
the way a torchrun rank does (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT), and run a function
in both. The CLI's torchrun path has tests of its own (tests/test_ddp.py).
"""
from __future__ import annotations

import os
import pickle
import socket

from engine.core.jobs import _CONTEXT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(rank: int, world: int, port: int, fn, args, results) -> None:
    import torch

    from engine.core import distributed
    torch.set_num_threads(1)  # one core each, as torchrun's OMP_NUM_THREADS gives them
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    ok = False
    try:
        group, _ = distributed.join(torch.device("cpu"))
        # Plain pickle: the queue's own would share tensors through this process's memory, gone when it ends.
        results.put((rank, pickle.dumps(fn(group, *args))))
        ok = True
    except BaseException as err:  # noqa: BLE001 - the test reads it
        results.put((rank, pickle.dumps(err)))
    finally:
        distributed.leave(together=ok)


def in_two_ranks(fn, *args, timeout: float = 120.0) -> list:
    """fn(group, *args) in rank 0 and rank 1 (a picklable, importable function); returns both
    results, rank 0's first. An exception in a rank is raised here."""
    results = _CONTEXT.Queue()
    port = free_port()
    processes = [_CONTEXT.Process(target=_rank_main, args=(rank, 2, port, fn, args, results), daemon=True)
                 for rank in range(2)]
    for p in processes:
        p.start()
    try:
        got = {rank: pickle.loads(value) for rank, value in (results.get(timeout=timeout) for _ in processes)}
    finally:
        for p in processes:
            p.join(10)
            if p.is_alive():
                p.kill()
    for value in got.values():
        if isinstance(value, BaseException):
            raise value
    return [got[0], got[1]]
