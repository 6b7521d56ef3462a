"""Choosing test images to explain: every test image's predicted class, the images that match a
true class and a right / wrong prediction, and those images a page at a time (the batch view)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.training.inspection import predict


def classify_test_set(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                      batch_size: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, true) class of every test image, as numpy arrays."""
    return predict(model, x, batch_size).numpy(), torch.as_tensor(y).cpu().numpy()


def matching(predicted: np.ndarray, true: np.ndarray, true_class: int | None = None,
             correct: bool | None = None) -> np.ndarray:
    """Positions of the images of `true_class` (None: any) whose prediction is right (correct=True),
    wrong (False) or either (None), in test-set order."""
    keep = np.ones(len(true), bool)
    if true_class is not None:
        keep &= true == true_class
    if correct is not None:
        keep &= (predicted == true) == correct
    return np.flatnonzero(keep)


def page_count(items: int, size: int) -> int:
    """Pages of `size` needed for `items` (at least one, so an empty list still has a page 1)."""
    return max(1, -(-items // size))


def page_of(positions: np.ndarray, number: int, size: int) -> np.ndarray:
    """Page `number` (from 1) of `positions`, `size` to a page; the last page may be shorter."""
    return positions[(number - 1) * size:number * size]
