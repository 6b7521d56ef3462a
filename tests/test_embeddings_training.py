"""Word2Vec / FastText trained with gensim into the RunStore; image-classifier activations; the CLI."""
import gzip
import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data import load_dataset
from engine.embeddings import explore as emb
from engine.core.jobs import RunControl, children
from engine.core.params import ParamError
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob
from engine.embeddings.vectors import load_run_vectors, load_source
from engine.embeddings.word2vec import MAX_CORPUS_BYTES, Corpus, WordVectorJob, corpus_from_bytes, load_corpus, start_vectors, \
    train_vectors
from tests.bombs import gzip_bomb, peak_memory
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def test_word2vec_on_lee_is_saved_as_a_run_and_reopens(store):
    corpus = load_corpus("lee")
    assert corpus.tokens > 50_000
    job = train_vectors("word2vec", corpus, {"epochs": 3, "vector_size": 24, "seed": 3}, store)
    assert job.progress.status == "completed"
    run = store.get_run(job.run_id)
    assert (run.model, run.dataset, run.status) == ("word2vec", "lee", "completed")
    assert run.params["vector_size"] == 24 and run.params["algorithm"] == "skip-gram"
    losses = store.metrics(job.run_id, ["train_loss"])
    assert losses["epoch"].tolist() == [1, 2, 3] and (losses["value"] > 0).all()
    assert store.checkpoint_epochs(job.run_id) == [1, 2, 3]
    assert run.final["epochs"] == 3 and run.final["tokens"] == corpus.tokens
    assert run.final["train_loss"] == pytest.approx(losses["value"].iloc[-1])
    assert run.progress["note"] == f"epoch 3 of 3: loss {run.final['train_loss']:.4f} per word"
    assert run.progress["fraction"] == 1.0 and run.progress["epoch"] == 3
    wv = load_run_vectors(store, job.run_id)
    assert wv.dim == 24 and len(wv) == run.final["vocabulary"]
    assert wv.words[0] == "the" and wv.counts[0] == max(wv.counts)  # frequency order
    # The saved vectors are gensim's own: same neighbours as the model that trained them.
    theirs = job.model.wv.most_similar("government", topn=5)
    assert [n.word for n in emb.neighbours(wv, "government", 5, device=torch.device("cpu"))] == [w for w, _ in theirs]
    assert load_source(str(job.run_id), store).words == wv.words


def test_fasttext_trains_without_a_loss(store):
    job = train_vectors("fasttext", "lee", {"epochs": 1, "vector_size": 8, "algorithm": "cbow"}, store)
    assert job.progress.status == "completed"
    assert np.isnan(store.metrics(job.run_id, ["train_loss"])["value"]).all()
    assert "train_loss" not in store.get_run(job.run_id).final
    assert load_run_vectors(store, job.run_id).dim == 8


def test_empty_vocabulary_says_so(store):
    job = train_vectors("word2vec", corpus_from_bytes(b"one two three\nfour five\n"), {"min_count": 2}, store)
    run = store.get_run(job.run_id)
    assert run.status == "failed"
    assert "empty vocabulary: no word occurs at least min_count=2 times" in run.message


@pytest.mark.slow
def test_a_started_job_is_stopped_through_the_store_and_keeps_its_finished_epochs(store):
    job = start_vectors("word2vec", "lee", {"epochs": 100, "vector_size": 8}, store)
    control = RunControl(store, job.run_id)  # what a page holds: only the store and the run id
    wait_for(lambda: control.progress().epoch >= 2, what="two epochs")
    asked = time.monotonic()
    assert control.stop(wait=30) == "stopped"
    assert time.monotonic() - asked < 1.5  # between epochs or within one: the feed polls every 0.1 s
    run = store.get_run(job.run_id)
    assert run.message.startswith("stopped by the user") and "the vectors of epochs 1 to" in run.message
    kept = store.checkpoint_epochs(job.run_id)
    assert 2 <= len(kept) < 100 and kept == list(range(1, len(kept) + 1))
    assert run.final["epochs"] == kept[-1]  # an epoch cut short by the stop is not saved
    wv = load_run_vectors(store, job.run_id)
    assert wv.dim == 8 and len(wv) == run.final["vocabulary"]
    assert job.run_id not in children()


@pytest.mark.slow
def test_stop_within_a_long_epoch(store):
    """A stop does not wait for the end of the pass: gensim reads the corpus through a feed that
    looks at the commands between blocks of sentences."""
    words = [a + b + c for a in "abcdefgh" for b in "ijklmnop" for c in "qrstuvwxyz"]  # 640 words
    long_epoch = Corpus("long", [[words[(i * k) % 640] for k in range(1, 9)] for i in range(300_000)])
    job = WordVectorJob("word2vec", long_epoch, {"epochs": 3, "vector_size": 50, "window": 10,
                                                 "negative": 20, "min_count": 1}, store)
    job.progress_seconds = 0.05  # travels with the job: the share done is written every 0.05 s
    control = job.start().control
    wait_for(lambda: halfway(control.progress().note), what="progress within an epoch")
    asked = time.monotonic()
    assert control.stop(wait=30) == "stopped"
    assert time.monotonic() - asked < 1.5
    message = store.get_run(job.run_id).message
    # Nearly always "during epoch k" (the epoch cut short is not saved); "after epoch k" only if
    # the pass ended in the 0.1 s before the stop was read.
    when, epoch = re.match(r"stopped by the user (during|after) epoch (\d+);", message).groups()
    finished = int(epoch) - (when == "during")
    assert store.checkpoint_epochs(job.run_id) == list(range(1, finished + 1))


def halfway(note: str) -> bool:
    """A note like "epoch 1 of 3: 40% of the corpus", with at most half the pass done."""
    found = re.search(r": (\d+)% of the corpus$", note)
    return found is not None and int(found[1]) <= 50


def test_step_pauses_after_each_epoch_then_resumes(store):
    job = start_vectors("word2vec", "lee", {"epochs": 4, "vector_size": 8}, store, pause_after_epoch=1)
    control = job.control
    progress = wait_for(lambda: (p := control.progress()).paused and p, what="the pause after epoch 1")
    # The paused state is stored with the epoch it follows, and the epoch's vectors are there.
    assert progress.epoch == 1 and store.checkpoint_epochs(job.run_id) == [1]
    assert store.metrics(job.run_id, ["train_loss"]).epoch.tolist() == [1]
    assert progress.note.startswith("epoch 1 of 4: loss ")
    control.step(2)
    progress = wait_for(lambda: (p := control.progress()).paused and p.epoch == 3 and p, what="epoch 3")
    assert store.checkpoint_epochs(job.run_id) == [1, 2, 3]
    control.resume()
    assert job.join(60) == "completed"
    assert control.progress().epoch == 4 and store.get_run(job.run_id).final["epochs"] == 4


def test_pause_while_training_then_stop_while_paused(store):
    job = start_vectors("word2vec", "lee", {"epochs": 100, "vector_size": 8}, store)
    wait_for(lambda: job.control.progress().epoch >= 1, what="the first epoch")
    job.control.pause()
    progress = wait_for(lambda: (p := job.control.progress()).paused and p, what="the pause")
    assert 1 <= progress.epoch < 100 and store.checkpoint_epochs(job.run_id)[-1] == progress.epoch
    assert job.control.stop(wait=10) == "stopped"
    assert store.get_run(job.run_id).message.startswith(f"stopped by the user after epoch {progress.epoch}")


def test_a_killed_process_leaves_the_run_interrupted_with_its_vectors(store):
    job = start_vectors("word2vec", "lee", {"epochs": 100, "vector_size": 8}, store)
    wait_for(lambda: store.checkpoint_epochs(job.run_id), what="the first epoch's vectors")
    os.kill(children()[job.run_id].pid, signal.SIGKILL)
    progress = wait_for(lambda: (p := job.control.progress()).status != "running" and p, what="the verdict")
    assert progress.status == "interrupted" and "killed (SIGKILL" in progress.message
    assert load_run_vectors(store, job.run_id, epoch=1).dim == 8


@pytest.mark.slow
def test_every_bundled_corpus_is_read_in_the_job_s_own_process(store):
    """The job's process is daemonic: reading a corpus there must not start processes (gensim's
    WikiCorpus.get_texts() does)."""
    jobs = [start_vectors("word2vec", name, {"epochs": 1, "vector_size": 4, "min_count": 50}, store)
            for name in ("wikipedia", "shakespeare")]
    for job in jobs:
        assert job.join(180) == "completed", store.get_run(job.run_id).message
    wikipedia, shakespeare = (store.get_run(j.run_id).final["tokens"] for j in jobs)
    assert wikipedia > 400_000 and shakespeare > 800_000


def test_a_stop_sent_before_the_run_starts_stops_it(store):
    job = WordVectorJob("word2vec", "lee", {"epochs": 3}, store)
    RunControl(store, job.run_id).stop()
    assert job.run() == "stopped"
    assert store.checkpoint_epochs(job.run_id) == []


def test_a_1_mb_gzip_bomb_corpus_expanding_to_1_gib_is_refused_in_little_memory(tmp_path):
    """Input: 1 GiB of zeros gzipped to 1 MB (1024 gzip members of 1 MiB each), uploaded as a corpus.
    It was decompressed whole (2.4 GB at the peak); now it stops at the 50 MB limit."""
    bomb = gzip_bomb(tmp_path / "bomb.txt.gz")
    corpus_from_bytes(b"hello world")  # gensim's import (tens of MB) is not the upload's cost
    peak, outcome = peak_memory(lambda: corpus_from_bytes(bomb))
    assert isinstance(outcome, ParamError)
    assert str(outcome) == "the decompressed corpus is larger than the limit of 50 MB (its 1.0 MB gzipped expand past it)"
    assert peak < MAX_CORPUS_BYTES + 8 * 2**20, f"peak {peak / 2**20:.0f} MB"


def test_the_job_travels_to_its_process_without_a_bundled_corpus(store):
    lee = load_corpus("lee")
    job = WordVectorJob("word2vec", lee, {"epochs": 1}, store)
    assert len(pickle.dumps(job)) < 10_000  # read again by name in the child
    upload = corpus_from_bytes(b"alpha beta gamma\n\ndelta  epsilon\n")
    arrived = pickle.loads(pickle.dumps(WordVectorJob("word2vec", upload, {"epochs": 1}, store)))
    assert arrived.corpus == upload and arrived.model is None


def test_uploaded_corpus_non_utf8_gzip_and_limits():
    corpus = corpus_from_bytes("caf\xe9 society\nhello world\n".encode("latin-1"))
    assert corpus.sentences[1] == ["hello", "world"]
    assert len(corpus.warnings) == 1 and "not valid UTF-8 (first bad byte on line 1)" in corpus.warnings[0]
    assert corpus_from_bytes(gzip.compress(b"hello world\n")).sentences == [["hello", "world"]]
    with pytest.raises(ParamError, match="larger than the limit of 1 MB"):
        corpus_from_bytes(b"x" * (2**20 + 1), limit=2**20)
    with pytest.raises(ParamError, match="holds no words"):
        corpus_from_bytes(b"1 2 3\n")
    with pytest.raises(ParamError, match="unknown setting"):
        WordVectorJob("word2vec", corpus, {"size": 3}, None)  # bad settings fail before any run exists
    with pytest.raises(ParamError, match="unknown word-vector model"):
        WordVectorJob("glove", corpus, {}, None)
    with pytest.raises(ParamError, match="unknown corpus"):
        WordVectorJob("word2vec", "nope", {}, None)
    with pytest.raises(ParamError, match="unknown corpus"):
        load_corpus("nope")


def test_image_activations_of_an_mlp_on_digits(data_env, store):
    config = validate("mlp", "digits", {"epochs": 1, "width": 16, "depth": 2})
    job = TrainingJob(config, store, device="cpu")
    assert job.run() == "completed"
    result = emb.image_activations(store, job.run_id, limit=100, device=torch.device("cpu"))
    assert result.vectors.shape == (100, 16)  # the input of the last Linear: the second hidden layer
    assert result.images.shape == (100, 1, 8, 8)
    assert result.labels.shape == (100,) and set(result.labels) <= set(range(10))
    assert np.array_equal(result.labels, load_dataset("digits").y_val[:100].numpy())  # the first 100 test images
    assert result.classes == ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9")  # the dataset's class names


def cli(*args, data):
    env = {"PATH": "/usr/bin:/bin", "DEEP_PLAYGROUND_DATA": str(data)}
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=300)


@pytest.mark.slow
def test_cli_train_neighbours_analogy_embed_evaluate(tmp_path):
    trained = cli("train-vectors", "--corpus", "lee", "--set", "epochs=2", "--set", "vector_size=16", data=tmp_path)
    assert trained.returncode == 0, trained.stderr
    run_id = str(json.loads(trained.stdout)["run_id"])

    near = cli("neighbours", "--vectors", "glove50", "frog", "-k", "3", data=tmp_path)
    assert near.returncode == 0, near.stderr
    assert [n["word"] for n in json.loads(near.stdout)["neighbours"]] == ["snake", "ape", "toad"]

    analogy = cli("analogy", "--vectors", "glove50", "man", "king", "woman", data=tmp_path)
    assert json.loads(analogy.stdout)["results"][0]["word"] == "queen"

    out = tmp_path / "points.tsv.gz"
    embed = cli("embed", "--vectors", run_id, "--method", "pca", "--dims", "3", "--top", "200", "--out", str(out),
                data=tmp_path)
    assert embed.returncode == 0, embed.stderr
    assert json.loads(embed.stdout)["points"] == 200
    rows = [line.split("\t") for line in gzip.decompress(out.read_bytes()).decode().splitlines()]
    assert len(rows) == 200 and rows[0][0] == "the" and all(len(r) == 4 for r in rows)

    small = tmp_path / "small.txt"
    small.write_text("king 1 0 0\nqueen 0.9 0.2 0\nman 0.5 -0.5 0\nwoman 0.4 -0.3 0.1\n")
    evaluated = cli("evaluate-vectors", "--vectors", str(small), data=tmp_path)
    assert evaluated.returncode == 0, evaluated.stderr
    scores = json.loads(evaluated.stdout)
    assert scores["google analogies"]["answered"] == 2  # the king/queen man/woman questions
    assert scores["google analogies"]["total"] == 19544
    assert scores["wordsim353"]["pairs"] == 2  # king-queen, man-woman


@pytest.mark.slow
@pytest.mark.parametrize("args, message", [
    (["neighbours", "--vectors", "glove50", "Frogg"], "is not in the vocabulary; did you mean"),
    (["neighbours", "--vectors", "/no/file", "x"], "not glove50, a run id, or an existing file"),
    (["embed", "--vectors", "glove50", "--method", "tsne", "--top", "50", "--set", "perplexity=80", "--out", "x.csv"],
     "perplexity must be between 1 and the number of points (50)"),
    (["analogy", "--vectors", "99", "a", "b", "c"], "no run with id 99"),
])
def test_cli_bad_input_exits_2_with_a_message(tmp_path, args, message):
    result = cli(*args, data=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
