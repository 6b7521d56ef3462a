"""Sequence tasks: every pair is what its task says, seeded, split, and the vocabulary is the classes."""
import re
from datetime import date

import numpy as np
import pytest
import torch

from engine.data import get_info, load_dataset, train_size
from engine.data.sequences import (BOS, EOS, PAD, TASKS, Vocab, decoder_input, make_count_ones, make_task,
                                   target_for, task_lengths)
from engine.core.params import ParamError, resolve


def options(name, **overrides):
    return resolve(get_info(name).params, overrides)


@pytest.mark.parametrize("name, check", [
    ("copy", lambda s, t: t == s),
    ("reverse", lambda s, t: t == s[::-1]),
    ("sort", lambda s, t: t == "".join(sorted(s))),
    ("addition", lambda s, t: int(t) == sum(int(p) for p in s.split("+"))),
])
def test_each_pair_is_what_the_task_says(name, check):
    vocab, x, y, sources, targets = make_task(name, options(name, n_samples=300, seed=3))
    assert len(sources) == 300 and all(check(s, t) for s, t in zip(sources, targets))
    # The tensors hold the same strings: source padded, target then EOS then padding.
    for row_x, row_y, s, t in zip(x[:20], y[:20], sources, targets):
        assert vocab.decode(row_x) == s
        assert vocab.decode(row_y) == t
        assert row_y[len(t)] == EOS and (row_y[len(t) + 1:] == PAD).all()


def test_dates_become_iso_from_many_formats():
    vocab, x, y, sources, targets = make_task("dates", options("dates", n_samples=500, seed=1))
    assert len({re.sub(r"\d", "9", s) for s in sources}) >= 6  # several input formats
    for s, t in zip(sources, targets):
        year, month, day = map(int, t.split("-"))
        date(year, month, day)  # a real date
        assert str(year) in s and str(day) in s
    assert x.shape[1] == task_lengths("dates", {})[0] and y.shape[1] == 11


def test_same_seed_same_data_other_seed_other_data():
    a = load_dataset("reverse", {"n_samples": 200, "seed": 5})
    b = load_dataset("reverse", {"n_samples": 200, "seed": 5})
    c = load_dataset("reverse", {"n_samples": 200, "seed": 6})
    assert torch.equal(a.x_train, b.x_train) and not torch.equal(a.x_train, c.x_train)


def test_split_sizes_shapes_and_vocabulary_in_the_info():
    data = load_dataset("copy", {"n_samples": 1000, "train_fraction": 0.8, "length": 6, "vocab": 4})
    assert data.x_train.shape == (800, 6) and data.y_train.shape == (800, 7)
    assert data.x_val.shape == (200, 6) and data.x_train.dtype == torch.int64
    assert data.info.kind == "sequence" and data.info.input_shape == (6,)
    assert data.info.classes == ("<pad>", "<bos>", "<eos>", "a", "b", "c", "d")
    assert train_size("copy", {"n_samples": 1000, "train_fraction": 0.8}) == 800


def test_variable_lengths_are_padded():
    vocab, x, _, sources, _ = make_task("copy", options("copy", n_samples=400, variable_length=True, length=10))
    lengths = {len(s) for s in sources}
    assert min(lengths) == 2 and max(lengths) == 10
    assert all((x[i, len(s):] == PAD).all() for i, s in enumerate(sources))


def test_decoder_input_is_bos_then_the_target_shifted():
    y = torch.tensor([[5, 6, EOS, PAD]])
    assert decoder_input(y).tolist() == [[BOS, 5, 6, EOS]]


def test_unknown_characters_are_named():
    with pytest.raises(ParamError, match=r"'z', '!' are not in this task's vocabulary"):
        Vocab("abc").encode("abz!z")


def test_targets_for_typed_inputs():
    assert target_for("reverse", "abc", {}) == "cba"
    assert target_for("sort", "cab", {}) == "abc"
    assert target_for("addition", "12+30", {}) == "42"
    assert target_for("addition", "12+", {}) is None


def test_count_ones():
    x, y = make_count_ones({"n_samples": 50, "length": 20, "seed": 0})
    assert x.shape == (50, 20) and set(np.unique(x)) <= {0.0, 1.0}
    assert np.array_equal(y, x.sum(1))
    data = load_dataset("count_ones")
    assert data.info.kind == "counting" and data.x_train.shape == (9000, 20) and data.y_train.dtype == torch.float32


def test_every_task_registered():
    assert set(TASKS) == {"copy", "reverse", "sort", "addition", "dates"}
    for name in TASKS:
        assert get_info(name).kind == "sequence"
