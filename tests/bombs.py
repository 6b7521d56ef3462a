"""A gzip bomb for the upload tests, built without ever holding what it expands to, and a way to
measure the memory a call takes at its peak."""
from __future__ import annotations

import gzip
import tracemalloc
from pathlib import Path

MEMBER = 2**20  # each gzip member holds 1 MiB of zeros (about 1 KB compressed)


def gzip_bomb(path: Path, expands_to: int = 2**30) -> bytes:
    """Write, and return, a gzip file of about expands_to / 1000 bytes that expands to `expands_to`
    zero bytes: the same small member written again and again (a multi-member gzip stream, which
    gzip and Python's gzip module read as one file)."""
    member = gzip.compress(bytes(MEMBER), mtime=0)
    with open(path, "wb") as f:
        for _ in range(expands_to // MEMBER):
            f.write(member)
    return path.read_bytes()


def peak_memory(call) -> tuple[int, object]:
    """(the most bytes Python held at once during call(), beyond what it held before; what it returned
    or the exception it raised)."""
    tracemalloc.start()
    try:
        try:
            outcome = call()
        except Exception as err:  # noqa: BLE001 - the caller looks at it
            outcome = err
        return tracemalloc.get_traced_memory()[1], outcome
    finally:
        tracemalloc.stop()
