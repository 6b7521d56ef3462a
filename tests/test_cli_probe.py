"""A probe of the CLI beyond issue #13's list: 69 bad (or odd) inputs a new user might type, each
answered with one clear line and exit status 2 (or a result where the input is fine), never a
traceback. In-process through `engine.__main__.main`, on four tiny runs made once for the module."""
import contextlib
import io
import json
import traceback

import pytest

from engine.__main__ import main

pytestmark = pytest.mark.slow  # four tiny trainings first (about half a minute on 2 cores)

VECTORS = {
    "ok.txt": b"king 0.1 0.2 0.3\nqueen 0.1 0.25 0.3\nman 0.3 0.1 0.0\nwoman 0.3 0.15 0.0\nfrog 0.9 0.9 0.1\n",
    "ragged.txt": b"king 0.1 0.2 0.3\nqueen 0.1 0.25\nman 0.3 0.1 0.0\n",
    "nan.txt": b"king nan 0.2 0.3\nqueen 0.1 0.25 0.3\nman 0.3 0.1 inf\n",
    "dup.txt": b"king 0.1 0.2 0.3\nking 0.1 0.25 0.3\nman 0.3 0.1 0.0\n",
    "empty.txt": b"",
    "latin1.txt": "caf\xe9 0.1 0.2 0.3\nman 0.3 0.1 0.0\nfrog 0.2 0.2 0.2\n".encode("latin-1"),
    "zeros.txt": b"king 0 0 0\nqueen 0.1 0.25 0.3\nman 0.3 0.1 0.0\n",
    "garbage.bin": bytes(range(256)) * 16,
    "empty_corpus.txt": b"",
}
TINY_RUNS = {
    "mlp": ["train", "--model", "mlp", "--dataset", "spiral", "--epochs", "1", "--quiet"],
    "vae": ["train", "--model", "vae", "--dataset", "digits", "--epochs", "1", "--quiet", "--set", "hidden=32"],
    "cnn": ["train", "--model", "cnn", "--dataset", "digits", "--epochs", "1", "--quiet", "--set", "channels=4"],
    "seq": ["train", "--model", "transformer", "--dataset", "reverse", "--epochs", "1", "--quiet",
            "--set", "layers=1", "--set", "d_model=16"],
}


def run_cli(data, args):
    """(exit status, stdout, stderr) of `python -m engine --data-dir DATA ARGS`; a traceback fails."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(["--data-dir", str(data), *args])
        except SystemExit as exit_:
            code = exit_.code
        except Exception:  # noqa: BLE001 (the probe's point: no exception may escape)
            pytest.fail(f"traceback for {args}:\n{traceback.format_exc()}")
    assert "Traceback" not in err.getvalue()
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    files = root / "files"
    files.mkdir()
    for name, content in VECTORS.items():
        (files / name).write_bytes(content)
    (files / "adir").mkdir()
    (files / "afile").write_text("x")
    ids = {}
    for name, args in TINY_RUNS.items():
        code, out, err = run_cli(root / "data", args)
        assert code == 0, err
        ids[name] = str(json.loads(out.strip().splitlines()[-1])["run_id"])
    return root, files, ids


T = ["train", "--model", "mlp", "--dataset", "spiral"]
# (name, args with {f}=files folder and {mlp}/{vae}/{cnn}/{seq}=run ids, exit status, stderr's last line starts)
CASES = [
    ("lr nan", T + ["--lr", "nan"], 2, "error: lr must be a finite number, not 'nan'"),
    ("lr -1", T + ["--lr", "-1"], 2, "error: lr must be between 1e-06 and 100; got -1"),
    ("batch 0", T + ["--batch-size", "0"], 2, "error: batch_size must be between 1 and 8192; got 0"),
    ("epochs 0", T + ["--epochs", "0"], 2, "error: epochs must be between 1 and 1000; got 0"),
    ("epochs 2.5", T + ["--epochs", "2.5"], 2, "error: epochs must be a whole number, not '2.5'"),
    ("width abc", T + ["--set", "width=abc"], 2, "error: width must be a whole number, not 'abc'"),
    ("set =3", T + ["--set", "=3"], 2, "error: --set expects key=value, got '=3'"),
    ("set without =", T + ["--set", "depth"], 2, "error: --set expects key=value, got 'depth'"),
    ("noise 5", T + ["--option", "noise=5"], 2, "error: noise must be between 0 and 0.5; got 5"),
    ("unknown option", T + ["--option", "bogus=1"], 2, "error: unknown setting(s) bogus; known: "),
    ("device tpu", T + ["--device", "tpu"], 2, "error: unknown device 'tpu'"),
    ("cnn on points", ["train", "--model", "cnn", "--dataset", "spiral"], 2, "error: CNN (conv blocks + dense head) trains on image data"),
    ("optimizer nosuch", T + ["--optimizer", "nosuch"], 2, "error: optimizer must be one of sgd, momentum"),
    ("seed -1", T + ["--seed", "-1"], 2, "error: seed must be between 0 and"),
    ("seed 2**70", T + ["--seed", str(2 ** 70)], 2, "error: seed must be between 0 and"),
    ("heads do not divide", ["train", "--model", "transformer", "--dataset", "reverse", "--set", "heads=3",
                             "--set", "d_model=16"], 2, "error: 3 heads do not divide d_model 16"),
    ("runs show abc", ["runs", "show", "abc"], 2, "error: argument run_id: a run id must be a whole number, not 'abc'"),
    ("runs show 0", ["runs", "show", "0"], 2, "error: argument run_id: a run id must be at least 1; got 0"),
    ("runs show -5", ["runs", "show", "-5"], 2, "error: argument run_id: a run id must be at least 1; got -5"),
    ("runs list -1", ["runs", "list", "--limit", "-1"], 2, "error: argument --limit: the number of runs must be at least 1"),
    ("export to missing dir", ["runs", "export", "{mlp}", "--csv", "--out", "{f}/no/dir/x.csv"], 2, "error: "),
    ("export to a dir", ["runs", "export", "{mlp}", "--csv", "--out", "{f}/adir"], 2, "error: "),
    ("data dir is a file", ["--data-dir", "{f}/afile", "runs", "list"], 2, "error: the data dir "),
    ("saliency of an mlp", ["saliency", "--run", "{mlp}", "--method", "gradcam", "--index", "0", "--out", "{f}/s.png"],
     2, "error: run {mlp} is a MLP (fully connected), not a CNN"),
    ("index -1", ["saliency", "--run", "{cnn}", "--method", "saliency", "--index", "-1", "--out", "{f}/s.png"], 2,
     "error: argument --index: the value must be at least 0; got -1"),
    ("index 10**9", ["saliency", "--run", "{cnn}", "--method", "saliency", "--index", str(10 ** 9), "--out", "{f}/s.png"],
     2, "error: --index must be between 0 and 359"),
    ("target 11", ["saliency", "--run", "{cnn}", "--method", "saliency", "--index", "0", "--target", "11", "--out", "{f}/s.png"],
     2, "error: --target must be a class between 0 and 9"),
    ("ig steps 0", ["saliency", "--run", "{cnn}", "--method", "integrated-gradients", "--index", "0", "--steps", "0",
                    "--out", "{f}/s.png"], 2, "error: argument --steps: the value must be between 1 and 1000; got 0"),
    ("window 0", ["saliency", "--run", "{cnn}", "--method", "occlusion", "--index", "0", "--window", "0", "--out", "{f}/s.png"],
     2, "error: argument --window: the value must be at least 1; got 0"),
    ("window 100", ["saliency", "--run", "{cnn}", "--method", "occlusion", "--index", "0", "--window", "100", "--out", "{f}/s.png"],
     2, "error: occlusion window and stride must be between 1 and 8 pixels"),
    ("layer nosuch", ["saliency", "--run", "{cnn}", "--method", "gradcam", "--index", "0", "--layer", "nosuch", "--out", "{f}/s.png"],
     2, "error: no conv layer 'nosuch'; choose one of"),
    ("out in missing dir", ["saliency", "--run", "{cnn}", "--method", "saliency", "--index", "0", "--out", "{f}/no/s.png"],
     2, "error: folder {f}/no does not exist"),
    ("epoch 99", ["saliency", "--run", "{cnn}", "--method", "saliency", "--index", "0", "--epoch", "99", "--out", "{f}/s.png"],
     2, "error: run {cnn} has no checkpoint for epoch 99; saved epochs: [1]"),
    ("sample an mlp", ["sample", "--run", "{mlp}", "--out", "{f}/g.png"], 2, "error: run {mlp} is a MLP (fully connected), not a generative model"),
    ("sample n 0", ["sample", "--run", "{vae}", "--n", "0", "--out", "{f}/g.png"], 2, "error: --n must be between 1 and 4096, not 0"),
    ("sample n 10**6", ["sample", "--run", "{vae}", "--n", str(10 ** 6), "--out", "{f}/g.png"], 2, "error: --n must be between 1 and 4096"),
    ("label on a vae", ["sample", "--run", "{vae}", "--label", "12", "--out", "{f}/g.png"], 2, "error: this model is not conditional"),
    ("dims 5 9", ["latent-grid", "--run", "{vae}", "--dims", "5", "9", "--out", "{f}/g.png"], 2, "error: latent dimension 5 does not exist"),
    ("dims 0 0", ["latent-grid", "--run", "{vae}", "--dims", "0", "0", "--out", "{f}/g.png"], 2, "error: choose two different latent dimensions"),
    ("range nan", ["latent-grid", "--run", "{vae}", "--range", "nan", "--out", "{f}/g.png"], 2, "error: argument --range: the value must be a finite number"),
    ("range -1", ["latent-grid", "--run", "{vae}", "--range", "-1", "--out", "{f}/g.png"], 2, "error: the grid range must be positive"),
    ("grid n 5000", ["latent-grid", "--run", "{vae}", "--n", "5000", "--out", "{f}/g.png"], 2, "error: --n must be between 1 and 64"),
    ("vectors missing", ["neighbours", "--vectors", "{f}/missing.txt", "king"], 2, "error: '{f}/missing.txt' is not glove50, a run id, or an existing file"),
    ("unknown word", ["neighbours", "--vectors", "{f}/ok.txt", "zzzz"], 2, "error: 'zzzz' is not in the vocabulary"),
    ("k 10**9", ["neighbours", "--vectors", "{f}/ok.txt", "-k", str(10 ** 9), "king"], 2, "error: argument -k: the number of words must be between 1 and 1000"),
    ("ragged vectors", ["neighbours", "--vectors", "{f}/ragged.txt", "king"], 2, "error: line 2: expected 3 numbers, found 2"),
    ("nan vectors", ["neighbours", "--vectors", "{f}/nan.txt", "queen"], 2, "error: line 1, value 1: 'nan' is not a finite number"),
    ("empty vectors", ["neighbours", "--vectors", "{f}/empty.txt", "king"], 2, "error: the file is empty"),
    ("latin-1 vectors", ["neighbours", "--vectors", "{f}/latin1.txt", "man"], 2, "error: line 1: the file is not UTF-8 text"),
    ("zero vector", ["neighbours", "--vectors", "{f}/zeros.txt", "king"], 2, "error: 'king' has an all-zero vector"),
    ("random bytes as vectors", ["neighbours", "--vectors", "{f}/garbage.bin", "king"], 2, "error: "),
    ("vectors is a dir", ["neighbours", "--vectors", "{f}/adir", "king"], 2, "error: "),
    ("analogy unknown", ["analogy", "--vectors", "{f}/ok.txt", "king", "zzzz", "man"], 2, "error: 'zzzz' is not in the vocabulary"),
    ("embed top -1", ["embed", "--vectors", "{f}/ok.txt", "--method", "pca", "--top", "-1", "--out", "{f}/e.csv"], 2,
     "error: argument --top: the value must be at least 0; got -1"),
    ("umap on 5 words", ["embed", "--vectors", "{f}/ok.txt", "--method", "umap", "--out", "{f}/e.csv"], 2,
     "error: UMAP n_neighbors must be between 2 and the number of points (5); got 15"),
    ("tsne on 5 words", ["embed", "--vectors", "{f}/ok.txt", "--method", "tsne", "--out", "{f}/e.csv"], 2,
     "error: t-SNE perplexity must be between 1 and the number of points (5)"),
    ("embed bogus param", ["embed", "--vectors", "{f}/ok.txt", "--method", "pca", "--set", "bogus=1", "--out", "{f}/e.csv"], 2,
     "error: pca has no parameter(s) bogus"),
    ("empty corpus", ["train-vectors", "--corpus", "{f}/empty_corpus.txt"], 2, "error: the corpus holds no words"),
    ("vector_size 0", ["train-vectors", "--set", "vector_size=0"], 2, "error: vector_size must be between 2 and 600; got 0"),
    ("empty sentence", ["attention", "--model", "minilm", "--text", "", "--out", "{f}/a.npz"], 2, "error: the sentence is empty"),
    ("attention of an mlp", ["attention", "--model", "{mlp}", "--text", "1 2 3", "--out", "{f}/a.npz"], 2,
     "error: run {mlp} is mlp on spiral: attention needs a run of transformer or seq2seq"),
    ("model ²", ["attention", "--model", "²", "--text", "1 2 3", "--out", "{f}/a.npz"], 2, "error: --model must be minilm or a run id, not '²'"),
    ("translate an mlp", ["translate", "--run", "{mlp}", "--text", "abc"], 2, "error: run {mlp} is mlp on spiral"),
    ("translate empty", ["translate", "--run", "{seq}", "--text", ""], 2, "error: the input is empty: type a sequence"),
    ("translate unknown characters", ["translate", "--run", "{seq}", "--text", "héllo ☃"], 2,
     "error: character(s) 'é', 'l', 'o', ' ', '☃' are not in this task's vocabulary"),
    # Odd but fine: a result, exit 0.
    ("analogy of one word thrice", ["analogy", "--vectors", "{f}/ok.txt", "king", "king", "king"], 0, ""),
    ("embed top 0 means all", ["embed", "--vectors", "{f}/ok.txt", "--method", "pca", "--top", "0", "--out", "{f}/e.csv"], 0, ""),
    ("evaluate 5 words", ["evaluate-vectors", "--vectors", "{f}/ok.txt"], 0, ""),
    ("translate 9000 characters", ["translate", "--run", "{seq}", "--text", "abc" * 3000], 0, ""),
]


@pytest.mark.parametrize("name, args, status, message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_one_clear_line(world, name, args, status, message):
    root, files, ids = world
    fill = {"f": str(files), **ids}
    code, out, err = run_cli(root / "data", [a.format(**fill) for a in args])
    assert code == status, err
    if status:
        lines = err.strip().splitlines()
        assert lines[-1].startswith(message.format(**fill)), err
    else:
        assert out.strip()  # a result on stdout
