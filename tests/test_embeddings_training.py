"""Word2Vec / FastText trained with gensim into the RunStore; image-classifier activations; the CLI."""
import gzip
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import embeddings as emb
from engine.params import ParamError
from engine.registry import validate
from engine.runs import RunStore
from engine.train import TrainingJob
from engine.vectors import load_run_vectors, load_source
from engine.word2vec import WordVectorJob, corpus_from_bytes, load_corpus, train_vectors

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path / "runs")


def test_word2vec_on_lee_is_saved_as_a_run_and_reopens(store):
    corpus = load_corpus("lee")
    assert corpus.tokens > 50_000
    job = train_vectors("word2vec", corpus, {"epochs": 3, "vector_size": 24, "seed": 3}, store)
    assert job.status == "completed"
    run = store.get_run(job.run_id)
    assert (run.model, run.dataset, run.status) == ("word2vec", "lee", "completed")
    assert run.params["vector_size"] == 24 and run.params["algorithm"] == "skip-gram"
    losses = store.metrics(job.run_id, ["train_loss"])
    assert losses["epoch"].tolist() == [1, 2, 3] and (losses["value"] > 0).all()
    assert store.checkpoint_epochs(job.run_id) == [1, 2, 3]
    wv = load_run_vectors(store, job.run_id)
    assert wv.dim == 24 and len(wv) == run.final["vocabulary"]
    assert wv.words[0] == "the" and wv.counts[0] == max(wv.counts)  # frequency order
    # The saved vectors are gensim's own: same neighbours as the model that trained them.
    theirs = job.model.wv.most_similar("government", topn=5)
    assert [n.word for n in emb.neighbours(wv, "government", 5, device=torch.device("cpu"))] == [w for w, _ in theirs]
    assert load_source(str(job.run_id), store).words == wv.words


def test_fasttext_trains_without_a_loss(store):
    job = train_vectors("fasttext", load_corpus("lee"), {"epochs": 1, "vector_size": 8, "algorithm": "cbow"}, store)
    assert job.status == "completed"
    assert np.isnan(store.metrics(job.run_id, ["train_loss"])["value"]).all()
    assert load_run_vectors(store, job.run_id).dim == 8


def test_empty_vocabulary_says_so(store):
    job = train_vectors("word2vec", corpus_from_bytes(b"one two three\nfour five\n"), {"min_count": 2}, store)
    run = store.get_run(job.run_id)
    assert run.status == "failed"
    assert "empty vocabulary: no word occurs at least min_count=2 times" in run.message


def test_stop_ends_training_between_epochs(store):
    job = WordVectorJob("word2vec", load_corpus("lee"), {"epochs": 100, "vector_size": 8}, store).start()
    job.stop()
    assert job.join(60) == "stopped"
    assert store.get_run(job.run_id).status == "stopped"
    assert len(store.checkpoint_epochs(job.run_id)) < 100


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
        WordVectorJob("word2vec", corpus, {"size": 3}, None)
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
    assert result.classes == tuple(str(d) for d in range(10)) or len(result.classes) == 10


def cli(*args, data):
    env = {"PATH": "/usr/bin:/bin", "DEEP_PLAYGROUND_DATA": str(data)}
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=300)


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
