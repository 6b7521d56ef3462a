"""CLI verbs of the Embeddings page: embed, neighbours, analogy, evaluate-vectors, train-vectors.

    python -m engine embed --vectors glove50 --method umap --dims 3 --top 10000 --out words.tsv.gz
    python -m engine neighbours --vectors glove50 frog -k 10
    python -m engine analogy --vectors glove50 man king woman        (king - man + woman)
    python -m engine evaluate-vectors --vectors 12
    python -m engine train-vectors --model word2vec --corpus lee --set epochs=5

SOURCE (--vectors) is `glove50`, a trained run id, or a vectors file path.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

MAX_K = 1000  # words a neighbours / analogy query prints at most: a list to read, not the vocabulary
SOURCE_HELP = "glove50, a trained run id (word2vec/fasttext), or a vectors file path"


def add_parser(verbs) -> None:
    from engine.core.arguments import whole
    embed = verbs.add_parser("embed", help="project word vectors to 2D/3D and write the coordinates")
    embed.add_argument("--vectors", required=True, help=SOURCE_HELP)
    embed.add_argument("--method", default="pca", choices=("umap", "tsne", "pca"))
    embed.add_argument("--dims", type=whole(), default=3, choices=(2, 3))
    embed.add_argument("--top", type=whole(), default=10_000, help="the N most frequent words (0 = all)")
    embed.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="projection param: n_neighbors, min_dist, metric (umap); perplexity, n_iter (tsne)")
    embed.add_argument("--out", required=True,
                       help="file to write: .csv (word,x,y[,z]), .tsv.gz (headerless word<TAB>x<TAB>y<TAB>z), or .tsv")
    embed.set_defaults(func=run_embed)

    near = verbs.add_parser("neighbours", aliases=["neighbors"], help="nearest words by cosine")
    near.add_argument("--vectors", required=True, help=SOURCE_HELP)
    near.add_argument("word")
    near.add_argument("-k", type=whole(1, MAX_K, "the number of words"), default=10,
                      help=f"how many neighbours (1 to {MAX_K}; default 10)")
    near.set_defaults(func=run_neighbours)

    analogy = verbs.add_parser("analogy", help="A : B :: C : ?  (B - A + C), e.g. man king woman -> queen")
    analogy.add_argument("--vectors", required=True, help=SOURCE_HELP)
    analogy.add_argument("a")
    analogy.add_argument("b")
    analogy.add_argument("c")
    analogy.add_argument("-k", type=whole(1, MAX_K, "the number of words"), default=5,
                         help=f"how many answers (1 to {MAX_K}; default 5)")
    analogy.set_defaults(func=run_analogy)

    evaluate = verbs.add_parser("evaluate-vectors", help="Google analogies, WordSim-353, SimLex-999")
    evaluate.add_argument("--vectors", required=True, help=SOURCE_HELP)
    evaluate.set_defaults(func=run_evaluate)

    train = verbs.add_parser("train-vectors", help="train Word2Vec/FastText with gensim into the run store")
    train.add_argument("--model", default="word2vec", choices=("word2vec", "fasttext"))
    train.add_argument("--corpus", default="wikipedia", help="wikipedia, lee, shakespeare, or a .txt/.txt.gz path")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="algorithm, vector_size, window, min_count, epochs, negative, sample, seed")
    train.set_defaults(func=run_train)


def _store(args):
    from engine.core.paths import runs_dir
    from engine.core.runs import RunStore
    return RunStore(runs_dir(args.data_dir))


def _vectors(args):
    from engine.embeddings.vectors import load_source
    return load_source(args.vectors, _store(args))


def _pairs(items: list[str]) -> dict:
    from engine.core.params import ParamError
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ParamError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = value.strip()
    return out


def _number(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _emit(obj) -> int:
    print(json.dumps(obj))
    return 0


def run_embed(args) -> int:
    from engine.embeddings import explore as emb
    from engine.embeddings.project import fit_transform
    if args.top < 0:
        raise ValueError("--top must be 0 (all) or a positive number")
    wv = _vectors(args)
    n = len(wv) if args.top == 0 else min(args.top, len(wv))
    params = {k: _number(v) for k, v in _pairs(args.set).items()}
    result = fit_transform(wv.vectors[:n], args.method, args.dims,
                           progress=lambda f, m: print(f"[{f:4.0%}] {m}", file=sys.stderr), **params)
    words = wv.words[:n]
    out = Path(args.out)
    if out.name.endswith(".gz"):
        out.write_bytes(emb.pointcloud_gz(words, result.coords))
    elif out.suffix == ".tsv":
        out.write_text(emb.pointcloud_tsv(words, result.coords), encoding="utf-8")
    else:
        out.write_text(emb.coords_csv(words, result.coords), encoding="utf-8")
    return _emit({"vectors": wv.name, "points": n, "method": args.method, "dims": args.dims, "out": str(out),
                  "seconds": round(result.seconds, 3), "cached": result.cached,
                  "explained_variance": result.explained_variance})


def run_neighbours(args) -> int:
    from engine.embeddings import explore as emb
    wv = _vectors(args)
    try:
        found = emb.neighbours(wv, args.word, args.k)
    except emb.UnknownWordError as err:
        raise ValueError(str(err)) from None
    return _emit({"word": args.word, "neighbours": [{"word": n.word, "cosine": round(n.similarity, 6)}
                                                    for n in found]})


def run_analogy(args) -> int:
    from engine.embeddings import explore as emb
    wv = _vectors(args)
    try:
        found = emb.analogy(wv, args.a, args.b, args.c, args.k)
    except emb.UnknownWordError as err:
        raise ValueError(str(err)) from None
    return _emit({"query": f"{args.b} - {args.a} + {args.c}",
                  "results": [{"word": n.word, "cosine": round(n.similarity, 6)} for n in found]})


def run_evaluate(args) -> int:
    from engine.embeddings import explore as emb
    wv = _vectors(args)
    return _emit({"vectors": wv.name, **emb.evaluate(wv)})


def run_train(args) -> int:
    from engine.embeddings.word2vec import CORPORA, corpus_from_bytes, load_corpus, train_vectors
    if args.corpus in CORPORA:
        corpus = load_corpus(args.corpus)
    else:
        path = Path(args.corpus)
        if not path.exists():
            raise FileNotFoundError(f"corpus {args.corpus!r} is neither {', '.join(CORPORA)} nor a file")
        corpus = corpus_from_bytes(path.read_bytes(), name=path.name)
        for warning in corpus.warnings:
            print(f"warning: {warning}", file=sys.stderr)
    job = train_vectors(args.model, corpus, _pairs(args.set), _store(args))
    run = job.store.get_run(job.run_id)
    print(json.dumps({"run_id": run.id, "model": run.model, "corpus": run.dataset, "status": run.status,
                      "message": run.message, "final": run.final}))
    return 0 if run.status == "completed" else 1
