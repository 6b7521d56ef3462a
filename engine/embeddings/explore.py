"""Operations on word vectors: neighbours, analogies, similarity matrices, evaluation, exports,
and image-classifier activations as "vectors" for the same explorer.

Every similarity is cosine in the ORIGINAL space (never the projection), computed as one matrix
product on the engine's device against the row-normalised matrix, which is built once per vectors
object and kept with it.
"""
from __future__ import annotations

import csv
import difflib
import gzip
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine.core.device import default_device
from engine.embeddings.vectors import WordVectors

ANALOGY_RESTRICT = 300_000  # gensim's default: only the 300k most frequent words take part


def gensim_test_file(name: str) -> Path:
    from gensim.test.utils import datapath
    return Path(datapath(name))


EVAL_SETS = {"google analogies": "questions-words.txt", "wordsim353": "wordsim353.tsv",
             "simlex999": "simlex999.txt"}


def unit_columns(wv: WordVectors, device: torch.device | None = None) -> torch.Tensor:
    """(D, N) float32: the unit-length word vectors as COLUMNS, contiguous, cached on the vectors
    object. A query row times this layout streams memory in order, which on CPU is about twice as
    fast as the (N, D) matrix-vector product (bench/embeddings.py)."""
    device = device or default_device()
    cache = wv.__dict__.setdefault("_unit_cache", {})
    key = str(device)
    if key not in cache:
        matrix = torch.from_numpy(np.ascontiguousarray(wv.vectors, dtype=np.float32)).to(device)
        cache[key] = (matrix / matrix.norm(dim=1, keepdim=True).clamp_min(1e-12)).T.contiguous()
    return cache[key]


def unit_matrix(wv: WordVectors, device: torch.device | None = None) -> torch.Tensor:
    """(N, D) rows of length 1 (a view of unit_columns, no copy)."""
    return unit_columns(wv, device).t()


class UnknownWordError(KeyError):
    def __init__(self, word: str, suggestions: list[str]):
        self.word, self.suggestions = word, suggestions
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        super().__init__(f"{word!r} is not in the vocabulary{hint}")

    def __str__(self) -> str:
        return self.args[0]


def close_matches(wv: WordVectors, word: str, n: int = 5, search: int = 100_000) -> list[str]:
    """Words spelled like `word` among the `search` most frequent (difflib ratio), case variants first."""
    found = [w for w in (word.lower(), word.capitalize(), word.upper()) if w != word and w in wv]
    pool = wv.words[:search]
    found += [w for w in difflib.get_close_matches(word.lower(), pool, n=n, cutoff=0.75) if w not in found]
    return found[:n]


def lookup(wv: WordVectors, word: str) -> int:
    if word in wv.index:
        return wv.index[word]
    raise UnknownWordError(word, close_matches(wv, word))


@dataclass
class Neighbour:
    word: str
    similarity: float
    index: int


def _top(scores: torch.Tensor, k: int, exclude: list[int], words: list[str]) -> list[Neighbour]:
    """The k best rows other than `exclude`: top k + len(exclude), then drop those (no copy of scores)."""
    k = min(k, scores.numel() - len(exclude))
    values, indices = torch.topk(scores, min(k + len(exclude), scores.numel()))
    skip = set(exclude)
    found = [Neighbour(words[i], float(v), int(i)) for v, i in zip(values.tolist(), indices.tolist()) if i not in skip]
    return found[:k]


class ZeroVectorError(ValueError):
    """A word whose vector is all zeros has no direction: cosine similarity to it is undefined."""


def _direction(wv: WordVectors, columns: torch.Tensor, word: str) -> int:
    """The row of `word`, refused when its vector is all zeros (it would be "0.0 from every word")."""
    i = lookup(wv, word)
    if not bool(columns[:, i].any()):
        raise ZeroVectorError(f"{word!r} has an all-zero vector: it points nowhere, so no word is nearer "
                              "to it than another (cosine similarity needs a direction)")
    return i


def _excluded(wv: WordVectors, *words: str) -> list[int]:
    """The rows of the query words, every copy of a word listed twice included."""
    return [row for word in dict.fromkeys(words) for row in wv.rows_of(word)]


def neighbours(wv: WordVectors, word: str, k: int = 10, device: torch.device | None = None) -> list[Neighbour]:
    """The k nearest words to `word` by cosine similarity, the word itself (and any copy) left out."""
    columns = unit_columns(wv, device)
    i = _direction(wv, columns, word)
    return _top((columns[:, i].unsqueeze(0) @ columns).squeeze(0), k, _excluded(wv, word), wv.words)


def analogy(wv: WordVectors, a: str, b: str, c: str, k: int = 10,
            device: torch.device | None = None) -> list[Neighbour]:
    """a : b :: c : ?  as 3CosAdd (b - a + c over unit vectors, gensim's most_similar); inputs excluded.

    `analogy(wv, "man", "king", "woman")` is king - man + woman."""
    columns = unit_columns(wv, device)
    ia, ib, ic = (_direction(wv, columns, w) for w in (a, b, c))
    query = columns[:, ib] - columns[:, ia] + columns[:, ic]
    return _top(((query / query.norm().clamp_min(1e-12)).unsqueeze(0) @ columns).squeeze(0), k,
                _excluded(wv, a, b, c), wv.words)


def similarity_matrix(wv: WordVectors, words: list[str], device: torch.device | None = None):
    """Cosine similarities among the words found; returns (found words, missing words, matrix)."""
    found, missing, rows = [], [], []
    for word in words:
        if word in wv.index and word not in found:
            found.append(word)
            rows.append(wv.index[word])
        elif word not in wv.index:
            missing.append(word)
    unit = unit_matrix(wv, device)
    sub = unit[torch.tensor(rows, dtype=torch.long, device=unit.device)] if rows else unit[:0]
    return found, missing, (sub @ sub.T).cpu().numpy()


# ---- evaluation -----------------------------------------------------------------------------------

@dataclass
class AnalogyResult:
    accuracy: float            # over the questions in vocabulary
    correct: int
    answered: int              # questions whose four words are in vocabulary
    total: int                 # questions in the file
    sections: dict[str, tuple[int, int]]  # section -> (correct, answered)

    @property
    def coverage(self) -> float:
        return self.answered / self.total if self.total else 0.0


def _read_analogies(path: Path):
    section, rows = None, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(": "):
            section = line[2:].strip()
            continue
        parts = line.split()
        if len(parts) == 4 and section is not None:
            rows.append((section, [p.upper() for p in parts]))
    return rows


def evaluate_analogies(wv: WordVectors, path: Path | None = None, restrict_vocab: int = ANALOGY_RESTRICT,
                       device: torch.device | None = None, batch: int = 1024, progress=None) -> AnalogyResult:
    """gensim's evaluate_word_analogies (3CosAdd, case-insensitive, top `restrict_vocab` words,
    questions with unknown words skipped), batched into matrix products on the engine's device."""
    path = path or gensim_test_file(EVAL_SETS["google analogies"])
    ok_vocab: dict[str, int] = {}
    for i, word in enumerate(wv.words[:restrict_vocab]):
        ok_vocab.setdefault(word.upper(), i)  # the first (most frequent) case variant, as gensim
    questions = _read_analogies(path)
    known = [(s, q) for s, q in questions if all(w in ok_vocab for w in q)]
    sections: dict[str, list[int]] = {}
    for s, _ in questions:
        sections.setdefault(s, [0, 0])
    columns = unit_columns(wv, device)[:, :restrict_vocab]
    unit = columns.t()
    upper = [w.upper() for w in wv.words[:restrict_vocab]]
    correct = 0
    # One score buffer reused by every batch: a fresh (batch x 300k) tensor each time costs page faults.
    buffer = torch.empty((min(batch, max(1, len(known))), len(unit)), dtype=unit.dtype, device=unit.device)
    for start in range(0, len(known), batch):
        chunk = known[start:start + batch]
        idx = torch.tensor([[ok_vocab[w] for w in q] for _, q in chunk], device=unit.device)
        query = unit[idx[:, 1]] - unit[idx[:, 0]] + unit[idx[:, 2]]
        scores = torch.matmul(query, columns, out=buffer[:len(chunk)])
        scores.scatter_(1, idx[:, :3], -float("inf"))  # gensim's most_similar drops the inputs
        values, top = torch.topk(scores, min(5, scores.shape[1]), dim=1)
        finite = torch.isfinite(values).tolist()
        for (section, (a, b, c, expected)), candidates, ok in zip(chunk, top.tolist(), finite):
            predicted = None
            for i in (i for i, keep in zip(candidates, ok) if keep):  # first that is no case variant of an input
                predicted = upper[i]
                if predicted not in (a, b, c):
                    break
            hit = predicted == expected
            correct += hit
            sections[section][0] += hit
            sections[section][1] += 1
        if progress:
            progress(min(1.0, (start + batch) / max(1, len(known))), "analogies")
    answered = len(known)
    return AnalogyResult(correct / answered if answered else 0.0, correct, answered, len(questions),
                         {s: (c, n) for s, (c, n) in sections.items()})


@dataclass
class PairsResult:
    spearman: float
    pearson: float
    pairs: int
    total: int

    @property
    def coverage(self) -> float:
        return self.pairs / self.total if self.total else 0.0


def _pair_rows(path: Path) -> list[list[str]]:
    """The scored pairs of a WordSim/SimLex file: tab-separated `word1 word2 score ...`, '#' comments."""
    return [parts for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#") and len(parts := line.split("\t")) >= 3]


def evaluate_pairs(wv: WordVectors, name: str, keyed=None) -> PairsResult:
    """Spearman/Pearson between human similarity scores and cosine (gensim's evaluate_word_pairs)."""
    import logging
    path = gensim_test_file(EVAL_SETS[name])
    kv = keyed if keyed is not None else wv.to_keyed_vectors()
    logging.getLogger("gensim").setLevel(logging.ERROR)
    rows = _pair_rows(path)
    total = len(rows)
    try:
        pearson, spearman, oov_percent = kv.evaluate_word_pairs(str(path))
    except ValueError:  # scipy needs at least 2 pairs in vocabulary for a correlation
        vocab = {w.upper() for w in wv.words[:ANALOGY_RESTRICT]}
        pairs = sum(1 for parts in rows if parts[0].upper() in vocab and parts[1].upper() in vocab)
        return PairsResult(float("nan"), float("nan"), pairs, total)
    pairs = round(total * (1 - oov_percent / 100))
    return PairsResult(float(spearman[0]), float(pearson[0]), pairs, total)


def _finite_or_none(value: float) -> float | None:
    return None if value != value else value  # NaN (too few pairs) is not valid JSON


def evaluate(wv: WordVectors, device: torch.device | None = None, progress=None) -> dict:
    """All three benchmarks as plain numbers (the page's table and the CLI's JSON)."""
    result = {}
    analogies = evaluate_analogies(wv, device=device, progress=progress)
    result["google analogies"] = {"accuracy": analogies.accuracy, "correct": analogies.correct,
                                  "answered": analogies.answered, "total": analogies.total,
                                  "coverage": analogies.coverage}
    kv = wv.to_keyed_vectors()
    for name in ("wordsim353", "simlex999"):
        pairs = evaluate_pairs(wv, name, kv)
        result[name] = {"spearman": _finite_or_none(pairs.spearman), "pearson": _finite_or_none(pairs.pearson),
                        "pairs": pairs.pairs,
                        "total": pairs.total, "coverage": pairs.coverage}
    return result


# ---- exports ----------------------------------------------------------------------------------------

def coords_csv(words: list[str], coords: np.ndarray) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    axes = ["x", "y", "z"][:coords.shape[1]]
    writer.writerow(["word", *axes])
    for word, row in zip(words, coords):
        writer.writerow([word, *(f"{v:.6g}" for v in row)])
    return out.getvalue()


def projector_tsvs(words: list[str], vectors: np.ndarray, metadata=None) -> tuple[str, str]:
    """(vectors.tsv, metadata.tsv) as the Embedding Projector loads them."""
    vec = "\n".join("\t".join(f"{v:.6g}" for v in row) for row in np.asarray(vectors)) + "\n"
    if metadata is not None and len(metadata.columns) > 1:
        meta = metadata.to_csv(sep="\t", index=False)
    else:
        meta = "\n".join(w.replace("\t", " ").replace("\n", " ") for w in words) + "\n"
    return vec, meta


def pointcloud_tsv(words: list[str], coords: np.ndarray) -> str:
    """Headerless `word<TAB>x<TAB>y<TAB>z` lines (tabs inside a word become spaces)."""
    return "".join(f"{w.replace(chr(9), ' ')}\t" + "\t".join(f"{v:.5f}" for v in row) + "\n"
                   for w, row in zip(words, coords))


def pointcloud_gz(words: list[str], coords: np.ndarray) -> bytes:
    """pointcloud_tsv gzipped: the format 3D point-cloud demos load."""
    return gzip.compress(pointcloud_tsv(words, coords).encode("utf-8"), mtime=0)


# ---- image classifiers ------------------------------------------------------------------------------

@dataclass
class ImageEmbeddings:
    vectors: np.ndarray   # (N, D) penultimate-layer activations
    labels: np.ndarray    # (N,) true label indices
    classes: tuple[str, ...]
    images: np.ndarray    # (N, C, H, W) in [0, 1]
    layer: str


def image_activations(store, run_id: int, limit: int = 2000, batch: int = 512,
                      device: torch.device | None = None) -> ImageEmbeddings:
    """Inputs of the last Linear layer (the penultimate activations) over the first `limit`
    validation images of an image-classifier run."""
    from engine.core.loading import load_run
    loaded = load_run(store, run_id, device=device)
    model, data, device = loaded.model, loaded.data, loaded.device
    if data.info.kind != "image":
        raise ValueError(f"run {run_id} was trained on {data.name}, which is not an image dataset")
    last = [(name, m) for name, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    if not last:
        raise ValueError(f"run {run_id} ({type(model).__name__}) has no Linear output layer")
    name, layer = last[-1]
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda m, inputs, out: captured.append(inputs[0].detach().float().cpu()))
    x, y = data.x_val[:limit], data.y_val[:limit]
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch):
                model(x[start:start + batch].to(device))
    finally:
        handle.remove()
    vectors = torch.cat(captured).flatten(1).numpy()
    return ImageEmbeddings(vectors, y.numpy(), tuple(data.info.classes), x.numpy(), f"input of {name}")
