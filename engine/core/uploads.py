"""Bytes a person hands the app (an upload, a file path), read within a stated size limit.

A gzipped file is decompressed as a stream, a chunk at a time, and refused as soon as it passes the
limit: a small file that expands to gigabytes (a gzip bomb) costs at most the limit in memory, never
its full size. Every reader of uploaded bytes goes through `read_limited`, so they all refuse the
same way with the same kind of message.
"""
from __future__ import annotations

import gzip
import io
import os
import zlib

GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20  # bytes read (or decompressed) at a time


class UploadError(ValueError):
    """Uploaded bytes that are refused: too large, or gzipped but broken; the message says which."""


def size_text(n: int) -> str:
    """A byte count as a person reads it: "200 MB", "1.5 MB", "64 KB", "1.1 TB"."""
    if n < 2**20:
        return f"{round(n / 2**10)} KB" if n >= 2**10 else f"{n} bytes"
    for unit, size in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) or value >= 10 else f"{value:.1f} {unit}"


def _read_at_most(stream, limit: int) -> list[bytes]:
    """Chunks of `stream` until it ends or holds more than `limit` bytes (then limit + 1 at most)."""
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return chunks


def read_limited(source, limit: int, what: str = "file") -> bytes:
    """The bytes of a path, a bytes object or a file object, gunzipped when gzipped; UploadError
    when they are more than `limit` bytes, before or after decompression. `what` names the thing in
    the message ("file", "corpus")."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            raw = b"".join(_read_at_most(f, limit))
    else:
        raw = b"".join(_read_at_most(source, limit))
    if len(raw) > limit:
        raise UploadError(f"the {what} is larger than the limit of {size_text(limit)}")
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as gz:
            chunks = _read_at_most(gz, limit)
    except (OSError, EOFError, zlib.error) as err:
        raise UploadError(f"the {what} looks gzipped but cannot be decompressed: {err}") from None
    if sum(map(len, chunks)) > limit:
        raise UploadError(f"the decompressed {what} is larger than the limit of {size_text(limit)} "
                          f"(its {size_text(len(raw))} gzipped expand past it)")
    return b"".join(chunks)
