"""Which device the engine computes on: cuda > mps > cpu, overridable; bf16 autocast on CUDA; seeding.

One policy: `default_device()` is where training, every loader (engine.core.loading) and every
inspection compute unless a person asks for another device (--device, $DEEP_PLAYGROUND_DEVICE).
"""
from __future__ import annotations

import contextlib
import os
import random

import numpy as np
import torch

ENV_DEVICE = "DEEP_PLAYGROUND_DEVICE"
ENV_THREADS = "DEEP_PLAYGROUND_TRAIN_THREADS"
CHOICES = ("auto", "cuda", "mps", "cpu")


def pick_device(requested: str | None = None) -> torch.device:
    """`requested` ("auto", "cpu", "cuda", "cuda:1", "mps"), else $DEEP_PLAYGROUND_DEVICE, else auto.

    Asking for a device this machine does not have is an error with a message, never a silent
    fallback: a person who typed --device cuda wants to know their GPU is not being used.
    """
    name = (requested or os.environ.get(ENV_DEVICE) or "auto").strip().lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind = name.split(":")[0]
    if kind not in ("cuda", "mps", "cpu"):
        raise ValueError(f"unknown device {name!r}; choose one of {', '.join(CHOICES)} (or cuda:N)")
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA GPU is visible to PyTorch; use --device cpu or auto")
    if kind == "mps" and not _mps_available():
        raise ValueError("device 'mps' was asked for but Apple's Metal backend is not available; use --device cpu or auto")
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"bad device {name!r}: {err}") from None
    if kind == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    return device


def default_device() -> torch.device:
    """The device everything computes on by default: $DEEP_PLAYGROUND_DEVICE, else cuda > mps > cpu.
    Training, loading a run and inspecting it all use it, so a model is inspected where it trains
    (ValueError, with what to change, when the variable names a device this machine lacks)."""
    return pick_device(None)


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def autocast(device: torch.device):
    """bf16 autocast on CUDA (fast tensor cores, no loss scaling needed); plain fp32 elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (all devices); returns a CPU generator for data shuffling."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


CUBLAS_WORKSPACE = ":4096:8"  # the cuBLAS workspace setting that makes its matrix products deterministic


def set_deterministic(on: bool) -> None:
    """Deterministic kernels (or PyTorch's fast defaults): with them the same seed gives the same run
    on a GPU too. CPU kernels are deterministic anyway. An op with no deterministic GPU kernel then
    raises instead of silently breaking the promise. Call before the run's first CUDA work: cuBLAS
    reads its workspace setting when it starts."""
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(on)
    torch.backends.cudnn.deterministic = on
    torch.backends.cudnn.benchmark = False  # benchmarking picks kernels by timing: never reproducible


def describe(device: torch.device) -> str:
    """One line for the home page badge and the CLI."""
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"CUDA GPU {torch.cuda.get_device_name(index)} (bf16 autocast)"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def job_threads() -> int:
    """CPU threads for a run trained in its own process while the app serves pages: every core but
    one, which is left to the server and the browser drawing the live view.

    Why not all of them: PyTorch's CPU kernels split each op over its threads and wait for the
    slowest, so one thread that loses its core for a moment stalls the whole op. Measured on 2
    cores (CNN on MNIST): 2 threads train at 82 steps/s alone but 18 beside one busy process and
    42 with the Training page open in a browser; 1 thread trains at 42 either way. On a machine
    with many cores the one left over costs little. $DEEP_PLAYGROUND_TRAIN_THREADS overrides it.
    """
    if os.environ.get(ENV_THREADS):
        return max(1, int(os.environ[ENV_THREADS]))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores - 1)
