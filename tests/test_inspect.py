"""Looking inside classifiers: layer summary, flow graph, decision grid, confusion matrix."""
import numpy as np
import pytest
import torch
from torch import nn

from engine.training.inspection import (LayerRow, confusion_matrix, decision_grid, flow_dot, misclassified,
                            model_summary, total_params)
from engine.core.params import resolve
import engine.models  # noqa: F401  (registers the built-in models)
from engine.core.registry import Shape, get_spec


def build(name: str, shape: Shape, **values) -> nn.Module:
    spec = get_spec(name)
    return spec.build(resolve(spec.params, values), shape)


MNIST = Shape((1, 28, 28), 10, "image")
POINTS = Shape((2,), 2, "points")


def test_summary_of_the_default_cnn_on_mnist():
    model = build("cnn", MNIST)
    rows = model_summary(model, (1, 28, 28))
    assert [(r.name, r.type, r.output_shape, r.params) for r in rows] == [
        ("features.0.convs.0", "Conv2d", (32, 28, 28), 1 * 32 * 9 + 32),
        ("features.0.convs.1", "ReLU", (32, 28, 28), 0),
        ("features.0.pool", "MaxPool2d", (32, 14, 14), 0),
        ("features.1.convs.0", "Conv2d", (64, 14, 14), 32 * 64 * 9 + 64),
        ("features.1.convs.1", "ReLU", (64, 14, 14), 0),
        ("features.1.pool", "MaxPool2d", (64, 7, 7), 0),
        ("classifier.0", "Flatten", (3136,), 0),
        ("classifier.1", "Linear", (128,), 3136 * 128 + 128),
        ("classifier.2", "ReLU", (128,), 0),
        ("classifier.3", "Linear", (10,), 128 * 10 + 10),
    ]
    assert [r.depth for r in rows] == [4, 4, 3, 4, 4, 3, 2, 2, 2, 2]
    assert sum(r.params for r in rows) == sum(p.numel() for p in model.parameters()) == total_params(model)
    assert total_params(model) == 421_642
    assert all(r.trainable == r.params for r in rows)


def test_summary_runs_in_eval_mode_and_restores_the_mode():
    model = build("mlp", MNIST, dropout=0.5, batchnorm=True)
    seen = []
    model.net[1].register_forward_hook(lambda m, a, o: seen.append(m.training))
    model.train()
    rows = model_summary(model, (1, 28, 28))
    assert seen == [False] and model.training
    assert [r.type for r in rows] == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Dropout",
                                      "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert rows[0].output_shape == (784,) and rows[-1].output_shape == (10,)


def test_summary_counts_trainable_parameters_and_repeated_calls():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.shared = nn.Linear(3, 3)
            self.head = nn.Linear(3, 2)

        def forward(self, x):
            return self.head(self.shared(self.shared(x)))

    model = Twice()
    model.head.bias.requires_grad_(False)
    rows = model_summary(model, (3,))
    assert rows == [LayerRow("shared", "Linear", (3,), 12, 12, 1),
                    LayerRow("shared", "Linear", (3,), 12, 12, 1),
                    LayerRow("head", "Linear", (2,), 8, 6, 1)]
    assert total_params(model) == 20  # the shared layer once


def test_flow_dot_chains_every_layer_after_the_input():
    rows = model_summary(build("cnn", MNIST), (1, 28, 28))
    dot = flow_dot(rows)
    assert dot.startswith("digraph") and "rankdir=TB;" in dot and "shape=box" in dot
    assert all(r.name in dot for r in rows)
    assert dot.count("->") == len(rows)
    assert 'n0 [label="input"' in dot and "n0 -> n1;" in dot
    assert 'n1 [label="features.0.convs.0\\nConv2d\\n(32, 28, 28)"];' in dot
    assert f"n{len(rows) - 1} -> n{len(rows)};" in dot
    assert 'label="input\\n(1, 28, 28)"' in flow_dot(rows, input_shape=(1, 28, 28))


def test_decision_grid_shapes_and_probabilities():
    model = build("mlp", POINTS)
    points = torch.tensor([[-1.0, -2.0], [3.0, 0.5], [0.0, 4.0]])
    model.train()
    xs, ys, probs = decision_grid(model, points, resolution=50, margin=0.5)
    assert xs.shape == (50,) and ys.shape == (50,) and probs.shape == (50, 50)
    assert (xs[0], xs[-1]) == pytest.approx((-1.5, 3.5)) and (ys[0], ys[-1]) == pytest.approx((-2.5, 4.5))
    assert np.all((probs >= 0) & (probs <= 1))
    assert model.training  # put back as it came


class SignOf(nn.Module):
    """Logits (0, +-1000) by the sign of one coordinate: softmax gives exactly 0 or 1."""

    def __init__(self, axis: int):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        s = torch.sign(x[:, self.axis])
        return torch.stack([torch.zeros_like(s), 1000 * s], dim=1)


def test_decision_grid_is_exact_on_each_side_of_a_sign_boundary():
    points = torch.tensor([[-1.0, -1.0], [1.0, 1.0]])
    # An even resolution over a box symmetric about 0 puts no grid line on 0 itself.
    xs, ys, probs = decision_grid(SignOf(axis=0), points, resolution=10)
    assert np.all(probs[:, xs < 0] == 0.0) and np.all(probs[:, xs > 0] == 1.0)
    assert (xs < 0).sum() == (xs > 0).sum() == 5
    # Rows are y: a boundary on the second coordinate splits the rows, not the columns.
    xs, ys, probs = decision_grid(SignOf(axis=1), points, resolution=10)
    assert np.all(probs[ys < 0, :] == 0.0) and np.all(probs[ys > 0, :] == 1.0)


class AlwaysTwo(nn.Module):
    def forward(self, x):
        logits = torch.zeros(len(x), 4)
        logits[:, 2] = 1.0
        return logits


def test_confusion_matrix_of_a_model_that_always_says_two():
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0, 2])
    matrix, predictions = confusion_matrix(AlwaysTwo(), torch.randn(10, 3), y, num_classes=4, batch_size=3)
    assert matrix.dtype == np.int64
    assert matrix.tolist() == [[0, 0, 3, 0], [0, 0, 2, 0], [0, 0, 3, 0], [0, 0, 2, 0]]
    assert predictions.tolist() == [2] * 10
    assert misclassified(predictions, y) == [0, 1, 3, 4, 5, 7, 8]
    assert misclassified(predictions, y, limit=3) == [0, 1, 3]


def test_confusion_matrix_of_a_real_cnn_counts_every_example():
    model = build("cnn", MNIST, channels=4, dense=0)
    x, y = torch.rand(37, 1, 28, 28), torch.arange(37) % 10
    matrix, predictions = confusion_matrix(model, x, y, num_classes=10, batch_size=16)
    assert matrix.sum() == 37 and matrix.sum(axis=1).tolist() == [4] * 7 + [3] * 3
    assert np.trace(matrix) == (predictions == y).sum().item()
