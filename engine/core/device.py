"""Which device the engine computes on: cuda > mps > cpu, overridable; the precision it computes in
(bf16 or fp16 autocast on CUDA, fp32 elsewhere); seeding.

One policy: `default_device()` is where training, every loader (engine.core.loading) and every
inspection compute unless a person asks for another device (--device, $DEEP_PLAYGROUND_DEVICE).
"""
from __future__ import annotations

import contextlib
import functools
import os
import random
from dataclasses import dataclass

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


@contextlib.contextmanager
def _without_onednn():
    was = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = was


@dataclass(frozen=True)
class Precision:
    """How a device computes a training step: autocast to `dtype` (float32: no autocast), and
    whether the loss needs a GradScaler (fp16 only: its small range underflows small gradients)."""
    device_type: str        # "cuda", "cpu", "mps"
    dtype: torch.dtype
    scaler_needed: bool = False

    @property
    def name(self) -> str:
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.dtype, "fp32")

    def autocast(self):
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        if self.device_type == "cpu" and self.dtype == torch.float16:
            # oneDNN has no fp16 LSTM kernel ("could not create a primitive descriptor"): off, the
            # LSTM runs PyTorch's own CPU kernel. CPU fp16 exists to test the GradScaler path.
            stack = contextlib.ExitStack()
            stack.enter_context(_without_onednn())
            stack.enter_context(torch.autocast("cpu", dtype=torch.float16))
            return stack
        return torch.autocast(self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> torch.amp.GradScaler | None:
        return torch.amp.GradScaler(self.device_type) if self.scaler_needed else None


@functools.lru_cache(maxsize=None)
def _native_bf16(index: int) -> bool:
    """Whether CUDA card `index` computes bf16 natively (emulated bf16 is slower than fp32)."""
    with torch.cuda.device(index):
        return torch.cuda.is_bf16_supported(including_emulation=False)


FP32 = Precision("cpu", torch.float32)
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def precision_for(device: torch.device, requested: str = "auto") -> Precision:
    """The precision `device` trains in. auto: bf16 autocast on a CUDA card with native bf16
    (Ampere and later: fast tensor cores, fp32's range, no loss scaling), fp16 autocast with a
    GradScaler on older CUDA cards, fp32 on the CPU and on Apple GPUs. Or ask for one by name
    ("fp16" on the CPU is for tests: it exercises the GradScaler path without a GPU)."""
    kind = device.type
    native_bf16 = kind == "cuda" and _native_bf16(device.index if device.index is not None
                                                  else torch.cuda.current_device())
    if requested == "auto":
        if kind != "cuda":
            return Precision(kind, torch.float32)
        requested = "bf16" if native_bf16 else "fp16"
    if requested == "fp32":
        return Precision(kind, torch.float32)
    if requested == "fp16":
        return Precision(kind, torch.float16, scaler_needed=True)
    if requested == "bf16":
        if kind == "cuda" and not native_bf16:
            raise ValueError("this GPU has no native bf16: use fp16 (with a grad scaler) or fp32")
        return Precision(kind, torch.bfloat16)
    raise ValueError(f"unknown precision {requested!r}; choose one of {', '.join(PRECISIONS)}")


def autocast(device: torch.device):
    """Autocast in the precision `device` trains in (precision_for); plain fp32 on the CPU. For
    inference and inspection: nothing there needs a GradScaler."""
    return precision_for(device).autocast()


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
        return f"CUDA GPU {torch.cuda.get_device_name(index)} ({precision_for(device).name} autocast)"
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
