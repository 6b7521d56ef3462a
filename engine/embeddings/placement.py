"""Words that are not on a map, placed on it by their nearest projected words.

A map projects the N most frequent words; a rarer word that is searched ("frog" is GloVe's word
#12,261, outside the default 10k map) has no coordinates of its own. It is placed at the mean of the
coordinates of its k nearest projected words (cosine in the original space), weighted by their
similarity: the starting place umap-learn's `transform` gives a new point, here without the
optimisation that follows (the shipped default map keeps no fitted UMAP to transform with, and t-SNE
and PCA maps come from other libraries), hence these few lines. A mean with non-negative weights
stays inside the map's extent, so the map's framing does not change.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.embeddings.explore import unit_matrix
from engine.embeddings.vectors import WordVectors


@dataclass
class Placement:
    coords: np.ndarray   # (m, dims): where each placed word goes
    anchors: np.ndarray  # (m, k): the rows of the projected words it was placed by, nearest first
    weights: np.ndarray  # (m, k): their weights (cosine, clipped at 0, summing to 1)


def place(wv: WordVectors, rows: list[int], coords: np.ndarray, k: int = 10,
          device: torch.device | None = None) -> Placement:
    """Place the words at `rows` on a map whose coordinates `coords` are those of the first
    len(coords) words of `wv` (the projected ones), by their k nearest projected words."""
    n_mapped = len(coords)
    if n_mapped == 0:
        raise ValueError("a map with no points has nowhere to place a word")
    unit = unit_matrix(wv, device)
    wanted = torch.as_tensor(np.asarray(rows, dtype=np.int64), device=unit.device)
    sims = unit[wanted] @ unit[:n_mapped].T                        # (m, n_mapped)
    own = wanted.unsqueeze(1) == torch.arange(n_mapped, device=unit.device).unsqueeze(0)
    sims = sims.masked_fill(own, -2.0)                             # a projected word is not its own anchor
    top = sims.topk(min(k, n_mapped), dim=1)
    weights = top.values.clamp_min(0.0)
    weights = torch.where(weights.sum(1, keepdim=True) > 0, weights, torch.ones_like(weights))  # none alike: plain mean
    weights = (weights / weights.sum(1, keepdim=True)).cpu().numpy().astype(np.float64)
    anchors = top.indices.cpu().numpy()
    placed = np.einsum("mk,mkd->md", weights, np.asarray(coords, dtype=np.float64)[anchors])
    return Placement(placed.astype(np.float32), anchors, weights)
