"""Small helpers on any nn.Module: where it computes, and a pass in eval mode that leaves its mode as it was."""
from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's parameters (the CPU for a model with none)."""
    param = next(model.parameters(), None)
    return param.device if param is not None else torch.device("cpu")


@contextmanager
def eval_mode(model: nn.Module):
    """Eval mode (dropout off, BatchNorm on its running statistics) and no gradients, then the
    mode the model came in: inspecting or evaluating a model never changes how it trains after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)
