"""argparse types for the CLI's numbers: each reads its text through engine/core/numbers.py.

`type=int` accepts "٣" (int() reads any Unicode decimal digit) and a 20-digit run id that
overflows SQLite later, as a traceback; `type=float` accepts "inf" and "nan". These types refuse
such text up front, with the flag's name and the accepted range, so every verb reads its numbers
the way the pages read theirs.
"""
from __future__ import annotations

import argparse
import math
from typing import Callable

from engine.core.numbers import SQLITE_MAX_INT, parse_run_id, parse_whole
from engine.core.params import ParamError


def whole(low: int | None = 0, high: int | None = SQLITE_MAX_INT, what: str = "the value") -> Callable[[str], int]:
    """A type for a whole-number flag within [low, high]. argparse names the flag before the message
    ("argument --limit: the value must be at least 1; got 0"), so `what` says what it counts."""
    def read(text: str) -> int:
        try:
            return parse_whole(text, what, low, high)
        except ParamError as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    read.__name__ = "whole number"  # argparse names the type in some messages
    return read


def run_id(text: str) -> int:
    """A type for a run-id flag: 1 .. the largest id SQLite stores."""
    try:
        return parse_run_id(text)
    except ParamError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def finite(what: str = "the value") -> Callable[[str], float]:
    """A type for a real-number flag: `float` without "inf", "nan" or "1e999"."""
    def read(text: str) -> float:
        try:
            value = float(text) if text.isascii() else math.nan
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{what} must be a finite number, not {text[:40]!r}")
        return value
    read.__name__ = "number"
    return read
