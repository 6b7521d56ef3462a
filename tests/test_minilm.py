"""The pretrained MiniLM, offline: attention of 6 layers x 12 heads, embeddings, integrated gradients."""
import numpy as np
import pytest
import torch

from engine.attention.minilm import load_minilm, minilm_attention, pair_similarity, sentence_embedding, similarity_attributions
from engine.core.params import ParamError


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_minilm_returns_six_attention_tensors_offline(monkeypatch):
    tokenizer, model = load_minilm()
    import os
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    enc = tokenizer("The cat sat on the mat.", return_tensors="pt")
    with torch.no_grad():
        out = model(**enc, output_attentions=True)
    t = enc["input_ids"].shape[1]
    assert len(out.attentions) == 6
    assert all(a.shape == (1, 12, t, t) for a in out.attentions)


def test_attention_maps_and_truncation():
    result = minilm_attention("The cat sat on the mat.", "A dog.")
    assert result.tokens[:3] == ["[CLS]", "the", "cat"] and result.tokens.count("[SEP]") == 2
    t = len(result.tokens)
    assert result.attentions.shape == (6, 12, t, t)
    np.testing.assert_allclose(result.attentions.sum(-1), 1.0, rtol=1e-4)
    long = minilm_attention("word " * 300)
    assert long.attentions.shape == (6, 12, 128, 128)
    assert long.notices == ["the input has 302 tokens; only the first 128 are shown (MiniLM views are capped at "
                            "128 tokens)"]
    with pytest.raises(ParamError, match="empty"):
        minilm_attention("   ")


def test_similarity_and_integrated_gradients():
    a, b = "A man is playing a guitar.", "Someone plays an instrument."
    emb = sentence_embedding(a)
    assert emb.shape == (384,) and np.linalg.norm(emb) == pytest.approx(1.0, abs=1e-5)
    sim = pair_similarity(a, b)
    assert pair_similarity(b, a) == pytest.approx(sim, abs=1e-6)
    assert sim > pair_similarity(a, "The stock market fell sharply today.")
    attr = similarity_attributions(a, b, steps=8)
    assert attr.similarity == pytest.approx(sim, abs=1e-5)
    assert attr.tokens_a[0] == "[CLS]" and len(attr.scores_a) == len(attr.tokens_a)
    assert len(attr.scores_b) == len(attr.tokens_b)
    assert np.isfinite(attr.scores_a).all() and attr.scores_a[0] == 0.0  # [CLS] is its own baseline
    assert attr.scores_a[1:-1].sum() > 0  # the words, together, pull the sentences together
