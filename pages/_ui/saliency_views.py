"""The saliency page's views: paper rows, all methods, batch, feature maps, trust checks.

Every engine call holds the model's lock (see saliency_state.py). Pictures are drawn by
engine/saliency/render.py, so the page and the CLI show the same thing.
"""
from __future__ import annotations

import hashlib

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch
from plotly.subplots import make_subplots

from engine.saliency import render
from engine.saliency.maps import (DISPLAY, attribute, deletion_curve, feature_maps, first_layer_kernels, normalise,
                                  probabilities, randomisation_check, silent_channels, trust_verdict)
from engine.saliency.methods import TITLES
from pages._ui.training_charts import PALETTE

BATCH = 16
PANEL = 6  # screen pixels per input pixel for 28x28 inputs (168 px panels)
PANEL_TITLES = ("input", "heatmap", "heatmap over the input", "greyscale")


def _scale(x) -> int:
    return max(1, round(PANEL * 28 / max(x.shape[-2:])))


def enlarge(image: np.ndarray) -> np.ndarray:
    return render.upscale(render.to_rgb(image), _scale(image))


def probabilities_of(model, x) -> np.ndarray:
    return probabilities(model, x)[0].numpy()


def probability_figure(probs: np.ndarray, classes: list[str], predicted: int, true_label: int | None,
                       explained: int | None = None) -> go.Figure:
    """The class probabilities as bars (the predicted class red) over clickable columns; the column of the
    class explained is shaded."""
    colours = ["#ff4b4b" if i == predicted else "#1f77b4" for i in range(len(classes))]
    columns = ["#c9d3e3" if i == explained else "#f0f2f6" for i in range(len(classes))]
    fig = go.Figure()
    # Full-height pale columns behind the bars: a class with p = 0.0001 has no bar to click, but its
    # column can be clicked all the same.
    fig.add_bar(x=classes, y=[1.0] * len(classes), marker_color=columns, name="click to explain",
                hovertemplate="explain class %{x}<extra></extra>", showlegend=False)
    fig.add_bar(x=classes, y=probs, marker_color=colours, name="probability", showlegend=False,
                hovertemplate="class %{x}<br>p = %{y:.4f}<extra></extra>")
    title = f"Class probabilities: predicted {classes[predicted]} ({probs[predicted]:.3f})"
    if true_label is not None:
        title += f", true {classes[true_label]}"
    if explained is not None:
        title += f" · explaining {classes[explained]}"
    fig.update_layout(title=title, height=230, margin=dict(l=10, r=10, t=40, b=10), yaxis=dict(range=[0, 1]),
                      xaxis=dict(type="category"), clickmode="event+select", barmode="overlay")
    return fig


def _maps(model, lock, x, target, method, options) -> np.ndarray:
    with lock:
        return attribute(model, x, target, method, **options).numpy()


def _shown(maps: np.ndarray, method: str) -> np.ndarray:
    return normalise(maps, DISPLAY[method])


def paper_rows(model, lock, x, target, methods, options, look) -> None:
    """One row per method, as in the Grad-CAM paper: input, heatmap, overlay, greyscale."""
    if not methods:
        st.info("Choose at least one method.")
        return
    st.caption(" · ".join(PANEL_TITLES) + ". Red/bright = more important; IG and occlusion are signed "
               "(red for the class, blue against it).")
    image = x[0].numpy()
    for method in methods:
        try:
            shown = _shown(_maps(model, lock, x, target, method, options), method)[0]
        except ValueError as err:
            st.error(f"{TITLES[method]}: {err}", icon=":material/error:")
            continue
        st.markdown(f"**{TITLES[method]}**")
        st.image(render.paper_row(image, shown, DISPLAY[method] == "signed", look["colormap"], look["opacity"],
                                  scale=_scale(image)))


def all_methods(model, lock, x, target, options, look) -> None:
    image = x[0].numpy()
    columns = st.columns(len(TITLES))
    for column, method in zip(columns, TITLES):
        try:
            shown = _shown(_maps(model, lock, x, target, method, options), method)[0]
        except ValueError as err:
            column.error(str(err))
            continue
        _, _, over, _ = render.paper_panels(image, shown, DISPLAY[method] == "signed", look["colormap"], look["opacity"])
        column.image(render.upscale(over, _scale(image)), caption=TITLES[method], width="stretch")


def batch(model, lock, data, positions, predictions, classes, method, options, look) -> None:
    """One method over a page of test images (explaining each image's predicted class)."""
    if len(positions) == 0:
        st.info("No test images on this page.")
        return
    xs = data.x_val[torch.as_tensor(positions)]
    targets = torch.as_tensor(predictions[positions])
    shown = _shown(_maps(model, lock, xs, targets, method, options), method)
    columns = st.columns(8)
    for i, (pos, m) in enumerate(zip(positions, shown)):
        image = xs[i].numpy()
        _, _, over, _ = render.paper_panels(image, m, DISPLAY[method] == "signed", look["colormap"], look["opacity"])
        true, pred = classes[int(data.y_val[pos])], classes[int(predictions[pos])]
        mark = "" if true == pred else " ✗"
        columns[i % 8].image(render.upscale(over, max(1, _scale(image) // 2)),
                             caption=f"#{pos}: {pred} (true {true}){mark}", width="stretch")


def feature_maps_view(model, lock, x) -> None:
    with lock:
        maps = feature_maps(model, x)
        kernels = first_layer_kernels(model)
    st.caption("What each conv layer responds to in this input (after its ReLU), one tile per channel, each "
               "scaled to its own range: bright = strong activation.")
    for name, fmap in maps.items():
        channels, h, w = fmap.shape
        dead = silent_channels(fmap)
        st.markdown(f"**{name}**: {channels} channels of {h}x{w}" + (f" · {dead} silent on this input" if dead else ""))
        st.image(render.grid(fmap.numpy(), columns=16, scale=max(1, 84 // max(h, w))))
    k = kernels.shape
    st.markdown(f"**First-layer kernels**: {k[0]} filters of {k[2]}x{k[3]}"
                + (f" (channel mean of {k[1]})" if k[1] > 1 else ""))
    st.image(render.grid(kernels.mean(1).numpy(), columns=8, scale=12, gap=6, colormap="RdBu_r"))


def _key(x, *parts) -> str:
    digest = hashlib.sha1(np.ascontiguousarray(x.numpy()).tobytes()).hexdigest()
    return f"{digest}:{parts}"


def trust(model, lock, x, target, methods, options, look) -> None:
    """The model-randomisation sanity check and the deletion curve, per method."""
    if not methods:
        st.info("Choose at least one method.")
        return
    cache = st.session_state.setdefault("_trust_cache", {})
    with st.spinner("Randomising layers and deleting pixels..."):
        results = {method: _checked(cache, model, lock, x, target, method, options) for method in methods}
    for stale in list(cache)[:-64]:  # the 64 newest stay
        cache.pop(stale)
    _randomisation(results, x, look)
    _deletion(results)


def _checked(cache: dict, model, lock, x, target, method, options) -> tuple:
    """(randomisation steps, deletion curve) of one method, computed once per input and settings."""
    key = _key(x, id(model), target, method, sorted(options.items()))
    if key not in cache:
        with lock:
            steps = randomisation_check(model, x, target, method, **options)
            curve = deletion_curve(model, x, target, steps[0].maps, steps=20)
        cache[key] = (steps, curve)
    return cache[key]


RANDOMISATION_CAPTION = (
    "The layers are re-initialised from the output down, one more at each step (left to right), and each new "
    "map is compared with the trained model's map in two ways, as in Adebayo et al.'s *Sanity Checks for "
    "Saliency Maps*: the Spearman rank correlation of |map| (do the same pixels matter most?) and SSIM, the "
    "structural similarity of the maps as drawn here (do they look alike, signs included?). A map that stays "
    "the same when the weights are random is not explaining the model.")

IG_CAPTION = (
    "Why integrated gradients keeps a rank correlation near 1.00 while its pictures change: IG is "
    "(input − baseline) × the gradient averaged along the path from the baseline, so with the black baseline "
    "it is input × gradient-like (with the blurred one, the input's edges × gradient). Its |map| is zero "
    "wherever the input is black and follows the ink whatever the weights, so the rank correlation of |map| "
    "measures the input's shape, not the model: the edge-detector effect Adebayo et al. point out. The model's "
    "part does change: SSIM of the maps as drawn falls, and the rank correlation of the gradient part alone "
    "(the path-averaged gradient on the pixels the map can colour, dashed) drops towards 0.")


def _layer_labels(steps) -> list[str]:
    return [s.layer if i == 0 else f"+ {s.layer}" for i, s in enumerate(steps)]


def randomisation_figure(results: dict) -> go.Figure:
    """Rank correlation (left) and SSIM (right) of each method's map with the trained one, per step;
    integrated gradients' gradient part dashed on the left."""
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("rank correlation of |map|", "SSIM of the maps as drawn"))
    for i, (method, (steps, _)) in enumerate(results.items()):
        colour, layers = PALETTE[i % len(PALETTE)], _layer_labels(steps)
        line = dict(x=layers, mode="lines+markers", line=dict(color=colour), legendgroup=method)
        fig.add_scatter(y=[s.correlation for s in steps], name=TITLES[method], **line, row=1, col=1)
        fig.add_scatter(y=[s.ssim for s in steps], name=TITLES[method], showlegend=False, **line, row=1, col=2)
        if steps[0].gradient_correlation is not None:
            fig.add_scatter(x=layers, y=[s.gradient_correlation for s in steps], mode="lines+markers",
                            name=f"{TITLES[method]}: gradient part", line=dict(color=colour, dash="dash"),
                            legendgroup=method, row=1, col=1)
    fig.update_yaxes(range=[-1, 1.05])
    # The x axes are the layers re-initialised so far, from the output down (said in the caption above):
    # no axis titles, so the legend below the tilted layer names has room.
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.45))
    return fig


def randomisation_rows(results: dict) -> list[dict]:
    """One row per method: each measure once every layer is re-initialised, and the verdict. The
    gradient part is a column only when integrated gradients is checked ("—" for the methods whose
    map has no input factor to take out)."""
    with_gradient = any(steps[0].gradient_correlation is not None for steps, _ in results.values())
    rows = []
    for method, (steps, _) in results.items():
        final = steps[-1]
        row = {"method": TITLES[method], "rank correlation of |map|": f"{final.correlation:.2f}",
               "SSIM": f"{final.ssim:.2f}"}
        if with_gradient:
            row["gradient part (rank correlation)"] = (
                "—" if final.gradient_correlation is None else f"{final.gradient_correlation:.2f}")
        rows.append(row | {"verdict": "passes" if trust_verdict(steps).passes else "fails"})
    return rows


def _randomisation(results: dict, x, look) -> None:
    st.markdown("#### Model randomisation (sanity check)")
    st.caption(RANDOMISATION_CAPTION)
    st.plotly_chart(randomisation_figure(results), key="randomisation")
    st.dataframe(randomisation_rows(results), hide_index=True)
    if "integrated-gradients" in results:
        st.caption(IG_CAPTION)
    image = x[0].numpy()
    for method, (steps, _) in results.items():
        shown = _shown(torch.stack([s.maps for s in steps]), method)
        panels = [render.upscale(render.colourise(m, look["colormap"], DISPLAY[method] == "signed"), 3) for m in shown]
        verdict = trust_verdict(steps)
        final = steps[-1]
        others = f"SSIM {final.ssim:.2f}" + ("" if final.gradient_correlation is None
                                             else f", gradient part {final.gradient_correlation:.2f}")
        st.markdown(f"**{TITLES[method]}**: correlation after randomising every layer {verdict.correlation:.2f}, "
                    f"{verdict.reason} ({others})")
        st.image(render.hstack([render.upscale(render.to_rgb(image), 3)] + panels),
                 caption="input, trained, then each further re-initialised layer; SSIM with the trained map: "
                         + ", ".join(f"{s.ssim:.2f}" for s in steps[1:]))


def _deletion(results: dict) -> None:
    st.markdown("#### Deletion curve (faithfulness)")
    st.caption("Pixels are set to black, most salient first, in 20 steps; the probability of the explained class "
               "should fall faster than when the same number of random pixels go. Lower area = more faithful.")
    deletion_chart(results, "input", key="deletion", hint=" Explain the predicted class to score the maps.")


def deletion_chart(results: dict, what: str, key: str, hint: str = "") -> None:
    """Each method's deletion curve beside random pixels' (results: method -> (_, DeletionCurve)), and their areas."""
    first = next(iter(results.values()))[1]
    if not first.informative:
        st.info(f"The explained class has probability {first.salient[0]:.3f} on this {what}: there is little to delete, "
                f"so these curves say little.{hint}", icon=":material/info:")
    fig = go.Figure()
    rows = []
    for i, (method, (_, curve)) in enumerate(results.items()):
        fig.add_scatter(x=curve.fractions, y=curve.salient, mode="lines", name=TITLES[method],
                        line=dict(color=PALETTE[i % len(PALETTE)]))
        rows.append({"method": TITLES[method], "AUC (salient first)": round(curve.auc_salient, 4),
                     "AUC (random)": round(curve.auc_random, 4),
                     "ratio": round(curve.ratio, 3) if curve.ratio is not None else None})
    fig.add_scatter(x=first.fractions, y=first.random, mode="lines", name="random pixels",
                    line=dict(color="#888888", dash="dash"))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="fraction of pixels removed",
                      yaxis=dict(title="probability of the class", range=[0, 1.02]), legend=dict(orientation="h", y=-0.35))
    st.plotly_chart(fig, key=key)
    st.dataframe(rows, hide_index=True)

