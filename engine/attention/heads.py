"""Reading a stack of attention maps, shaped (layers, heads, queries, keys): one head's map or the
mean of a layer's heads, and the attention each key receives."""
from __future__ import annotations

import numpy as np


def head_map(stack: np.ndarray, layer: int, head: int | None = None) -> np.ndarray:
    """The (queries, keys) map of one layer's head; head None = the mean of that layer's heads."""
    return stack[layer].mean(0) if head is None else stack[layer, head]


def attention_received(stack: np.ndarray, layer: int, head: int | None = None) -> np.ndarray:
    """The attention each key receives, averaged over every query: (keys,). Where a model's output
    is the mean over its tokens (MiniLM's sentence embedding), this is the attention-side counterpart
    of a token's attribution. Each query's row sums to 1, so these sum to 1 too."""
    return head_map(stack, layer, head).mean(0)
