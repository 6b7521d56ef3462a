"""Figures and small views for the Latent space page: image grids, the latent scatter, curves."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.latent.space import tile
from engine.saliency.render import upscale
from pages._ui import training_charts as charts

# One colour per digit (plotly's qualitative "Plotly" sequence, ten colours).
DIGIT_COLOURS = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880",
                 "#ff97ff", "#fecb52")

# Per-epoch curves of each family: (title, y-axis title, metric names). Three charts share the
# page's width: a title longer than about 25 characters is cut, so the units go on the y axis.
VAE_CURVES = (("Reconstruction", "BCE, nats per image", ("train_recon", "val_recon")),
              ("KL divergence", "nats per image", ("train_kl", "val_kl")),
              ("Total loss", "recon + beta x KL", ("train_loss", "val_loss")))
GAN_CURVES = (("D and G losses", None, ("train_d_loss", "train_g_loss", "val_d_loss", "val_g_loss")),
              ("D's accuracy", "accuracy", ("train_d_real_acc", "train_d_fake_acc")),
              # a WGAN's, instead of D's accuracy:
              ("Wasserstein estimate", "critic: C(real) - C(fake)", ("train_wasserstein", "val_wasserstein")),
              ("Sample quality", "MNIST classifier", ("val_class_entropy", "val_confidence", "val_inception_score",
                                                      "val_label_accuracy")))


def image_grid(images, ncols: int, caption: str | None = None, width: int | str = "content", pad: int = 1,
               target_px: int = 900):
    """Show (N, C, H, W) images in [0, 1] as one tiled picture (white gutters), enlarged with
    nearest neighbours towards `target_px` wide so small digits stay crisp."""
    picture = tile(images, ncols, pad=pad)
    factor = max(1, min(8, target_px // picture.shape[1]))
    st.image(upscale(picture, factor), caption=caption, width=width, clamp=True)


def curves(metrics: pd.DataFrame, gan: bool) -> list[charts.Chart]:
    runs = [("run", metrics)]
    figures = []
    for title, y_title, names in (GAN_CURVES if gan else VAE_CURVES):
        if any((metrics.name == n).any() for n in names):
            figures.append(charts.epoch_figure(runs, names, title, "epoch", y_title=y_title))
    return figures


def scatter_figure(coords: np.ndarray, labels: np.ndarray, indices: np.ndarray, classes, note: str,
                   selected: int | None = None) -> go.Figure:
    """Test-set codes, one trace per class (click a legend entry to hide a digit); each point's
    customdata is its index in the validation set, so a selection names the image."""
    fig = go.Figure()
    for k, name in enumerate(classes):
        mask = labels == k
        if not mask.any():
            continue
        fig.add_scattergl(x=coords[mask, 0], y=coords[mask, 1], mode="markers", name=str(name),
                          customdata=indices[mask], marker=dict(size=4, color=DIGIT_COLOURS[k % 10], opacity=0.7),
                          hovertemplate=f"{name}<br>image %{{customdata}}<extra></extra>")
    if selected is not None:
        where = np.flatnonzero(indices == selected)
        if where.size:
            i = where[0]
            fig.add_scatter(x=[coords[i, 0]], y=[coords[i, 1]], mode="markers", name="selected",
                            marker=dict(size=14, color="rgba(0,0,0,0)", line=dict(color="black", width=2)),
                            hoverinfo="skip")
    fig.update_layout(height=520, margin=dict(l=10, r=10, t=40, b=10), title=f"Test-set codes (means): {note}",
                      legend=dict(title="digit", itemsizing="constant"), dragmode="lasso")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def step_figure(metrics: pd.DataFrame) -> go.Figure:
    """Hand-stepped GAN: D and G loss per step, and D's accuracies (a WGAN: its critic's Wasserstein
    estimate), from the run's stored metric rows (long format: step, name, value)."""
    fig = go.Figure()
    for name, dash in (("d_loss", "solid"), ("g_loss", "solid"), ("d_real_acc", "dot"), ("d_fake_acc", "dot"),
                       ("wasserstein", "dash")):
        rows = metrics[metrics.name == name].dropna(subset=["value"])
        if not rows.empty:
            fig.add_scatter(x=rows.step.to_numpy(), y=rows.value.to_numpy(), mode="lines+markers",
                            name=name.replace("_", " "), line=dict(dash=dash), marker=dict(size=4))
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), title="Per step", xaxis_title="step",
                      legend=dict(orientation="h", y=-0.25))
    return fig


def last_step_stats(metrics: pd.DataFrame) -> str:
    """One line of the last hand step's stats ("d loss 1.234 · d real acc 0.500 · ...")."""
    rows = metrics[metrics.name.isin(("d_loss", "g_loss", "d_real_acc", "d_fake_acc", "wasserstein"))]
    if rows.empty:
        return ""
    last = rows[rows.step == rows.step.iloc[-1]]
    return " · ".join(f"{name.replace('_', ' ')} {value:.3f}" for name, value in zip(last.name, last.value))
