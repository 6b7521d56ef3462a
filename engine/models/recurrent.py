"""LSTM / GRU / plain RNN sequence regressors (the recurrent tasks).

`RecurrentCounter` reads a binary sequence and predicts how many ones it holds (the classic LSTM
demo); engine.attention.recurrent unrolls it to show its states and gates.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.core.registry import Capabilities, ModelSpec, Param, Shape, register

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


class RecurrentCounter(nn.Module):
    def __init__(self, cell: str = "lstm", hidden: int = 20, layers: int = 1):
        super().__init__()
        self.cell_kind = cell
        self.rnn = CELLS[cell](1, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (b, t) of 0/1 -> predicted count (b,)."""
        out, _ = self.rnn(x.float().unsqueeze(-1))
        # The head predicts the share of ones; times the length that is the count. A bounded
        # (tanh) state then never has to be stretched to 20 by the head's weights: it trains in
        # a few epochs instead of stalling at predicting the mean.
        return self.head(out[:, -1]).squeeze(-1) * x.shape[1]


def build(p: dict, shape: Shape) -> nn.Module:
    return RecurrentCounter(p["cell"], p["hidden"], p["layers"])


SPEC = register(ModelSpec(
    name="recurrent",
    title="LSTM / GRU / RNN (counting)",
    description="A recurrent network reads a binary sequence bit by bit and says how many ones it saw: "
                "the classic LSTM demo (hidden 20, 100% within about 6 epochs).",
    capabilities=Capabilities(inputs=("counting",), hidden_states=True),
    params=(
        Param("cell", "choice", "lstm", "LSTM, GRU or plain tanh RNN", choices=tuple(CELLS)),
        Param("hidden", "int", 20, "state size", low=1, high=512, log=True),
        Param("layers", "int", 1, "stacked recurrent layers", low=1, high=4),
    ),
    build=build,
    objective="counting",
))
