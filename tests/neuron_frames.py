"""Live frames made by hand in the neuron-view contract's shapes (see engine/objectives: the
TF-Playground network's live_frame), for the page tests: a tanh network computed with numpy over
the plane, so the maps look like what a trained network draws."""
from __future__ import annotations

import numpy as np

FEATURES = {"x1": lambda x, y: x, "x2": lambda x, y: y, "x1^2": lambda x, y: x * x, "x2^2": lambda x, y: y * y,
            "x1*x2": lambda x, y: x * y, "sin(x1)": lambda x, y: np.sin(x), "sin(x2)": lambda x, y: np.sin(y)}
SHOWN = 8  # NEURONS_SHOWN of the contract


def network_frame(layers: int = 2, units: int = 4, grid: int = 25, features: int = 7, seed: int = 0,
                  boundary: int = 100) -> dict[str, np.ndarray]:
    """A frame of a `layers` x `units` tanh network on `features` inputs: the boundary (boundary x
    boundary), then the contract's neuron arrays (maps grid x grid, the first SHOWN units of a layer)."""
    rng = np.random.default_rng(seed)
    names = list(FEATURES)[:features]

    def forward(n: int):
        axis = np.linspace(-1.2, 1.2, n, dtype=np.float32)
        ys, xs = np.meshgrid(axis, axis, indexing="ij")  # rows are y, as the contract says
        h = np.stack([FEATURES[f](xs, ys) * 2 for f in names])  # (k, n, n)
        hidden = []
        for w, b in params:
            h = np.tanh(np.einsum("oi,ihw->ohw", w, h) + b[:, None, None])
            hidden.append(h)
        logit = np.einsum("oi,ihw->ohw", out_w, h)[0]
        return axis, np.stack([FEATURES[f](xs, ys) for f in names]), hidden, 1 / (1 + np.exp(-logit))

    params, size = [], features
    for _ in range(layers):
        params.append((rng.normal(0, 1.5 / np.sqrt(size), (units, size)).astype(np.float32),
                       rng.normal(0, 0.3, units).astype(np.float32)))
        size = units
    out_w = rng.normal(0, 2 / np.sqrt(size), (1, size)).astype(np.float32)

    axis, inputs, hidden, output = forward(grid)
    big_axis, _, _, big_output = forward(boundary)
    frame = {"boundary_x": big_axis, "boundary_y": big_axis, "boundary_p": big_output.astype(np.float16),
             "neuron_x": axis, "neuron_y": axis, "features": inputs.astype(np.float16),
             "feature_names": np.array(names), "layer_sizes": np.full(layers, units, dtype=np.int64),
             "output": output.astype(np.float16)}
    weights = [w for w, _ in params] + [out_w]
    shown_in = features
    for i, w in enumerate(weights, start=1):
        shown_out = min(len(w), SHOWN)
        frame[f"weights{i}"] = w[:SHOWN, :shown_in].astype(np.float16)
        shown_in = shown_out
    for i, h in enumerate(hidden, start=1):
        frame[f"layer{i}"] = h[:SHOWN].astype(np.float16)
    return frame
