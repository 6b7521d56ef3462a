"""Embeddings: word vectors (GloVe, trained here, uploaded) or image-classifier activations in 3D,
with search, neighbours in the original space, analogies, similarity heatmaps, evaluation, exports.

The views are in pages/_ui: embeddings_sources (which vectors), embeddings_projection (the map's
settings and coordinates), embeddings_map (search, colours, the cloud, box / lasso selection),
embeddings_words (analogies, heatmap, evaluation, exports), embeddings_train (train vectors here).
"""
from __future__ import annotations

import streamlit as st

from engine.core.device import default_device
from pages._ui import embeddings_map as cloud
from pages._ui import embeddings_projection as projection
from pages._ui import embeddings_sources as sources
from pages._ui import embeddings_words as word_views
from pages._ui.store_views import open_store

try:
    device = default_device()
except ValueError:
    import torch
    device = torch.device("cpu")

st.title("Embeddings")
st.caption("Word vectors in 3D: pretrained GloVe, vectors you train here, or your own file; or what an image "
           "classifier sees. Neighbours and analogies use cosine similarity in the original space, not the map.")
store = open_store()

# Each part of the page sits in one container, so a part that shows more or fewer elements from one
# run to the next does not move the parts below it: a map that moved left a faded copy behind, and
# tabs that moved were reset to the first one.

# ---- source -----------------------------------------------------------------------------------------
with st.container():
    source = sources.pick_source(store)
if source is None:
    st.stop()

# ---- projection settings and the map's coordinates (None: no map yet, the reason shown) -------------
points = projection.project_points(source)

# ---- search, colours, the map; linked 2D view for box / lasso selection ---------------------------
with st.container():
    colouring = cloud.map_view(source, points, device)
    if points is not None:
        cloud.selection_view(source, points, colouring)
if source.images is not None:
    st.stop()  # analogies, heatmaps and word benchmarks are for words

# ---- analogies, heatmap, evaluation, exports --------------------------------------------------------
word_views.word_tabs(source, points, device)
