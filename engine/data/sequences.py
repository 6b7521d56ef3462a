"""Sequence tasks generated on the fly, seeded: copy, reverse, sort, addition, date translation,
and the recurrent demo counting ones.

Character-level. Every sequence-to-sequence task shares one layout: x (N, in_len) int64 source
tokens padded with PAD; y (N, out_len + 1) int64 target tokens, then EOS, then PAD. The dataset's
`classes` are the vocabulary (PAD, BOS, EOS first), so `Shape.num_classes` is the vocabulary size
and `input_shape` is (in_len,). A model reads `decoder_input(y)` = BOS + y[:, :-1] when trained
with teacher forcing. `count_ones` is a different kind ("counting"): x (N, length) float32 of
0/1, y (N,) float32 counts, trained by regression.
"""
from __future__ import annotations

import calendar
import string

import numpy as np
import torch

from engine.data.base import Dataset, DatasetInfo, register
from engine.core.numbers import is_whole
from engine.core.params import Param, ParamError

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ("<pad>", "<bos>", "<eos>")
LETTERS = string.ascii_lowercase


# ---- tokens --------------------------------------------------------------------------------------
class Vocab:
    """Characters <-> ids, the specials first. `encode` names every character it does not know."""

    def __init__(self, symbols):
        self.tokens = tuple(SPECIALS) + tuple(symbols)
        self.index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def unknown(self, text: str) -> list[str]:
        seen = []
        for ch in text:
            if ch not in self.index and ch not in seen:
                seen.append(ch)
        return seen

    def encode(self, text: str) -> list[int]:
        bad = self.unknown(text)
        if bad:
            allowed = "".join(t for t in self.tokens[len(SPECIALS):])
            raise ParamError(f"character(s) {', '.join(repr(c) for c in bad)} are not in this task's vocabulary "
                             f"({allowed!r})")
        return [self.index[ch] for ch in text]

    def decode(self, ids) -> str:
        """Ids up to the first EOS, specials dropped."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i >= len(SPECIALS):
                out.append(self.tokens[i])
        return "".join(out)


def decoder_input(y: torch.Tensor) -> torch.Tensor:
    """Teacher forcing: BOS followed by the target shifted right by one."""
    bos = torch.full_like(y[:, :1], BOS)
    return torch.cat([bos, y[:, :-1]], dim=1)


def pad_batch(rows: list[list[int]], length: int) -> np.ndarray:
    out = np.full((len(rows), length), PAD, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


# ---- tasks ---------------------------------------------------------------------------------------
def _symbol_params(default_length: int) -> tuple[Param, ...]:
    return (
        Param("length", "int", default_length, "sequence length (the longest, when lengths vary)", low=2, high=32),
        Param("vocab", "int", 10, "number of distinct symbols (letters a, b, c, ...)", low=2, high=26),
        Param("variable_length", "bool", False, "lengths drawn uniformly from 2 to `length`"),
    )


def _common_params(n: int) -> tuple[Param, ...]:
    return (
        Param("n_samples", "int", n, "number of sequences (train + validation)", low=100, high=100_000, log=True),
        Param("train_fraction", "float", 0.9, "share of the sequences used for training", low=0.1, high=0.99),
        Param("seed", "int", 0, "random seed of the sequences", low=0, high=2**31 - 1, label="data seed"),
    )


def _symbol_pairs(options: dict, rng: np.random.Generator, transform):
    n, length, v = options["n_samples"], options["length"], options["vocab"]
    symbols = np.array(list(LETTERS[:v]))
    codes = rng.integers(0, v, size=(n, length))
    lengths = rng.integers(2, length + 1, size=n) if options["variable_length"] else np.full(n, length)
    sources = ["".join(symbols[row[:k]]) for row, k in zip(codes, lengths)]
    return LETTERS[:v], sources, [transform(s) for s in sources]


def _copy(options, rng):
    return _symbol_pairs(options, rng, lambda s: s)


def _reverse(options, rng):
    return _symbol_pairs(options, rng, lambda s: s[::-1])


def _sort(options, rng):
    return _symbol_pairs(options, rng, lambda s: "".join(sorted(s)))


def _addition(options, rng):
    n, digits = options["n_samples"], options["digits"]
    high = 10 ** digits
    a = rng.integers(0, high, size=n)
    b = rng.integers(0, high, size=n)
    return "0123456789+", [f"{x}+{y}" for x, y in zip(a, b)], [str(x + y) for x, y in zip(a, b)]


MONTHS = [calendar.month_name[m] for m in range(1, 13)]
MONTHS_SHORT = [calendar.month_abbr[m] for m in range(1, 13)]
DATE_FORMATS = (  # (format name, how to write day d, month m, year y)
    ("22 November 2026", lambda d, m, y: f"{d} {MONTHS[m - 1]} {y}"),
    ("November 22, 2026", lambda d, m, y: f"{MONTHS[m - 1]} {d}, {y}"),
    ("22 Nov 2026", lambda d, m, y: f"{d} {MONTHS_SHORT[m - 1]} {y}"),
    ("Nov 22, 2026", lambda d, m, y: f"{MONTHS_SHORT[m - 1]} {d}, {y}"),
    ("22/11/2026", lambda d, m, y: f"{d:02d}/{m:02d}/{y}"),
    ("22.11.2026", lambda d, m, y: f"{d}.{m}.{y}"),
    ("22 november 2026", lambda d, m, y: f"{d} {MONTHS[m - 1].lower()} {y}"),
)
DATE_SYMBOLS = "".join(sorted(set("0123456789 ,./-" + "".join(MONTHS) + "".join(MONTHS).lower())))


def _dates(options, rng):
    n = options["n_samples"]
    years = rng.integers(1950, 2050, size=n)
    months = rng.integers(1, 13, size=n)
    day_fraction = rng.random(size=n)  # scaled below to the month's real length
    formats = rng.integers(0, len(DATE_FORMATS), size=n)
    sources, targets = [], []
    for y, m, u, f in zip(years, months, day_fraction, formats):
        y, m = int(y), int(m)
        d = 1 + int(u * calendar.monthrange(y, m)[1])
        sources.append(DATE_FORMATS[f][1](d, m, y))
        targets.append(f"{y}-{m:02d}-{d:02d}")
    return DATE_SYMBOLS, sources, targets


# name -> (generator, title, description, task params, default size, probe input, what to expect)
TASKS = {
    "copy": (_copy, "Copy", "Copy a sequence of letters: the classic transformer toy task.",
             _symbol_params(8), 10_000, "abcdefgh",
             "Cross-attention is a diagonal: output position i reads input position i."),
    "reverse": (_reverse, "Reverse", "Write the letters backwards.", _symbol_params(8), 10_000, "abcdefgh",
                "Cross-attention is the anti-diagonal: the first output reads the last input, and so on."),
    "sort": (_sort, "Sort", "Sort the letters alphabetically.", _symbol_params(8), 10_000, "hdbfacge",
             "Each output letter attends to where that letter sits in the input: a permutation, not a diagonal."),
    "addition": (_addition, "Addition", "Add two numbers written as digits: '123+456' -> '579'.",
                 (Param("digits", "int", 3, "digits per number", low=1, high=8),), 20_000, "123+456",
                 "Output digits attend to the matching digits of both numbers (counted from the right) "
                 "and to the neighbour that carries."),
    "dates": (_dates, "Date translation", "Dates in many formats to ISO: '22 November 2026' -> '2026-11-22'.",
              (), 20_000, "22 November 2026",
              "The year digits of the output attend to the year of the input, the month to the month name "
              "or number, the day to the day: the alignment jumps around with the input format."),
}


def task_vocab(name: str, options: dict) -> Vocab:
    if name in ("copy", "reverse", "sort"):
        return Vocab(LETTERS[:options["vocab"]])
    if name == "addition":
        return Vocab("0123456789+")
    return Vocab(DATE_SYMBOLS)


def task_lengths(name: str, options: dict) -> tuple[int, int]:
    """(longest input, longest output) of a task, without generating it."""
    if name in ("copy", "reverse", "sort"):
        return options["length"], options["length"]
    if name == "addition":
        return 2 * options["digits"] + 1, options["digits"] + 1
    return max(len(f(28, 9, 2000)) for _, f in DATE_FORMATS), 10


def target_for(name: str, text: str, options: dict) -> str | None:
    """The right answer for a typed input, where the task defines one (None when it cannot tell)."""
    if name == "copy":
        return text
    if name == "reverse":
        return text[::-1]
    if name == "sort":
        return "".join(sorted(text))
    if name == "addition":
        parts = text.split("+")
        if len(parts) == 2 and all(is_whole(p) for p in parts):  # ASCII digits: "²".isdigit() is True
            return str(int(parts[0]) + int(parts[1]))
    return None


def _info(name: str, options: dict | None = None) -> DatasetInfo:
    """The task's info, with the shapes and vocabulary of `options` (the registry's: the defaults)."""
    _, title, description, params, size, _, _ = TASKS[name]
    options = options or {p.name: p.default for p in params}
    in_len, _ = task_lengths(name, options)
    return DatasetInfo(name, f"{title} (sequence task)", "sequence", (in_len,), task_vocab(name, options).tokens,
                       description, params=params + _common_params(size))


def make_task(name: str, options: dict) -> tuple[Vocab, np.ndarray, np.ndarray, list[str], list[str]]:
    rng = np.random.default_rng(options["seed"])
    _, sources, targets = TASKS[name][0](options, rng)
    vocab = task_vocab(name, options)
    in_len, out_len = task_lengths(name, options)
    x = pad_batch([vocab.encode(s) for s in sources], in_len)
    y = pad_batch([vocab.encode(t) + [EOS] for t in targets], out_len + 1)
    return vocab, x, y, sources, targets


def _split(options: dict) -> int:
    return int(round(options["n_samples"] * options["train_fraction"]))


def _load(name: str):
    def load(options: dict, data_dir) -> Dataset:
        _, x, y, _, _ = make_task(name, options)
        cut = _split(options)
        t = torch.from_numpy
        return Dataset(_info(name, options), t(x[:cut]), t(y[:cut]), t(x[cut:]), t(y[cut:]), options=options)
    return load


for _name in TASKS:
    register(_name, lambda n=_name: _info(n), _load(_name), _split)


# ---- counting ones (recurrent demo) --------------------------------------------------------------
COUNT_PARAMS = (
    Param("length", "int", 20, "bits per sequence", low=2, high=200),
    Param("n_samples", "int", 10_000, "number of sequences (train + test)", low=100, high=100_000, log=True),
    Param("train_fraction", "float", 0.9, "share used for training", low=0.1, high=0.99),
    Param("seed", "int", 0, "random seed of the bits", low=0, high=2**31 - 1, label="data seed"),
)


def _count_info(options: dict | None = None) -> DatasetInfo:
    length = (options or {}).get("length", 20)
    return DatasetInfo("count_ones", "Count the ones (recurrent task)", "counting", (length,), ("count",),
                       "Binary sequences; the target is how many ones each holds: the classic LSTM demo "
                       "(10,000 sequences of length 20).", params=COUNT_PARAMS)


def make_count_ones(options: dict) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(options["seed"])
    x = rng.integers(0, 2, size=(options["n_samples"], options["length"])).astype(np.float32)
    return x, x.sum(1).astype(np.float32)


def _load_count(options: dict, data_dir) -> Dataset:
    x, y = make_count_ones(options)
    cut = _split(options)
    t = torch.from_numpy
    return Dataset(_count_info(options), t(x[:cut]), t(y[:cut]), t(x[cut:]), t(y[cut:]), options=options)


register("count_ones", _count_info, _load_count, _split)
