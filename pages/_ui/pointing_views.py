"""The Saliency page's pointing game, for a run on a dataset whose object masks are known (shapes):
per method, over a batch of test images, how often the map's maximum falls on the object and how
much of its positive energy lies inside the object, beside a random map and a centre bump.

The scores come from engine/saliency/pointing.py; results are kept in the session per settings, so
moving between views does not compute them again. Every engine call holds the model's lock.
"""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from engine.data.shapes import masks_of
from engine.saliency import render
from engine.saliency.maps import attribute, normalise
from engine.saliency.methods import DISPLAY, METHODS, TITLES
from engine.saliency.pointing import BASELINE_TITLES, PointingScore, pointing_game, scored_values
from pages._ui.training_charts import PALETTE

IMAGE_COUNTS = (20, 50, 100, 200, 500, 1000)
EXAMPLES = 6     # test images shown with each method's map, its maximum and the object's outline
TILE = 96        # screen pixels of an example's side

CAPTION = ("The dataset knows where each object is, so every map can be scored against the truth: a **hit** when the "
           "map's maximum falls on the object (the pointing game of Zhang et al. 2016), and the share of the map's "
           "positive energy inside the object. Each map explains the image's true class. A random map hits as often "
           "as objects cover the image; the centre bump knows only that objects are seldom at the edge: a method "
           "is worth trusting here only if it beats both.")


def available(data) -> bool:
    """Whether this run's data has object masks to play with."""
    return masks_of(data) is not None


def rows(results: list[PointingScore]) -> list[dict]:
    """The table: one row per method, then the baselines."""
    return [{"method": r.title, "hit rate": round(r.hit_rate, 3),
             "energy in the object": None if np.isnan(r.energy_share) else round(r.energy_share, 3),
             "maps without a positive part": r.empty_maps} for r in results]


def figure(results: list[PointingScore]) -> go.Figure:
    titles = [r.title for r in results]
    fig = go.Figure()
    fig.add_bar(x=titles, y=[r.hit_rate for r in results], name="hit rate", marker_color=PALETTE[0])
    fig.add_bar(x=titles, y=[r.energy_share for r in results], name="energy in the object", marker_color=PALETTE[3])
    fig.update_layout(barmode="group", height=300, margin=dict(l=10, r=10, t=30, b=10), yaxis=dict(range=[0, 1]),
                      legend=dict(orientation="h", y=1.12))
    return fig


def tile(image: np.ndarray, values: np.ndarray, mask: np.ndarray, method: str, look: dict, scale: int) -> np.ndarray:
    """The map over the image, the object's outline in white and the map's maximum as a black-edged
    white square: what the pointing game looked at."""
    shown = normalise(values[None], DISPLAY[method])[0]
    _, _, over, _ = render.paper_panels(image, shown, DISPLAY[method] == "signed", look["colormap"], look["opacity"])
    inner = mask.copy()
    inner[1:-1, 1:-1] = mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:]
    over[mask & ~inner] = 255
    big = render.upscale(over, scale)
    y, x = np.unravel_index(np.argmax(scored_values(values, DISPLAY[method])), values.shape)
    cy, cx, r = y * scale + scale // 2, x * scale + scale // 2, max(2, scale // 2)
    big[max(cy - r - 1, 0):cy + r + 2, max(cx - r - 1, 0):cx + r + 2] = 0
    big[max(cy - r, 0):cy + r + 1, max(cx - r, 0):cx + r + 1] = 255
    return big


def examples(model, lock, data, masks, methods, options, look) -> None:
    st.markdown(f"**The first {EXAMPLES} test images**: the map, the object's outline (white) and the map's "
                "maximum (the white square)")
    images = data.x_val[:EXAMPLES]
    targets = data.y_val[:EXAMPLES]
    scale = max(1, TILE // images.shape[-1])
    classes = data.info.classes
    for method in methods:
        with lock:
            maps = attribute(model, images, targets, method, **options).numpy()
        verdicts = [_verdict(m, masks[i], method) for i, m in enumerate(maps)]
        st.markdown(f"{TITLES[method]}")
        st.image([tile(images[i].numpy(), maps[i], masks[i], method, look, scale) for i in range(len(maps))],
                 caption=[f"{classes[int(targets[i])]}: {v}" for i, v in enumerate(verdicts)], width=TILE)


def _verdict(values: np.ndarray, mask: np.ndarray, method: str) -> str:
    """hit or miss; a flat map (every pixel its maximum) points nowhere: it scores the object's area."""
    scored = scored_values(values, DISPLAY[method])
    if scored.max() == scored.min():
        return "flat map"
    return "hit" if mask[np.unravel_index(np.argmax(scored), scored.shape)] else "miss"


def pointing_view(model, lock, data, options: dict, look: dict, key: str) -> None:
    """The view: settings, the table and chart of scores, examples. `key` names the model (run and
    epoch), so results are kept per model."""
    masks = masks_of(data).numpy()
    st.caption(CAPTION)
    left, middle, right = st.columns([3, 1, 1])
    methods = left.multiselect("Methods to score", METHODS, default=list(METHODS), format_func=TITLES.get,
                               key="pointing_methods", persist_state="page")
    counts = [n for n in IMAGE_COUNTS if n <= len(masks)] or [len(masks)]
    count = middle.select_slider("Test images", counts, value=100 if 100 in counts else counts[-1],
                                 key="pointing_images", persist_state="page")
    tolerance = right.slider("Tolerance (px)", 0, 4, 0, key="pointing_tolerance", persist_state="page",
                             help="A maximum this many pixels from the object still counts as a hit "
                                  "(Zhang et al. allowed 15 px on full-size photos).")
    if not methods:
        st.info("Choose at least one method.")
        return
    settings = (key, tuple(methods), count, tolerance, tuple(sorted(options.items())))
    kept = st.session_state.setdefault("pointing_results", {})
    if settings not in kept:
        bar = st.progress(0.0, text="Scoring the maps...")
        try:
            with lock:
                results = pointing_game(model, data.x_val[:count], data.y_val[:count], masks[:count], methods,
                                        tolerance=tolerance, progress=lambda done, total: bar.progress(
                                            done / total, text=f"Scoring the maps: {done} of {total} batches"),
                                        **options)
        except ValueError as err:  # a setting a method refuses (an occlusion window larger than the image)
            st.error(str(err), icon=":material/error:")
            return
        finally:
            bar.empty()
        kept.clear()  # only the latest settings' results are kept
        kept[settings] = results
    results = kept[settings]
    st.markdown(f"#### Pointing game over {count} test images")
    st.dataframe(rows(results), hide_index=True)
    st.plotly_chart(figure(results), key="pointing_chart")
    baselines = ", ".join(f"{BASELINE_TITLES[r.method].split(' (')[0].lower()} {r.hit_rate:.2f}"
                          for r in results if r.method in BASELINE_TITLES)
    st.caption(f"Hit rates of the baselines: {baselines}. Objects cover {masks[:count].mean():.0%} of the images "
               "on average: a map that knows nothing hits that often.")
    examples(model, lock, data, masks, methods, options, look)
