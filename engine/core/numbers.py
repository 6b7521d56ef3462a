"""One way to read a whole number a person typed: in a URL, a CLI flag, a file's header.

`str.isdigit()` accepts "²" and "٣" and `int()` accepts "1_000" and " 7 ", and a 20-digit run id
overflows SQLite's INTEGER: every reader of a typed integer goes through `parse_whole` instead, so
they all accept the same texts and refuse the rest with one kind of message.
"""
from __future__ import annotations

import re

from engine.core.params import ParamError

SQLITE_MAX_INT = 2 ** 63 - 1  # the largest id SQLite can store (and look up)
_WHOLE = re.compile(r"-?[0-9]+")  # ASCII digits only, no spaces, no underscores, no exponent


def is_whole(text) -> bool:
    """True when `text` is a plain ASCII whole number like "42" or "-3" (what parse_whole reads)."""
    return isinstance(text, str) and len(text) <= 40 and _WHOLE.fullmatch(text) is not None


def parse_whole(text, what: str, low: int | None = 0, high: int | None = SQLITE_MAX_INT) -> int:
    """`text` as an int within [low, high], or a ParamError naming `what` and the accepted range."""
    if isinstance(text, bool):
        raise ParamError(f"{what} must be a whole number, not {text!r}")
    if isinstance(text, int):
        value = text
    elif not is_whole(text):
        shown = text if isinstance(text, str) and len(text) <= 40 else f"{str(text)[:40]}..."
        raise ParamError(f"{what} must be a whole number, not {shown!r}")
    else:
        value = int(text)
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None or (high == SQLITE_MAX_INT and value < low):  # "at least 1", not "1 and 9223372036854775807"
            bound = f"at least {low}"
        elif low is None:
            bound = f"at most {high}"
        else:
            bound = f"between {low} and {high}"
        raise ParamError(f"{what} must be {bound}; got {value}")
    return value


def parse_run_id(text) -> int:
    """A run id from a URL or a flag: 1 .. the largest id SQLite stores."""
    return parse_whole(text, "a run id", low=1)
