"""Word vectors: every loader (and each malformed case), neighbours, analogies, evaluation, exports."""
import codecs
import gzip
import io
import math

import numpy as np
import pytest
import torch

from engine.embeddings import explore as emb
from engine.embeddings.vectors import MAX_UPLOAD_BYTES, VectorsFormatError, WordVectors, load_glove50, load_source, \
    load_vectors_file
from tests.bombs import gzip_bomb, peak_memory

WORDS = ["alpha", "beta", "gamma", "delta", "eps"]
VECS = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0, 0.8, 0.6], [-1, 0, 0.2]], dtype=np.float32)
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def glove():
    return load_glove50()


def w2v_text(words=WORDS, vecs=VECS, header=True) -> str:
    lines = [f"{len(words)} {vecs.shape[1]}"] if header else []
    lines += [w + " " + " ".join(f"{v:.6f}" for v in row) for w, row in zip(words, vecs)]
    return "\n".join(lines) + "\n"


def w2v_binary(words=WORDS, vecs=VECS) -> bytes:
    out = io.BytesIO()
    out.write(f"{len(words)} {vecs.shape[1]}\n".encode())
    for w, row in zip(words, vecs):
        out.write(w.encode() + b" " + row.astype("<f4").tobytes() + b"\n")
    return out.getvalue()


# ---- loaders ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda: w2v_text().encode(),
    lambda: w2v_text(header=False).encode(),       # GloVe .txt
    w2v_binary,
])
@pytest.mark.parametrize("gz", [False, True])
def test_each_format_loads_the_same_vectors(tmp_path, make, gz):
    raw = make()
    path = tmp_path / ("v.gz" if gz else "v.txt")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    wv = load_vectors_file(path)
    assert wv.words == WORDS
    np.testing.assert_allclose(wv.vectors, VECS, atol=1e-6)


def test_binary_file_written_by_gensim_loads(tmp_path):
    kv = WordVectors("t", WORDS, VECS).to_keyed_vectors()
    kv.save_word2vec_format(str(tmp_path / "g.bin"), binary=True)
    wv = load_vectors_file(tmp_path / "g.bin")
    assert wv.words == WORDS
    np.testing.assert_array_equal(wv.vectors, VECS)


def test_projector_tsv_with_and_without_metadata(tmp_path):
    vec_tsv, meta_tsv = emb.projector_tsvs(WORDS, VECS)
    (tmp_path / "vectors.tsv").write_text(vec_tsv)
    (tmp_path / "metadata.tsv").write_text(meta_tsv)
    wv = load_vectors_file(tmp_path / "vectors.tsv", metadata=tmp_path / "metadata.tsv")
    assert wv.words == WORDS
    np.testing.assert_allclose(wv.vectors, VECS, atol=1e-6)
    bare = load_vectors_file(gzip.compress(vec_tsv.encode()))
    assert bare.words == ["#0", "#1", "#2", "#3", "#4"]
    # A metadata file with a header row and several columns: the first column names the points.
    meta = "word\tpos\n" + "".join(f"{w}\tnoun\n" for w in WORDS)
    wv = load_vectors_file(vec_tsv.encode(), metadata=meta.encode())
    assert wv.words == WORDS and list(wv.metadata.columns) == ["word", "pos"]


@pytest.mark.parametrize("content, message", [
    ("5 3\nalpha 1 0 0\nbeta 1 0\n", "line 3: expected 3 numbers, found 2 (ragged row)"),
    ("alpha 1 0 0\nbeta 1 0 0 7\n", "line 2: expected 3 numbers, found 4 (ragged row)"),
    ("alpha 1 0 0\nbeta 1 x 0\n", "line 2, value 2: 'x' is not a number"),
    ("alpha 1 0 0\nbeta 1 nan 0\n", "line 2, value 2: 'nan' is not a finite number (NaN/inf)"),
    ("alpha 1 0 0\nbeta inf 0 0\n", "line 2, value 1: 'inf' is not a finite number (NaN/inf)"),
    ("3 3\nalpha 1 0 0\nbeta 1 0 0\n", "line 1: the header says 3 words but the file holds 2"),
    ("alpha\n", "line 1: expected a word followed by numbers"),
    ("", "the file is empty"),
    ("1\t2\n3\t4\t5\n", "line 2: expected 2 numbers, found 3 (ragged row)"),
])
def test_malformed_text_names_the_line_and_problem(content, message):
    with pytest.raises(VectorsFormatError, match=None) as info:
        load_vectors_file(content.encode())
    assert message in str(info.value)


def test_binary_junk_and_truncated_binary():
    with pytest.raises(VectorsFormatError, match=r"line 2: the file is not UTF-8 text"):
        load_vectors_file(bytes(range(256)) * 4)
    with pytest.raises(VectorsFormatError, match=r"entry 5 \('eps'\): the file ends inside its vector"):
        load_vectors_file(w2v_binary()[:-8])
    nan_row = w2v_binary(vecs=np.where(np.arange(15).reshape(5, 3) == 7, np.nan, VECS).astype(np.float32))
    with pytest.raises(VectorsFormatError, match=r"entry 3 \('gamma'\): the vector holds NaN or inf"):
        load_vectors_file(nan_row)
    with pytest.raises(VectorsFormatError, match="looks gzipped but cannot be decompressed"):
        load_vectors_file(b"\x1f\x8b" + b"junk" * 10)


def test_size_limit_is_stated():
    with pytest.raises(VectorsFormatError, match="larger than the limit of 1 MB"):
        load_vectors_file(b"a 1\n" * 300_000, limit=2**20)
    with pytest.raises(VectorsFormatError, match="decompressed file is larger than the limit of 1 MB"):
        load_vectors_file(gzip.compress(b"a 1\n" * 300_000), limit=2**20)


def test_a_1_mb_gzip_bomb_of_vectors_stops_at_the_200_mb_limit(tmp_path):
    """Input: 1 GiB of zeros gzipped to 1 MB, uploaded as a vectors file: read as a stream, it costs
    at most the limit in memory (what a legitimate file of the largest size costs), never 1 GiB."""
    bomb = gzip_bomb(tmp_path / "bomb.vec.gz")
    peak, outcome = peak_memory(lambda: load_vectors_file(bomb))
    assert isinstance(outcome, VectorsFormatError)
    assert str(outcome) == "the decompressed file is larger than the limit of 200 MB (its 1.0 MB gzipped expand past it)"
    assert peak < MAX_UPLOAD_BYTES + 8 * 2**20, f"peak {peak / 2**20:.0f} MB"


def test_a_binary_header_claiming_a_billion_words_of_300_dimensions_is_checked_against_the_file_size():
    """Input: b"1000000000 300\\n" then 64 bytes of binary junk: the header promises 1.1 TB."""
    with pytest.raises(VectorsFormatError) as info:
        load_vectors_file(b"1000000000 300\n" + bytes(range(192, 256)))
    assert str(info.value) == ("line 1: the header says 1,000,000,000 words of 300 dimensions, which take at least "
                               "1.1 TB, but the file holds 64 bytes after it")
    # A header promising ten times the words the file holds is caught the same way, before any allocation.
    with pytest.raises(VectorsFormatError) as info:
        load_vectors_file(w2v_binary().replace(b"5 3", b"50 3", 1))
    assert str(info.value) == "line 1: the header says 50 words of 3 dimensions, which take at least 700 bytes, " \
                              "but the file holds 92 bytes after it"


@pytest.mark.parametrize("content", [
    "\ufeff" + w2v_text(),                 # word2vec text with a header
    "\ufeff" + w2v_text(header=False),     # GloVe text
])
def test_a_utf8_byte_order_mark_is_not_glued_to_the_first_word(content):
    """Input: the 5-word file saved by an editor that writes a UTF-8 BOM (EF BB BF) first."""
    wv = load_vectors_file(content.encode("utf-8"))
    assert wv.words == WORDS
    binary = load_vectors_file(codecs.BOM_UTF8 + w2v_binary())
    assert binary.words == WORDS


@pytest.mark.parametrize("content, message", [
    ("alpha 1\nbeta 2\ngamma -1\n", "the vectors have 1 dimension: every cosine similarity would be +1 or -1; "
                                     "at least 2 are needed (a 2D map needs 2, a 3D map 3)"),
    ("3 1\nalpha 1\nbeta 2\ngamma -1\n", "the vectors have 1 dimension: every cosine similarity would be +1 or -1; "
                                           "at least 2 are needed (a 2D map needs 2, a 3D map 3)"),
    ("alpha 1 2 3\n", "the file holds 1 word: neighbours, analogies and maps need at least 2"),
    ("1\t2\n", "the file holds 1 word: neighbours, analogies and maps need at least 2"),
])
def test_one_dimension_or_one_word_is_refused_with_a_reason(content, message):
    """Inputs: 1-dimensional vectors (every cosine 1.0, PCA failing inside sklearn) and single-word files."""
    with pytest.raises(VectorsFormatError) as info:
        load_vectors_file(content.encode())
    assert str(info.value) == message


def test_metadata_row_count_must_match():
    vec_tsv, _ = emb.projector_tsvs(WORDS, VECS)
    with pytest.raises(VectorsFormatError, match="the metadata has 2 rows for 5 vectors"):
        load_vectors_file(vec_tsv.encode(), metadata=b"a\nb\n")


def test_glove_is_memory_mapped_and_in_frequency_order(glove):
    assert len(glove) == 400_000 and glove.dim == 50
    assert isinstance(glove.vectors, np.memmap)
    assert glove.words[:3] == ["the", ",", "."]
    assert load_source("glove50").words[:3] == ["the", ",", "."]
    with pytest.raises(FileNotFoundError, match="not glove50, a run id, or an existing file"):
        load_source("/no/such/file.txt")


# ---- neighbours, analogies, similarities ------------------------------------------------------------

def test_neighbours_equal_gensim_most_similar(glove):
    sub = WordVectors("glove 20k", glove.words[:20_000], np.asarray(glove.vectors[:20_000]))
    kv = sub.to_keyed_vectors()
    for word in ("king", "frog", "computer"):
        ours = emb.neighbours(sub, word, 10, device=CPU)
        theirs = kv.most_similar(word, topn=10)
        assert [n.word for n in ours] == [w for w, _ in theirs]
        np.testing.assert_allclose([n.similarity for n in ours], [s for _, s in theirs], atol=1e-5)


def test_glove_king_minus_man_plus_woman_is_queen(glove):
    result = emb.analogy(glove, "man", "king", "woman", 5, device=CPU)
    assert result[0].word == "queen"
    assert {"king", "man", "woman"}.isdisjoint(n.word for n in result)


def test_unknown_word_suggests_close_matches(glove):
    with pytest.raises(emb.UnknownWordError) as info:
        emb.neighbours(glove, "Frog", 5, device=CPU)
    assert info.value.suggestions[0] == "frog"
    assert "did you mean frog" in str(info.value)


def test_similarity_matrix_reports_missing_words():
    wv = WordVectors("t", WORDS, VECS)
    found, missing, matrix = emb.similarity_matrix(wv, ["alpha", "zzz", "gamma", "alpha"], device=CPU)
    assert found == ["alpha", "gamma"] and missing == ["zzz"]
    np.testing.assert_allclose(matrix, [[1, 0], [0, 1]], atol=1e-6)


# ---- evaluation ---------------------------------------------------------------------------------------

@pytest.mark.slow
def test_batched_analogy_evaluation_matches_gensim(glove, tmp_path):
    # Two sections of the Google set (capitals, family) over the 30k most frequent GloVe words: the same
    # accuracy as gensim's evaluate_word_analogies, and the same number of questions answered.
    keep, lines = False, []
    for line in emb.gensim_test_file("questions-words.txt").read_text().splitlines():
        if line.startswith(": "):
            keep = line in (": capital-common-countries", ": family")
        if keep:
            lines.append(line)
    path = tmp_path / "q.txt"
    path.write_text("\n".join(lines) + "\n")
    sub = WordVectors("glove 30k", glove.words[:30_000], np.asarray(glove.vectors[:30_000]))
    ours = emb.evaluate_analogies(sub, path, device=CPU, batch=100)
    score, sections = sub.to_keyed_vectors().evaluate_word_analogies(str(path))
    total = sections[-1]
    assert ours.correct == len(total["correct"])
    assert ours.answered == len(total["correct"]) + len(total["incorrect"])
    assert ours.accuracy == pytest.approx(score)
    assert ours.total == len(lines) - 2  # every question line, answered or not
    assert set(ours.sections) == {"capital-common-countries", "family"}
    assert 0 < ours.coverage < 1


def test_word_pair_evaluation_reports_coverage():
    wv = WordVectors("t", WORDS + ["tiger", "cat"], np.vstack([VECS, [[0.5, 0.5, 0], [0.4, 0.6, 0]]]).astype(np.float32))
    result = emb.evaluate_pairs(wv, "wordsim353")
    assert result.total == 353
    assert result.pairs == 2  # tiger-cat and tiger-tiger are the only pairs in vocabulary
    assert result.coverage == pytest.approx(2 / 353)


# ---- exports ------------------------------------------------------------------------------------------

def test_pointcloud_is_headerless_gzipped_word_xyz():
    coords = np.array([[1.5, -2, 0.25], [0, 1, 2]], dtype=np.float32)
    lines = gzip.decompress(emb.pointcloud_gz(["a b", "c\td"], coords)).decode().splitlines()
    assert lines == ["a b\t1.50000\t-2.00000\t0.25000", "c d\t0.00000\t1.00000\t2.00000"]


def test_coords_csv_has_a_header_and_one_row_per_word():
    text = emb.coords_csv(["x,y", "z"], np.array([[1, 2], [3, 4]], dtype=np.float32))
    assert text.splitlines() == ["word,x,y", '"x,y",1,2', "z,3,4"]


def test_projector_export_roundtrips_through_the_loader():
    vec_tsv, meta_tsv = emb.projector_tsvs(WORDS, VECS)
    assert meta_tsv.splitlines() == WORDS
    wv = load_vectors_file(vec_tsv.encode(), metadata=meta_tsv.encode())
    assert wv.words == WORDS
    assert math.isclose(float(wv.vectors[3, 2]), 0.6, abs_tol=1e-6)


def test_word_pairs_with_too_few_pairs_give_no_correlation():
    wv = WordVectors("t", ["tiger", "zzz"], np.array([[1, 0], [0, 1]], dtype=np.float32))
    result = emb.evaluate_pairs(wv, "wordsim353")
    assert result.pairs == 1 and math.isnan(result.spearman)
    assert emb._finite_or_none(result.spearman) is None


def test_a_word_listed_twice_is_not_its_own_neighbour_and_a_zero_vector_is_refused():
    """Inputs (probe beyond issue #13's list): a file listing 'king' twice (its copy came first among its
    neighbours at cosine 0.994), and a word whose vector is all zeros (every cosine printed 0.0)."""
    from engine.embeddings import explore as emb
    from engine.embeddings.vectors import load_vectors_file
    twice = load_vectors_file(b"king 0.1 0.2 0.3\nking 0.1 0.25 0.3\nman 0.3 0.1 0.0\nfrog 0 1 0\n", name="v.txt")
    assert twice.rows_of("king") == [0, 1] and twice.rows_of("man") == [2]
    assert [n.word for n in emb.neighbours(twice, "king", 5, device=torch.device("cpu"))] == ["frog", "man"]
    assert [n.word for n in emb.analogy(twice, "man", "king", "frog", 5, device=torch.device("cpu"))] == []
    zero = load_vectors_file(b"king 0 0 0\nqueen 0.1 0.25 0.3\nman 0.3 0.1 0.0\n", name="z.txt")
    with pytest.raises(emb.ZeroVectorError, match="^'king' has an all-zero vector: it points nowhere"):
        emb.neighbours(zero, "king", 2, device=torch.device("cpu"))
    with pytest.raises(emb.ZeroVectorError):
        emb.analogy(zero, "queen", "king", "man", 2, device=torch.device("cpu"))
    assert [n.word for n in emb.neighbours(zero, "man", 2, device=torch.device("cpu"))] == ["queen", "king"]
