"""Looking inside a classifier: decision boundary, confusion matrix, errors, layer summary, flow graph.

Every function takes a model and tensors and returns arrays or plain dataclasses; the pages draw.
Models are run in eval mode (dropout off, BatchNorm on its running statistics) and put back in the
mode they came in, so inspecting a model never changes how it trains afterwards.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from engine.core.modules import eval_mode, model_device


def plane_grid(x_points, resolution: int = 100, margin: float = 0.2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A resolution x resolution grid over the 2D points (+ margin each side): xs (resolution,),
    ys (resolution,) and the grid's points (resolution², 2), row by row (rows are y)."""
    points = torch.as_tensor(x_points, dtype=torch.float32)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"a grid over the plane needs 2D points of shape (N, 2); got {tuple(points.shape)}")
    lo = points.min(0).values - margin
    hi = points.max(0).values + margin
    xs = torch.linspace(float(lo[0]), float(hi[0]), resolution)
    ys = torch.linspace(float(lo[1]), float(hi[1]), resolution)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return xs, ys, torch.stack([grid_x.reshape(-1), grid_y.reshape(-1)], dim=1)


def decision_grid(model: nn.Module, x_points, resolution: int = 100, margin: float = 0.2,
                  device: torch.device | None = None, output: str = "probability"
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(class 1) over a resolution x resolution grid covering the 2D points (+ margin each side);
    with output="value", the model's one output instead (a regression's surface).

    Returns xs (resolution,), ys (resolution,) and probs (resolution, resolution) with
    probs[i, j] the probability at (xs[j], ys[i]): rows are y, as a heatmap's z expects.
    """
    xs, ys, grid = plane_grid(x_points, resolution, margin)
    device = device or model_device(model)
    with eval_mode(model):
        # 10k points of 2 features: one batch is small enough for any model drawn on the plane.
        out = model(grid.to(device)).float()
    surface = out[:, 0] if output == "value" else torch.softmax(out, dim=1)[:, 1]
    return xs.numpy(), ys.numpy(), surface.reshape(resolution, resolution).cpu().numpy()


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """The arg-max class of each example, on the CPU, batched so large sets fit in memory."""
    device = model_device(model)
    with eval_mode(model):
        return torch.cat([model(x[i:i + batch_size].to(device)).argmax(1).cpu()
                          for i in range(0, len(x), batch_size)])


def confusion_matrix(model: nn.Module, x: torch.Tensor, y: torch.Tensor, num_classes: int,
                     batch_size: int = 1024) -> tuple[np.ndarray, torch.Tensor]:
    """(matrix, predictions): matrix[true, predicted] counts as int64, predictions on the CPU."""
    predictions = predict(model, x, batch_size)
    return count_confusion(y, predictions, num_classes), predictions


def count_confusion(y, predictions, num_classes: int) -> np.ndarray:
    """matrix[true, predicted] counts (int64) of given predictions, e.g. the ones a run stored."""
    # Each (true, predicted) pair is one cell index; bincount counts them all at once.
    cells = torch.as_tensor(y).cpu().long() * num_classes + torch.as_tensor(predictions).cpu().long()
    matrix = torch.bincount(cells, minlength=num_classes * num_classes)
    return matrix.reshape(num_classes, num_classes).numpy().astype(np.int64)


def misclassified(predictions, y, limit: int = 32) -> list[int]:
    """Indices of the first `limit` wrong predictions, in dataset order."""
    wrong = torch.as_tensor(predictions).cpu().long() != torch.as_tensor(y).cpu().long()
    return torch.nonzero(wrong).flatten()[:limit].tolist()


@dataclass(frozen=True)
class LayerRow:
    """One executed leaf module, like a torchinfo row."""
    name: str             # dotted path in the model ("features.0.convs.0")
    type: str             # class name ("Conv2d")
    output_shape: tuple   # without the batch dimension
    params: int           # parameters the module owns itself
    trainable: int        # of those, the ones with requires_grad
    depth: int            # nesting level: 1 for a direct child of the model


def model_summary(model: nn.Module, input_shape: tuple) -> list[LayerRow]:
    """A row per leaf-module call in one forward pass of zeros (batch of 2), in execution order.

    Leaf modules are those without children: they do the work, their containers only route it.
    Hooks see what actually runs, so the order is the forward pass's (not the order modules were
    declared in) and a module called twice gives two rows. Parameters are counted per module
    (recurse=False), so a module called twice counts its weights twice and parameters held by a
    container itself are not in any row: `total_params` is the exact total.
    """
    rows: list[LayerRow] = []

    def record(module: nn.Module, name: str, output) -> None:
        if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
            output = output[0]  # e.g. an RNN's (output, hidden): the output is what flows on
        shape = tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else ()
        own = list(module.parameters(recurse=False))
        rows.append(LayerRow(name or type(module).__name__, type(module).__name__, shape,
                             sum(p.numel() for p in own), sum(p.numel() for p in own if p.requires_grad),
                             name.count(".") + 1 if name else 0))

    handles = [module.register_forward_hook(lambda mod, args, out, name=name: record(mod, name, out))
               for name, module in model.named_modules() if next(module.children(), None) is None]
    param = next(model.parameters(), None)
    # Two examples, not one: a model that squeezes its input would drop a batch of 1 and shift every shape.
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    batch = torch.zeros(2, *input_shape, device=model_device(model), dtype=dtype)
    try:
        with eval_mode(model):
            model(batch)
    finally:
        for handle in handles:
            handle.remove()
    return rows


def total_params(model: nn.Module) -> int:
    """Every parameter once (shared ones too: parameters() yields each tensor once)."""
    return sum(p.numel() for p in model.parameters())


def _dot_label(*lines: str) -> str:
    # DOT strings: escape quotes and backslashes; \n inside the label is DOT's centred line break.
    return "\\n".join(line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)


def flow_dot(rows: list[LayerRow], input_shape: tuple | None = None) -> str:
    """The layers as a top-to-bottom Graphviz chain (input first), for st.graphviz_chart.

    Each node reads "name / Type / (output shape)". A chain in execution order, not the true
    dataflow graph: branches that run one after the other (a conv-pool block) appear in sequence.
    """
    lines = ["digraph model {",
             "  rankdir=TB;",
             '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="Helvetica", fontsize=10];']
    input_label = _dot_label("input", str(tuple(input_shape))) if input_shape else "input"
    lines.append(f'  n0 [label="{input_label}", fillcolor="#ffffff"];')
    for i, row in enumerate(rows, start=1):
        lines.append(f'  n{i} [label="{_dot_label(row.name, row.type, str(row.output_shape))}"];')
        lines.append(f"  n{i - 1} -> n{i};")
    lines.append("}")
    return "\n".join(lines)
