"""Chunked attribution that backs off on out-of-memory, with progress.

Integrated gradients and occlusion evaluate the model on many copies of the input (steps x images,
or one per occluded patch); at 224 px that is too much for one batch on a small GPU, and one huge
call would leave the page frozen without a word. captum already chunks them
(IntegratedGradients' internal_batch_size, Occlusion's perturbations_per_eval); this module only
chooses the chunk, halves it and retries when the device runs out of memory, and counts the images
the model has evaluated so a page can show a progress bar.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

Progress = Callable[[float], None]  # called with the share done, 0 .. 1


def is_out_of_memory(err: BaseException) -> bool:
    """CUDA's (and MPS's) out-of-memory errors: torch.OutOfMemoryError, or a RuntimeError that says so."""
    return isinstance(err, torch.OutOfMemoryError) or (
        isinstance(err, RuntimeError) and "out of memory" in str(err).lower())


def _free_cache() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def with_backoff(call: Callable[[int], torch.Tensor], chunk: int, on_retry: Callable[[int], None] | None = None
                 ) -> tuple[torch.Tensor, int]:
    """call(chunk), halving `chunk` after each out-of-memory error until it fits (a chunk of 1 that
    does not fit re-raises). Returns (result, the chunk that worked). on_retry(new chunk) is told."""
    chunk = max(1, int(chunk))
    while True:
        try:
            return call(chunk), chunk
        except (torch.OutOfMemoryError, RuntimeError) as err:
            if not is_out_of_memory(err) or chunk == 1:
                raise
            _free_cache()
            chunk = max(1, chunk // 2)
            if on_retry is not None:
                on_retry(chunk)


class counting_forward:
    """A context manager that reports progress as the model evaluates images: a forward hook adds each
    evaluated batch's size to the count and calls progress(count / total). A batch that fails (out of
    memory) is not counted; after a back-off, reset() starts the count again."""

    def __init__(self, model: nn.Module, total: int, progress: Progress | None):
        self.model, self.total, self.progress, self.done, self._hook = model, max(1, total), progress, 0, None

    def reset(self) -> None:
        self.done = 0

    def _count(self, _module, args, _output) -> None:
        self.done += len(args[0]) if args and isinstance(args[0], torch.Tensor) else 1
        self.progress(min(1.0, self.done / self.total))

    def __enter__(self):
        if self.progress is not None:
            self._hook = self.model.register_forward_hook(self._count)
        return self

    def __exit__(self, *exc) -> None:
        if self._hook is not None:
            self._hook.remove()
        if self.progress is not None and exc[0] is None:
            self.progress(1.0)
