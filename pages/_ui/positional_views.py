"""The Attention page's positional-encodings view: the sinusoidal encoding of each position, and
the dot products between positions that let attention find relative positions."""
from __future__ import annotations

import streamlit as st

from engine.attention.maps import position_similarity
from engine.models.attention_layers import sinusoidal_positions
from pages._ui import attention_charts as charts


def positions_view() -> None:
    left, right = st.columns(2)
    length = left.slider("Positions", 4, 256, 64, key="pe_len")
    d_model = right.select_slider("d_model", [8, 16, 32, 64, 128, 256, 512], value=64, key="pe_d")
    st.markdown("Each position gets a vector of sines and cosines whose wavelengths grow geometrically from 2π "
                "(left columns, fast stripes) to 10000·2π (right columns, nearly constant). The dot product of two "
                "positions depends only on how far apart they are: a bright diagonal band that fades with distance, "
                "which is what lets attention find relative positions.")
    pe = sinusoidal_positions(length, d_model).numpy()
    idx = [str(i) for i in range(length)]
    dims = [str(i) for i in range(d_model)]
    col1, col2 = st.columns(2)
    col1.plotly_chart(charts.heatmap(pe, dims, idx, "Sinusoidal encoding", "dimension", "position", zmax=None,
                                     colorscale="RdBu", height=520, token_ticks=False), key="pe_matrix")
    col2.plotly_chart(charts.heatmap(position_similarity(length, d_model), idx, idx, "Dot product between positions",
                                     "position", "position", zmax=None, height=520, token_ticks=False),
                      key="pe_similarity")
