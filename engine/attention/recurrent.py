"""Inside the recurrent models: the states and gates of a trained cell over time (`unroll`), and the
vanishing / exploding gradient demos of a plain RNN.

`unroll(model, x)` steps the trained cell by hand with its own weights to expose what nn.LSTM keeps
inside: hidden state, cell state and the input / forget / cell / output gates.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from engine.models.recurrent import RecurrentCounter


@dataclass
class Unrolled:
    """Per time step values of the first layer, each (t, hidden); gates only where the cell has them."""
    hidden: np.ndarray
    cell: np.ndarray | None = None
    gates: dict[str, np.ndarray] | None = None
    outputs: np.ndarray | None = None  # the model's prediction after each prefix (t,)


@torch.no_grad()
def unroll(model: RecurrentCounter, bits) -> Unrolled:
    """Step the first recurrent layer by hand over one sequence, with the model's own weights, on
    the model's device (the values come back as numpy arrays)."""
    rnn = model.rnn
    w_ih, w_hh = rnn.weight_ih_l0, rnn.weight_hh_l0
    b_ih, b_hh = rnn.bias_ih_l0, rnn.bias_hh_l0
    x = torch.as_tensor(np.asarray(bits, dtype=np.float32), device=w_ih.device).view(-1, 1)
    h = torch.zeros(rnn.hidden_size, device=w_ih.device, dtype=w_ih.dtype)
    c = torch.zeros(rnn.hidden_size, device=w_ih.device, dtype=w_ih.dtype)
    hs, cs, gates = [], [], {}
    for x_t in x:
        if model.cell_kind == "lstm":
            i, f, g, o = (w_ih @ x_t + b_ih + w_hh @ h + b_hh).chunk(4)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            for name, value in (("input gate", i), ("forget gate", f), ("cell input", g), ("output gate", o)):
                gates.setdefault(name, []).append(value)
            cs.append(c)
        elif model.cell_kind == "gru":
            r_i, z_i, n_i = (w_ih @ x_t + b_ih).chunk(3)
            r_h, z_h, n_h = (w_hh @ h + b_hh).chunk(3)
            r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
            n = torch.tanh(n_i + r * n_h)
            h = (1 - z) * n + z * h
            for name, value in (("reset gate", r), ("update gate", z), ("candidate", n)):
                gates.setdefault(name, []).append(value)
        else:
            h = torch.tanh(w_ih @ x_t + b_ih + w_hh @ h + b_hh)
        hs.append(h)
    outputs = None
    if rnn.num_layers == 1:
        outputs = _numpy(model.head(torch.stack(hs)).squeeze(-1) * len(x))
    return Unrolled(_numpy(torch.stack(hs)), _numpy(torch.stack(cs)) if cs else None,
                    {k: _numpy(torch.stack(v)) for k, v in gates.items()} or None, outputs)


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.float().cpu().numpy()


# ---- vanishing / exploding gradients in a plain RNN ----------------------------------------------
@dataclass
class GradientFlow:
    """How much the last state depends on each earlier one: |d h_T / d h_t| for every t."""
    norms: np.ndarray          # (length,) gradient norm per time step (nan/inf kept as they are)
    output: float              # the last state (its sum, for the tanh RNN)
    finite: bool
    message: str


def gradient_flow(length: int, cell: str = "tanh", hidden: int = 16, init_scale: float = 1.0,
                  w: float = 1.5, u: float = 1.0, seed: int = 0) -> GradientFlow:
    """Backpropagate the last state of a plain RNN and measure the gradient reaching each step.

    cell "linear": the scalar RNN s_t = x_t u + s_{t-1} w of the classic demo, whose gradient at
    step t is exactly w^(T-t): |w| > 1 explodes, |w| < 1 vanishes, and a long enough sequence
    overflows float32 to inf (then nan), which is reported, not raised.
    cell "tanh": h_t = tanh(W h_{t-1} + U x_t) with W ~ N(0, init_scale^2 / hidden): below about 1
    the gradient vanishes going back in time; above, it holds up longer until tanh saturates.
    """
    generator = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 2, (length,), generator=generator).float()
    states = []
    if cell == "linear":
        u_t, w_t = torch.tensor(float(u), requires_grad=True), torch.tensor(float(w), requires_grad=True)
        s = torch.zeros(())
        for x_t in x:
            s = x_t * u_t + s * w_t
            s.retain_grad()
            states.append(s)
        output = s
    else:
        W = (torch.randn(hidden, hidden, generator=generator) * init_scale / math.sqrt(hidden)).requires_grad_()
        U = torch.randn(hidden, generator=generator)
        h = torch.zeros(hidden)
        for x_t in x:
            h = torch.tanh(W @ h + U * x_t)
            h.retain_grad()
            states.append(h)
        output = h.sum()
    output.backward()
    norms = np.array([float(st.grad.norm()) if st.grad is not None else 0.0 for st in states])
    value = float(output.detach())
    finite = bool(np.isfinite(norms).all() and math.isfinite(value))
    if not finite:
        bad = ~np.isfinite(norms)
        where = f" at steps 0 to {int(np.nonzero(bad)[0][-1])}" if bad.any() else ""
        message = (f"overflow: the last state is {value} and the gradient reached nan/inf{where}. That is an "
                   "exploding gradient: shorten the sequence or shrink the recurrent weight.")
    else:
        ratio = norms[0] / norms[-1] if norms[-1] > 0 else float("nan")
        trend = ("explodes" if ratio > 10 else "vanishes" if ratio < 0.1 else "stays roughly level")
        message = f"going back {length} steps the gradient {trend}: |dh_T/dh_0| / |dh_T/dh_T| = {ratio:.3g}"
    return GradientFlow(norms, value, finite, message)


@dataclass
class LinearRnnEpoch:
    """One epoch of the linear-RNN demo: the loss of the epoch's parameters, and u, w after the
    update (None when the loss was nan/inf: then there is no update, and training ends there)."""
    epoch: int
    loss: float
    u: float | None
    w: float | None

    @property
    def finite(self) -> bool:
        return math.isfinite(self.loss)


def counting_sequences(length: int, n_samples: int = 1000, target_ones: int | None = None,
                       seed: int = 0) -> np.ndarray:
    """(n_samples, length) float32 bits; with `target_ones`, each row holds exactly that many ones
    (the hard setting of the demo), else each bit is a fair coin."""
    rng = np.random.default_rng(seed)
    if target_ones is None:
        return rng.integers(0, 2, size=(n_samples, length)).astype(np.float32)
    x = np.zeros((n_samples, length), dtype=np.float32)
    for row in x:
        row[rng.choice(length, size=min(target_ones, length), replace=False)] = 1
    return x


def linear_rnn_epochs(length: int, epochs: int = 30, u: float = -2.0, w: float = 0.0, lr: float = 5e-4,
                      n_samples: int = 1000, target_ones: int | None = None, seed: int = 0):
    """Train the scalar linear RNN s_t = x_t u + s_(t-1) w on counting ones by full-batch gradient
    descent, one epoch per item: yields a LinearRnnEpoch per epoch and ends after the first nan/inf
    loss (the exploding-gradient demo) or after `epochs`. A job (engine.attention.rnn_demo) and
    `train_linear_rnn` both drive it."""
    x_t = torch.from_numpy(counting_sequences(length, n_samples, target_ones, seed))
    y = x_t.sum(1)
    params = torch.tensor([u, w], requires_grad=True)
    for epoch in range(1, epochs + 1):
        s = torch.zeros(n_samples)
        for t in range(length):
            s = x_t[:, t] * params[0] + s * params[1]
        loss = ((s - y) ** 2).mean()
        value = float(loss.detach())
        if not math.isfinite(value):
            yield LinearRnnEpoch(epoch, value, None, None)
            return
        loss.backward()
        with torch.no_grad():  # plain gradient descent with the gradient's sign kept as it is
            params -= lr * params.grad
            params.grad = None
        u_now, w_now = params.detach().tolist()
        yield LinearRnnEpoch(epoch, value, u_now, w_now)


def train_linear_rnn(length: int, epochs: int = 30, u: float = -2.0, w: float = 0.0, lr: float = 5e-4,
                     n_samples: int = 1000, target_ones: int | None = None, seed: int = 0) -> dict:
    """Train the scalar linear RNN on counting ones (the classic exploding-gradient demo), here.

    Returns {"loss": [...per epoch], "u": [...], "w": [...], "nan_epoch": first epoch with a
    non-finite loss or None}. Stops at the first nan/inf instead of crashing.
    """
    history = {"loss": [], "u": [], "w": [], "nan_epoch": None}
    for item in linear_rnn_epochs(length, epochs, u, w, lr, n_samples, target_ones, seed):
        history["loss"].append(item.loss)
        if not item.finite:
            history["nan_epoch"] = item.epoch
            break
        history["u"].append(item.u)
        history["w"].append(item.w)
    return history
