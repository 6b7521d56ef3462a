"""The Embeddings map drawn by deck.gl (Streamlit's own bundle: st.pydeck_chart, offline): an
OrbitView with one point-cloud layer per colour, words as text layers by level of detail, and the
isolated points (a search and its neighbours, or a selection) over a faded map.

Chosen over Plotly's Scatter3d by measuring (bench/embeddings_render.py): deck.gl draws 400k
points, rotates them fluidly and draws thousands of words as text, where Plotly's 3D labels
stall the page.

The JSON is written here, not by pydeck's objects: pydeck serialises a 400k-row DataFrame as
records of named floats on every rerun. Here each layer's points are one compact array of
[x, y, z, word] rows, coordinates on a [-100, 100] cube at 0.1 steps, serialised once per content
(st.cache_data) and spliced into the spec; an unchanged spec is a byte-identical message, which
Streamlit's message cache does not send again.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

from engine.embeddings import mapview

TEXT = [40, 40, 48]
FADED = [184, 192, 204, 70]
TIER_SIZES = [7.0, 2.2, 0.7, 0.22]  # world units of each label tier (see mapview.label_tiers)
TIER_ALPHA = [235, 190, 160, 140]
ON_TOP = {"depthCompare": "always"}  # luma.gl 9 (deck.gl 9, Streamlit's): drawn in layer order, not by depth
MAX_TIER_LABELS = 2_200  # labels drawn outside "words as text": the first two tiers (200 + 2,000)


@dataclass
class Group:
    """Points drawn in one colour, with the legend's name for them."""
    name: str
    colour: str
    rows: np.ndarray


@dataclass
class Scene:
    xyz: np.ndarray                                   # display coordinates (mapview.display_coords)
    words: list[str]
    groups: list[Group]
    searched: list[int] = field(default_factory=list)
    emphasised: list[int] = field(default_factory=list)  # neighbours, selection: labelled, never faded
    isolate: bool = True                                  # fade the rest when something is emphasised
    words_mode: bool = False                              # the whole map as text
    camera: mapview.Camera | None = None                  # None: framed on the isolated points, or all
    point_size: float = 2.0


class DeckSpec:
    """What st.pydeck_chart needs of a pydeck Deck: its JSON, and the tooltip."""

    def __init__(self, text: str, tooltip: dict | None = None):
        self.text = text
        self._tooltip = tooltip

    def to_json(self) -> str:
        return self.text


def digest(*arrays) -> str:
    h = hashlib.blake2b(digest_size=12)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def rows_json(xyz: np.ndarray, words: list[str], rows: np.ndarray, text: bool = False) -> str:
    """Points as [[x, y, z, word], ...] at 0.1 steps (about 25 bytes a point; the tooltip reads
    {3}); labels as [{"p": [x, y, z], "t": word}, ...] (deck.gl's JSON expressions read a field
    by name, "@@=t", not an array's element)."""
    pts = np.round(xyz[rows].astype(np.float64), 1).tolist()
    if text:
        out = [{"p": p, "t": words[i]} for p, i in zip(pts, rows.tolist())]
    else:
        out = [p + [words[i]] for p, i in zip(pts, rows.tolist())]
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


@st.cache_data(max_entries=64, show_spinner=False)
def cached_rows_json(key: str, _xyz: np.ndarray, _words: list[str], _rows: np.ndarray, text: bool) -> str:
    return rows_json(_xyz, _words, _rows, text)


def _data(scene: Scene, rows, key: str, cache: bool, text: bool = False) -> str:
    rows = np.asarray(rows, dtype=np.int64)
    if not cache:
        return rows_json(scene.xyz, scene.words, rows, text)
    return cached_rows_json(f"{key}:{digest(scene.xyz, rows)}:{len(scene.words)}", scene.xyz, scene.words, rows,
                            text)


def _points_layer(layer_id: str, colour, size: float, pickable: bool = True) -> dict:
    """Discs of `size` pixels facing the camera, whatever their distance (a ScatterplotLayer as a
    billboard: PointCloudLayer's points grew with perspective into blobs)."""
    return {"@@type": "ScatterplotLayer", "id": layer_id, "data": f"__DATA_{layer_id}__", "getPosition": "@@=-",
            "getFillColor": colour, "getRadius": size / 2, "radiusUnits": "pixels", "billboard": True,
            "stroked": False, "pickable": pickable}


def _text_layer(layer_id: str, size: float, units: str, alpha: int, background: bool = False) -> dict:
    layer = {"@@type": "TextLayer", "id": layer_id, "data": f"__DATA_{layer_id}__", "getPosition": "@@=p",
             "getText": "@@=t", "getSize": size, "sizeUnits": units, "sizeMaxPixels": 30,
             "getColor": TEXT + [alpha], "characterSet": "auto", "billboard": True, "pickable": False,
             "fontFamily": "Source Sans Pro, Helvetica, Arial, sans-serif", "fontWeight": 600,
             "fontSettings": {"sdf": True}, "outlineWidth": 3, "outlineColor": [255, 255, 255, 220],
             "getTextAnchor": "start", "getAlignmentBaseline": "bottom", "getPixelOffset": [4, -2]}
    if background:
        layer.update(background=True, getBackgroundColor=[255, 255, 255, 210], backgroundPadding=[3, 1])
    return layer


def label_rows(scene: Scene) -> list[tuple[int, int]]:
    """The label tiers drawn: all of them in words mode, else the first MAX_TIER_LABELS words."""
    n = len(scene.words) if scene.words_mode else min(len(scene.words), MAX_TIER_LABELS)
    tiers = mapview.label_tiers(n)
    last = len(TIER_SIZES) - 1
    return tiers if len(tiers) <= last + 1 else tiers[:last] + [(tiers[last][0], n)]  # the smallest: the rest


def build(scene: Scene, pixels: int = 600, cache: bool = True) -> tuple[DeckSpec, dict[str, np.ndarray]]:
    """The deck.gl spec, and each pickable layer's rows (a click's index in a layer -> a row)."""
    layers, data, picks = [], {}, {}
    focus = mapview.isolated_rows(scene.searched, scene.emphasised, [])
    fading = scene.isolate and bool(focus)
    if fading:  # the whole map faded, the isolated points in their colours on top
        layers.append(_points_layer("faded", FADED, scene.point_size))
        data["faded"] = _data(scene, np.arange(len(scene.words)), "all", cache)
        picks["faded"] = np.arange(len(scene.words))
    focus_set = set(focus)
    for g, group in enumerate(scene.groups):
        rows = np.asarray(group.rows, dtype=np.int64)
        if fading:
            rows = np.array([r for r in rows.tolist() if r in focus_set], dtype=np.int64)
            if not len(rows):
                continue
        alpha = 150 if scene.words_mode else 210
        layer_id = f"g{g}"
        layers.append(_points_layer(layer_id, mapview.hex_rgb(group.colour) + [alpha],
                                    scene.point_size * (3 if fading else 1)))
        data[layer_id] = _data(scene, rows, f"g{g}", cache and not fading)
        picks[layer_id] = rows
    if not fading:
        for t, (start, end) in enumerate(label_rows(scene)):
            layer_id = f"tier{t}"
            layers.append(_text_layer(layer_id, TIER_SIZES[t], "common", TIER_ALPHA[t]))
            data[layer_id] = _data(scene, np.arange(start, end), f"tier{t}", cache, text=True)
    emphasised = [r for r in scene.emphasised if r not in set(scene.searched)]
    if fading:  # the isolated points' neighbourhood read as words: every isolated point labelled
        emphasised = [r for r in focus if r not in set(scene.searched)]
    if emphasised:
        layers.append(_text_layer("emphasised", 13, "pixels", 255, background=True))
        layers[-1]["parameters"] = ON_TOP
        data["emphasised"] = _data(scene, emphasised, "emph", False, text=True)
    if scene.searched:
        layers.append(_points_layer("searched_point", mapview.hex_rgb("#D55E00") + [255], scene.point_size * 5, False))
        data["searched_point"] = _data(scene, scene.searched, "searched", False)
        layers.append(_text_layer("searched", 18, "pixels", 255, background=True))
        layers[-1]["getColor"] = mapview.hex_rgb("#A23B00") + [255]
        layers[-1]["parameters"] = ON_TOP  # the searched word over its neighbours' labels, whatever their depth
        data["searched"] = _data(scene, scene.searched, "searched", False, text=True)
    camera = scene.camera or mapview.frame(scene.xyz, focus if fading else None, pixels=pixels)  # fly to them
    spec = {"initialViewState": {"target": camera.target, "zoom": camera.zoom, "rotationOrbit": camera.rotation_orbit,
                                 "rotationX": camera.rotation_x, "minZoom": -3, "maxZoom": 14},
            "views": [{"@@type": "OrbitView", "controller": True, "orbitAxis": "Y"}],
            "layers": layers}
    text = json.dumps(spec, separators=(",", ":"))
    for layer_id, rows in data.items():
        text = text.replace(f'"__DATA_{layer_id}__"', rows)
    return DeckSpec(text, {"text": "{3}"}), picks


def picked_rows(event, picks: dict[str, np.ndarray]) -> list[int]:
    """The rows of the points clicked on the map (st.pydeck_chart's selection: indices per layer)."""
    if not event:
        return []
    try:
        indices = event.selection.indices
    except AttributeError:
        return []
    out = set()
    for layer_id, found in (indices or {}).items():
        rows = picks.get(layer_id)
        if rows is not None:
            out.update(int(rows[i]) for i in found if 0 <= i < len(rows))
    return sorted(out)
