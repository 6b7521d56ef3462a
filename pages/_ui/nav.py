"""The app's pages, declared once: app.py builds the sidebar from them, Home links to them.

Pages are created from absolute paths with explicit url paths, so a page script run on its own
(as AppTest does) can still make `st.page_link`s that match what app.py registered.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PageInfo:
    file: str
    title: str
    icon: str
    url_path: str
    section: str
    summary: str  # one line for the Home page card


PAGES: tuple[PageInfo, ...] = (
    PageInfo("home.py", "Home", ":material/home:", "home", "",
             "What each page does, the device in use, models, datasets and recent runs."),
    PageInfo("train.py", "Training", ":material/model_training:", "training", "Train",
             "Train any registered model from sliders and watch the loss and accuracy curves draw live."),
    PageInfo("embeddings.py", "Embeddings", ":material/scatter_plot:", "embeddings", "Inspect",
             "Explore word vectors in 3D with UMAP, t-SNE or PCA: neighbours, analogies, search."),
    PageInfo("saliency.py", "Saliency", ":material/visibility:", "saliency", "Inspect",
             "See where a CNN looks: Grad-CAM, guided backprop, guided Grad-CAM, integrated gradients, "
             "occlusion; feature maps; sanity checks of each map."),
    PageInfo("attention.py", "Attention", ":material/grid_on:", "attention", "Inspect",
             "Read attention heatmaps of transformers, seq2seq models and a pretrained MiniLM."),
    PageInfo("latent.py", "Latent space", ":material/blur_on:", "latent-space", "Inspect",
             "Train a VAE or GAN and walk its latent space: live decoded grids, the encoded test set, "
             "interpolations, a slider per dimension; step a GAN's D and G by hand."),
)


def page(info: PageInfo) -> st.Page:
    return st.Page(PAGES_DIR / info.file, title=info.title, icon=info.icon,
                   url_path=info.url_path, default=info.file == "home.py")


def sections() -> dict[str, list[st.Page]]:
    """{section header: [pages]} in display order, for st.navigation."""
    grouped: dict[str, list[st.Page]] = {}
    for info in PAGES:
        grouped.setdefault(info.section, []).append(page(info))
    return grouped
