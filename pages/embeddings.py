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
from pages._ui.embeddings_state import forget
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
    forget("query")  # the search box is not drawn in this run (see embeddings_state.kept, typed)
    st.stop()

# ---- projection settings and the map's coordinates (None: no map yet, the reason shown) -------------
points = projection.project_points(source)

# ---- search, colours, the map; linked 2D view for box / lasso selection ---------------------------
# A fragment: a search, a click on the map or a colour reruns only this part, not the settings above
# nor the tabs below; while t-SNE optimises, this part alone redraws its newest layout every
# few seconds, so the page answers a click meanwhile.
live = points is not None and projection.live_run() is not None


@st.fragment(run_every=projection.animate_every(len(points.words)) if live else None)
def map_part() -> None:
    with st.container():
        shown = projection.newest_layout(points) if points is not None else None
        colouring = cloud.map_view(source, shown, device)
        if shown is not None:
            cloud.selection_view(source, shown, colouring)


map_part()
if source.images is not None:
    st.stop()  # analogies, heatmaps and word benchmarks are for words

# ---- analogies, heatmap, evaluation, exports --------------------------------------------------------
word_views.word_tabs(source, points, device)
