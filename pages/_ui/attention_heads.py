"""One head's attention map with its layer and head pickers (and, on request, every head's): the
trained models' maps and MiniLM's are drawn the same way."""
from __future__ import annotations

import numpy as np
import streamlit as st

from engine.attention.heads import head_map
from pages._ui import attention_charts as charts
from pages._ui import live as live_ui


def layer_head_picker(stack: np.ndarray, key: str) -> tuple[int, int | None]:
    """Layer and head of a (layers, heads, q, k) stack; head None = the mean of the heads."""
    layers, heads = stack.shape[:2]
    left, right = st.columns(2)
    layer = left.selectbox("Layer", range(layers), key=f"{key}_layer", format_func=lambda i: f"layer {i}") \
        if layers > 1 else 0
    options = ["mean"] + list(range(heads)) if heads > 1 else [0]
    head = right.selectbox("Head", options, key=f"{key}_head",
                           format_func=lambda h: "mean of the heads" if h == "mean" else f"head {h}") \
        if heads > 1 else 0
    return layer, None if head == "mean" else head


def show_stack(stack: np.ndarray, keys: list[str], queries: list[str], title: str, key: str,
               x_title: str = "attends to (key)", y_title: str = "query",
               live: live_ui.LiveRun | None = None, version=None) -> None:
    """One head's map (and, on request, every head's). With a live view and the version of the
    data, a refresh that finds the same data reuses the figures instead of rebuilding them."""
    layer, head = layer_head_picker(stack, key)
    matrix = head_map(stack, layer, head)
    name = f"{title}, layer {layer}, " + ("mean of the heads" if head is None else f"head {head}")

    def figure(part: str, build):
        return build() if live is None else live.figure(f"{key}_{part}", (version, layer, head), build)

    st.plotly_chart(figure("map", lambda: charts.heatmap(matrix, keys, queries, name, x_title, y_title)),
                    key=f"{key}_map")
    if stack.shape[0] * stack.shape[1] > 1 and st.toggle("All layers and heads (model view)", key=f"{key}_grid"):
        st.plotly_chart(figure("all", lambda: charts.head_grid(stack, keys, queries, f"{title}: every layer and head")),
                        key=f"{key}_all")
