"""Attention modules, the transformer and seq2seq models, their objective, and reading their maps."""
import math

import numpy as np
import pytest
import torch

from engine.models.attention_layers import MultiHeadAttention, sinusoidal_positions
from engine.attention.heads import attention_received, head_map
from engine.attention.maps import attention_for_run, position_similarity, run_attention, run_task
from engine.data.sequences import EOS, PAD, Vocab
from engine.models.seq2seq import Seq2SeqAttention
from engine.models.transformer import Transformer
from engine.objectives.sequences import exact_match
from engine.core.params import ParamError
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.loading import load_run
from engine.core.trainer import TrainingJob


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_attention_rows_sum_to_one_and_masked_keys_get_zero():
    torch.manual_seed(0)
    mha = MultiHeadAttention(16, 4)
    x = torch.randn(2, 5, 16)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, :]
    mha(x, x, x, mask)
    weights = mha.last_attn
    assert weights.shape == (2, 4, 5, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 5))
    assert (weights[1, :, :, 3:] == 0).all()  # exactly zero, not just small
    assert (weights[0] > 0).all()


def test_heads_must_divide_d_model():
    with pytest.raises(ParamError, match="3 heads do not divide d_model 64.*Use 1, 2, 4, 8, 16 heads"):
        validate("transformer", "reverse", {"heads": 3, "d_model": 64})
    with pytest.raises(ValueError):
        MultiHeadAttention(10, 3)


def test_decoder_self_attention_is_causal_and_cross_attention_skips_padding():
    torch.manual_seed(0)
    model = Transformer(8, d_model=16, heads=2, d_ff=32, layers=2).eval()
    src = torch.tensor([[3, 4, 5, PAD, PAD]])
    tgt = torch.tensor([[1, 3, 4, 5]])
    model(src, tgt)
    for layer in model.decoder:
        self_w, cross_w = layer.self_attn.last_attn[0], layer.cross_attn.last_attn[0]
        assert torch.equal(torch.triu(self_w, diagonal=1), torch.zeros_like(self_w))
        assert (cross_w[:, :, 3:] == 0).all()
        torch.testing.assert_close(cross_w.sum(-1), torch.ones(2, 4))
    for layer in model.encoder:
        assert (layer.self_attn.last_attn[0, :, :, 3:] == 0).all()


def test_sinusoidal_positions_known_values():
    pe = sinusoidal_positions(50, 8)
    assert torch.equal(pe[0], torch.tensor([0.0, 1.0] * 4))
    assert pe[1, 0] == pytest.approx(math.sin(1.0))
    assert pe[3, 2] == pytest.approx(math.sin(3 / 10000 ** (2 / 8)), rel=1e-5)
    assert pe[7, 7] == pytest.approx(math.cos(7 / 10000 ** (6 / 8)), rel=1e-5)
    sim = position_similarity(50, 8)
    np.testing.assert_allclose(np.diag(sim), 4.0, rtol=1e-5)  # sin^2 + cos^2 per pair of dimensions
    np.testing.assert_allclose(sim, sim.T, rtol=1e-5)
    assert sim[10, 11] > sim[10, 20]  # near positions are more alike than far ones


def test_head_map_and_attention_received_of_a_hand_made_stack():
    # 2 layers x 2 heads, 2 queries x 3 keys; every row sums to 1.
    stack = np.array([[[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]],     # layer 0, head 0: column sums 1.5, 0.5, 0
                       [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]],    # layer 0, head 1: column sums 0, 1, 1
                      [[[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]],     # layer 1, head 0: all on key 1
                       [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5]]]])
    assert head_map(stack, 0, 1).tolist() == [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    assert head_map(stack, 0).tolist() == [[0.5, 0.0, 0.5], [0.25, 0.75, 0.0]]  # the mean of the heads
    assert attention_received(stack, 0, 0).tolist() == [0.75, 0.25, 0.0]  # column sums / 2 queries
    assert attention_received(stack, 0, 1).tolist() == [0.0, 0.5, 0.5]
    assert attention_received(stack, 0).tolist() == [0.375, 0.375, 0.25]
    assert attention_received(stack, 1, 0).tolist() == [0.0, 1.0, 0.0]
    assert attention_received(stack, 1).tolist() == [0.125, 0.625, 0.25]


def test_exact_match_counts_whole_sequences():
    target = torch.tensor([[5, 6, EOS, PAD], [5, 6, EOS, PAD], [7, EOS, PAD, PAD]])
    predicted = torch.tensor([[5, 6, EOS, 9], [5, 7, EOS, PAD], [7, EOS, 3, 3]])
    assert exact_match(predicted, target).tolist() == [True, False, True]


def train(model, dataset, values, options, store):
    job = TrainingJob(validate(model, dataset, values, options), store, device="cpu")
    assert job.run() == "completed", job.progress.message
    return job


@pytest.mark.slow
def test_two_layer_transformer_learns_reverse_of_length_8(tmp_path):
    """The issue's bar: >= 99 % exact match on reverse (length 8) within a CPU budget (~20 s here)."""
    store = RunStore(tmp_path)
    job = train("transformer", "reverse", {"layers": 2, "d_model": 64, "heads": 4, "d_ff": 128, "epochs": 6,
                                           "lr": 3e-3, "batch_size": 128}, {"length": 8, "n_samples": 10_000}, store)
    assert job.progress.final["val_exact_match"] >= 0.99
    # And its cross-attention for a reversed input is the anti-diagonal.
    result = attention_for_run(store, job.run_id, "abcdefgh")
    assert result.text == "hgfedcba"
    cross = result.maps["cross"][-1].mean(0)[:8]  # last layer, mean of heads, the 8 letters
    assert (cross.argmax(1) == np.arange(7, -1, -1)).sum() >= 6


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A trained transformer (about 10 s on a busy machine): the tests that use it are marked slow."""
    store = RunStore(tmp_path_factory.mktemp("runs"))
    job = train("transformer", "reverse", {"layers": 1, "d_model": 16, "heads": 2, "d_ff": 32, "epochs": 2},
                {"n_samples": 300, "length": 6, "vocab": 5}, store)
    return store, job.run_id


@pytest.mark.slow
def test_run_attention_shapes_and_tokens(small_run):
    store, run_id = small_run
    result = attention_for_run(store, run_id, "abcde")
    assert result.source == list("abcde")
    n_out = len(result.output)
    assert result.maps["encoder_self"].shape == (1, 2, 5, 5)
    assert result.maps["cross"].shape == (1, 2, n_out, 5)
    assert result.maps["decoder_self"].shape == (1, 2, n_out, n_out)
    assert set(result.flat()) == {f"{k}.layer0.head{h}" for k in ("encoder_self", "decoder_self", "cross")
                                  for h in (0, 1)}
    for stack in result.maps.values():
        np.testing.assert_allclose(stack.sum(-1), 1.0, rtol=1e-5)


@pytest.mark.slow
def test_bad_inputs_are_messages(small_run):
    store, run_id = small_run
    with pytest.raises(ParamError, match="empty"):
        attention_for_run(store, run_id, "")
    with pytest.raises(ParamError, match=r"'x', '1' are not in this task's vocabulary \('abcde'\)"):
        attention_for_run(store, run_id, "abx1")
    long = attention_for_run(store, run_id, "abcdeabcde")
    assert long.source == list("abcdea")
    assert long.notices == ["the input has 10 characters; this model was trained on at most 6: only the first 6 "
                            "were used"]
    with pytest.raises(KeyError):
        run_task(store, 999)


@pytest.mark.slow
def test_run_task_probe_and_random_inputs(small_run):
    store, run_id = small_run
    task = run_task(store, run_id)
    assert task.probe == "abcdea" and task.target("abc") == "cba"
    assert len(task.random_input(1)) == 6 and set(task.random_input(1)) <= set("abcde")
    assert "anti-diagonal" in task.expectation


@pytest.mark.parametrize("score", ["general", "dot", "additive"])
def test_seq2seq_attention_is_an_alignment_matrix(score):
    torch.manual_seed(0)
    model = Seq2SeqAttention(9, hidden=16, embed=8, score=score).eval()
    src = torch.tensor([[3, 4, 5, 6, PAD]])
    logits = model(src, torch.tensor([[1, 6, 5, 4]]))
    assert logits.shape == (1, 4, 9)
    weights = model.last_attn[0]
    assert weights.shape == (4, 5) and (weights[:, 4] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(4))
    vocab = Vocab("abcdef")
    result = run_attention(model, vocab, "abcd", max_len=5, out_len=5)
    assert result.maps["cross"].shape[:2] == (1, 1) and result.maps["cross"].shape[3] == 4


def test_seq2seq_trains_through_the_trainer(tmp_path):
    store = RunStore(tmp_path)
    job = train("seq2seq", "copy", {"hidden": 32, "embed": 8, "epochs": 2, "score": "additive"},
                {"n_samples": 400, "length": 5, "vocab": 4}, store)
    assert {"val_loss", "val_exact_match", "val_token_acc"} <= set(job.progress.final)
    model = load_run(store, job.run_id).model
    assert model.score_kind == "additive"
