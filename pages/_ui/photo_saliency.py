"""The Saliency page on photos: the pretrained ImageNet CNN (EfficientNet-Lite0).

A sample photo from the gallery or an upload; the top-5 classes; any of the 1000 classes as the
target (the box searches every synonym: type "tabby cat"); two classes side by side as in the
Grad-CAM paper (input, heatmap, overlay, guided Grad-CAM, at the photo's own resolution); every
method of the page; the trust checks. pages/saliency.py hands over here when this model is picked.

The model is shared by every session (engine.saliency.imagenet builds it once); captum hooks it for
the length of a call, so every call holds its lock. Maps are remembered per photo, class, method and
settings for the session, so changing a view does not compute them again.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from engine.core.device import default_device
from engine.data.image_input import MAX_IMAGE_BYTES, MAX_PIXELS
from engine.data.photos import PhotoInput, gallery, read_photo, shown_square, upsample_map
from engine.models.imagenet import class_names, class_synonyms
from engine.saliency import render
from engine.saliency.imagenet import DEFAULT_LAYER, layer_caption, load_photo_classifier, top_classes
from engine.saliency.maps import (DISPLAY, attribute, conv_layers, deletion_curve, probabilities, randomisation_check,
                                  trust_verdict)
from engine.saliency.methods import BASELINES, METHODS, TITLES
from engine.saliency.render import COLORMAPS
from pages._ui import saliency_views as views
from pages._ui.safe_markdown import escape_markdown

DEFAULT_PHOTO = "chelsea (a cat)"
SLOW = ("integrated-gradients", "occlusion")  # many forward passes: chunked, with a progress bar
CHUNK = 16  # images per forward pass for those two (halved by the engine on out-of-memory)


@dataclass
class Explaining:
    """What the views need: the shared model and its lock, the photo, its probabilities, the settings."""
    model: torch.nn.Module
    lock: threading.Lock
    photo: PhotoInput
    probs: np.ndarray
    options: dict
    look: dict


@st.cache_resource(show_spinner="Loading EfficientNet-Lite0...")
def photo_model() -> tuple[torch.nn.Module, threading.Lock]:
    return load_photo_classifier(default_device()), threading.Lock()


def _label(label: int) -> str:
    return f"{label}: {class_synonyms()[label]}"


def photo_input() -> tuple[PhotoInput, str]:
    """The photo (gallery or upload) and its caption; stops the page when there is none yet."""
    mode = st.segmented_control("Photo", ["Gallery", "Upload"], default="Gallery", key="photo_mode", required=True,
                                persist_state="page")
    if mode == "Gallery":
        names = [p.name for p in gallery()]
        name = st.selectbox("Sample photo", names, index=names.index(DEFAULT_PHOTO) if DEFAULT_PHOTO in names else 0,
                            key="photo_name", persist_state="page",
                            help="Photos that ship with scikit-learn, matplotlib and scikit-image, and foolbox's 20 "
                                 "labelled ImageNet validation photos (their true class in the name).")
        photo = next(p for p in gallery() if p.name == name)
        return read_photo(photo.path, name), name
    upload = st.file_uploader("A photo (PNG, JPEG, GIF, BMP, TIFF, WebP)", key="photo_upload",
                              max_upload_size=MAX_IMAGE_BYTES // 2**20,
                              help=f"Its centred square is resized to 224 x 224; refused above {MAX_PIXELS:,} pixels "
                                   f"or {MAX_IMAGE_BYTES // 2**20} MB.")
    if upload is None:
        st.info("Upload a photo to see what the ImageNet CNN makes of it.")
        st.stop()
    try:
        return read_photo(upload.getvalue(), upload.name), upload.name
    except ValueError as err:
        st.error(escape_markdown(err), icon=":material/broken_image:")
        st.stop()


def top5_figure(top: list[tuple[int, str, float]]) -> go.Figure:
    fig = go.Figure(go.Bar(x=[p for _, _, p in top][::-1], y=[f"{name} ({label})" for label, name, _ in top][::-1],
                           orientation="h", marker_color=["#1f77b4"] * (len(top) - 1) + ["#ff4b4b"],
                           hovertemplate="%{y}: p = %{x:.4f}<extra></extra>"))
    fig.update_layout(title="Top-5 classes", height=230, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(range=[0, 1], title="probability"))
    return fig


def classes_to_explain(photo: PhotoInput, caption: str, probs: np.ndarray) -> tuple[int, int]:
    """The photo beside its top-5; the two classes to explain (default: the two most likely)."""
    top = top_classes(torch.as_tensor(probs), 5)
    if st.session_state.get("photo_classes_for") != caption:  # a new photo: its own two best classes
        st.session_state["photo_target"], st.session_state["photo_second"] = top[0][0], top[1][0]
        st.session_state["photo_classes_for"] = caption
    left, right = st.columns([1, 2])
    left.image(photo.square, caption=caption, width=224)
    for note in photo.notes:
        left.caption(f":material/info: {escape_markdown(note)}")
    with right:
        st.plotly_chart(top5_figure(top), key="photo_top5")
        st.dataframe([{"class": name, "label": label, "probability": round(p, 4)} for label, name, p in top],
                     hide_index=True, key="photo_top5_table")
    c1, c2 = st.columns(2)
    labels = list(range(1000))
    first = c1.selectbox("Class to explain (type to search any name, e.g. tabby cat)", labels, key="photo_target",
                         format_func=_label, persist_state="page")
    second = c2.selectbox("Second class, side by side", labels, key="photo_second", format_func=_label,
                          persist_state="page")
    return first, second


def method_settings(model) -> tuple[dict, dict]:
    with st.expander("Method settings", icon=":material/tune:"):
        s1, s2, s3, s4 = st.columns(4)
        layers = list(conv_layers(model))
        layer = s1.selectbox("Grad-CAM layer", layers, index=layers.index(DEFAULT_LAYER), key="photo_layer",
                             format_func=layer_caption, persist_state="page",
                             help="The head (the last conv's 1280 maps, 7 x 7) is the usual choice, as in the "
                                  "Grad-CAM paper: the most class-specific maps that still keep a layout. Earlier "
                                  "stages are finer but respond to parts and textures of any class.")
        steps = s2.slider("Integrated-gradients steps", 4, 128, 32, key="photo_ig_steps", persist_state="page")
        baseline = s2.radio("IG baseline", BASELINES, horizontal=True, key="photo_ig_baseline", persist_state="page",
                            help="black: an input of zeros, which is mid-grey for this model (0 after its "
                                 "normalisation); blurred: a blurred copy of the photo")
        window = s3.slider("Occlusion window (px of 224)", 8, 112, 32, key="photo_occ_window", persist_state="page")
        stride = s3.slider("Occlusion stride (px)", 4, 112, 16, key="photo_occ_stride", persist_state="page")
        colormap = s4.selectbox("Colour map", COLORMAPS, key="photo_colormap", persist_state="page")
        opacity = s4.slider("Heatmap opacity", 0.0, 1.0, 0.5, 0.05, key="photo_opacity", persist_state="page")
    return dict(layer=layer, steps=steps, baseline=baseline, window=window, stride=stride), \
        dict(colormap=colormap, opacity=opacity)


def _digest(photo: PhotoInput) -> str:
    return hashlib.sha1(np.ascontiguousarray(photo.x.numpy()).tobytes()).hexdigest()


def photo_map(ctx: Explaining, target: int, method: str) -> np.ndarray:
    """One method's raw map (224, 224), computed once per photo, class and settings in this session."""
    cache = st.session_state.setdefault("_photo_maps", {})
    key = (_digest(ctx.photo), target, method, tuple(sorted(ctx.options.items())))
    if key not in cache:
        if method in SLOW:
            bar = st.progress(0.0, text=f"{TITLES[method]}: evaluating the model on {CHUNK} images at a time...")
            extra = dict(chunk=CHUNK, progress=lambda share: bar.progress(share, text=f"{TITLES[method]}: {share:.0%}"))
        else:
            bar, extra = None, {}
        with ctx.lock:
            cache[key] = attribute(ctx.model, ctx.photo.x, target, method, **ctx.options, **extra)[0].numpy()
        if bar is not None:
            bar.empty()
        for stale in list(cache)[:-48]:
            cache.pop(stale)
    return cache[key]


def panels(square: np.ndarray, values: np.ndarray, method: str, look: dict) -> list[np.ndarray]:
    """input, heatmap, overlay, greyscale of one map, at the square's resolution (the brightest 1 % clipped)."""
    shown = render.clipped(upsample_map(values, len(square)), DISPLAY[method])
    return render.paper_panels(np.moveaxis(square, -1, 0) / 255.0, shown, DISPLAY[method] == "signed",
                               look["colormap"], look["opacity"])


def paper_figure(ctx: Explaining, square: np.ndarray, target: int) -> np.ndarray:
    """The Grad-CAM paper's panels for one class, two by two: input, Grad-CAM heatmap; overlay, guided Grad-CAM."""
    base, heat, over, _ = panels(square, photo_map(ctx, target, "gradcam"), "gradcam", ctx.look)
    guided = panels(square, photo_map(ctx, target, "guided-gradcam"), "guided-gradcam", ctx.look)[3]
    gap = np.full((4, 2 * len(square) + 4, 3), 255, np.uint8)
    return np.concatenate([render.hstack([base, heat]), gap, render.hstack([over, guided])])


def two_classes_view(ctx: Explaining, first: int, second: int) -> None:
    square = shown_square(ctx.photo.square)
    st.caption(f"The Grad-CAM paper's panels for each class at the photo's resolution ({len(square)} x {len(square)}): "
               "input, Grad-CAM heatmap; heatmap over the input, guided Grad-CAM (guided backprop x Grad-CAM). "
               "Each class lights up its own evidence in the same photo.")
    for column, label in zip(st.columns(2), (first, second)):
        with column:
            st.markdown(f"**{escape_markdown(class_names()[label])}** (p = {ctx.probs[label]:.3f})")
            st.image(paper_figure(ctx, square, label), width="stretch",
                     caption=f"{class_synonyms()[label]} · Grad-CAM on {layer_caption(ctx.options['layer'])}")


def methods_view(ctx: Explaining, target: int) -> None:
    chosen = st.multiselect("Methods", METHODS, default=["gradcam", "guided-backprop", "guided-gradcam"],
                            format_func=TITLES.get, key="photo_methods", persist_state="page")
    if not chosen:
        st.info("Choose at least one method.")
        return
    square = shown_square(ctx.photo.square)
    st.caption(" · ".join(views.PANEL_TITLES) + f", at the photo's resolution ({len(square)} x {len(square)}). "
               "IG and occlusion are signed (red for the class, blue against it); they evaluate the model many "
               f"times, {CHUNK} images at a time, with a progress bar.")
    for method in chosen:
        try:
            values = photo_map(ctx, target, method)
        except ValueError as err:
            st.error(f"{TITLES[method]}: {escape_markdown(err)}", icon=":material/error:")
            continue
        st.markdown(f"**{TITLES[method]}**")
        st.image(render.hstack(panels(square, values, method, ctx.look)), width="stretch")


def trust_view(ctx: Explaining, target: int) -> None:
    """The randomisation check (ten groups of layers, classifier first) and the deletion curve."""
    chosen = st.multiselect("Methods to check", METHODS, default=["gradcam", "guided-backprop"], format_func=TITLES.get,
                            key="photo_trust_methods", persist_state="page",
                            help="Integrated gradients and occlusion take minutes here on a CPU: each of the 11 "
                                 "steps computes the map again.")
    if not chosen:
        st.info("Choose at least one method.")
        return
    cache = st.session_state.setdefault("_photo_trust", {})
    results = {}
    with st.spinner("Re-initialising the network a group of layers at a time, and deleting pixels..."):
        for method in chosen:
            key = (_digest(ctx.photo), target, method, tuple(sorted(ctx.options.items())))
            if key not in cache:
                with ctx.lock:
                    steps = randomisation_check(ctx.model, ctx.photo.x, target, method, **ctx.options, chunk=CHUNK)
                    # 10 deletion steps and one random order: 22 forward passes at 224 px, not 84
                    curve = deletion_curve(ctx.model, ctx.photo.x, target, steps[0].maps, steps=10, repeats=1)
                cache[key] = (steps, curve)
            results[method] = cache[key]
    st.markdown("#### Model randomisation (sanity check)")
    st.caption(views.RANDOMISATION_CAPTION + " Here the layers go a group at a time: the classifier, the head, "
               "stages 7 to 1, the stem.")
    st.plotly_chart(views.randomisation_figure(results), key="photo_randomisation")
    st.dataframe(views.randomisation_rows(results), hide_index=True)
    small = np.asarray(torch.nn.functional.interpolate(ctx.photo.x * 128 + 127, size=(112, 112), mode="bilinear")[0]
                       .clamp(0, 255).permute(1, 2, 0).round().byte())
    for method, (steps, _) in results.items():
        strip = [render.colourise(render.clipped(upsample_map(s.maps.numpy(), 112), DISPLAY[method]), ctx.look["colormap"],
                                  DISPLAY[method] == "signed") for s in steps]
        verdict = trust_verdict(steps)
        st.markdown(f"**{TITLES[method]}**: correlation after randomising every layer {verdict.correlation:.2f}, "
                    f"{verdict.reason}")
        st.image(render.hstack([small] + strip), caption="photo, trained, then each further re-initialised group")
    deletion_section(results)


def deletion_section(results: dict) -> None:
    st.markdown("#### Deletion curve (faithfulness)")
    st.caption("Pixels are set to grey (0 after the model's normalisation), most salient first, in 10 steps; the "
               "probability of the explained class should fall faster than when random pixels go. Lower area = "
               "more faithful. On a photo, scattered random grey pixels disturb the CNN more than a removed region does (its "
               "input stops looking like a photo), so the random curve can fall fastest: compare the methods with "
               "each other.")
    views.deletion_chart(results, "photo", key="photo_deletion")


VIEWS = ("Two classes", "Methods", "Trust")


def show() -> None:
    """The whole page below the model picker, for the ImageNet CNN."""
    model, lock = photo_model()
    photo, caption = photo_input()
    with lock:
        probs = probabilities(model, photo.x)[0].numpy()
    first, second = classes_to_explain(photo, caption, probs)
    options, look = method_settings(model)
    ctx = Explaining(model, lock, photo, probs, options, look)
    view = st.segmented_control("View", VIEWS, default="Two classes", key="photo_view", required=True,
                                persist_state="page")
    st.caption(f"Explaining class **{escape_markdown(class_names()[first])}** (p = {probs[first]:.3f}) · "
               "ImageNet (EfficientNet-Lite0, pretrained), 224 x 224 input")
    if view == "Two classes":
        two_classes_view(ctx, first, second)
    elif view == "Methods":
        methods_view(ctx, first)
    else:
        trust_view(ctx, first)
