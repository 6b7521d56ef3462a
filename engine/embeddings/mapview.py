"""What the Embeddings map draws, computed without a browser: which points are labelled, which are
isolated, their colours and legends, the camera that frames a set of points, and the view as a
bookmark (URL query and JSON file).

The page's renderer (pages/_ui/embeddings_deck.py) only turns these into deck.gl layers, so every
choice here is unit-tested in the engine (tests/test_embeddings_map.py).
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np

# Colour-blind-safe palettes. Okabe & Ito (2008) for up to 8 categories; Tableau 10 (also chosen for
# colour-vision deficiencies) for 9-10; beyond 10 no palette keeps every pair apart, so Tableau 20
# (each Tableau 10 hue and a lighter one) is the least bad, and the legend names each cluster.
OKABE_ITO = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
TABLEAU_10 = ["#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F", "#EDC948", "#B07AA1", "#FF9DA7",
              "#9C755F", "#BAB0AC"]
TABLEAU_20 = ["#4E79A7", "#A0CBE8", "#F28E2B", "#FFBE7D", "#59A14F", "#8CD17D", "#B6992D", "#F1CE63",
              "#499894", "#86BCB6", "#E15759", "#FF9D9A", "#79706E", "#BAB0AC", "#D37295", "#FABFD2",
              "#B07AA1", "#D4A6C8", "#9D7660", "#D7B5A6"]
# cividis (Nuñez et al. 2018): a scale that reads the same to most colour-vision deficiencies,
# sampled at 9 stops (matplotlib's values), interpolated between them.
CIVIDIS = ["#00224E", "#123570", "#3B496C", "#575D6D", "#707173", "#8A8779", "#A69D75", "#C4B56C", "#FEE838"]
GREY = "#B8C0CC"

SPAN = 100.0  # display coordinates fill [-SPAN, SPAN] on their longest axis


def hex_rgb(colour: str) -> list[int]:
    colour = colour.lstrip("#")
    return [int(colour[i:i + 2], 16) for i in (0, 2, 4)]


def category_palette(n: int) -> list[str]:
    """n category colours, colour-blind safe as far as n allows (see above); more than 20 repeat."""
    base = OKABE_ITO if n <= 8 else TABLEAU_10 if n <= 10 else TABLEAU_20
    return [base[i % len(base)] for i in range(n)]


def scale_colours(n: int) -> list[str]:
    """n colours evenly along cividis, dark to light."""
    stops = np.array([hex_rgb(c) for c in CIVIDIS], dtype=float)
    out = []
    for t in np.linspace(0, 1, n) if n > 1 else [0.5]:
        pos = t * (len(stops) - 1)
        i = min(int(pos), len(stops) - 2)
        rgb = stops[i] + (stops[i + 1] - stops[i]) * (pos - i)
        out.append("#" + "".join(f"{int(round(v)):02X}" for v in rgb))
    return out


def quantile_bins(values: np.ndarray, n_bins: int) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Each value's quantile bin (0 .. n_bins-1, equal counts) and each bin's (low, high): a scale
    that spreads however skewed the values (frequency ranks are: a linear scale made the map one
    colour). Ties stay in one bin; fewer values than bins give fewer bins."""
    values = np.asarray(values, dtype=float)
    n_bins = max(1, min(int(n_bins), len(values)))
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)))
    bins = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2) if len(edges) > 1 \
        else np.zeros(len(values), dtype=int)
    ranges = [(float(values[bins == b].min()), float(values[bins == b].max())) for b in range(int(bins.max()) + 1)]
    return bins.astype(np.int64), ranges


def rank_bins(n: int, n_bins: int) -> tuple[np.ndarray, list[str]]:
    """Frequency-rank quantiles of n words (most frequent first): each word's bin and each bin's
    legend ("ranks 1-1,000")."""
    bins, ranges = quantile_bins(np.arange(1, n + 1), n_bins)
    return bins, [f"ranks {int(lo):,}-{int(hi):,}" for lo, hi in ranges]


def cluster_legend(labels: np.ndarray, words: list[str], top: int = 3) -> list[str]:
    """Each cluster named by its `top` most frequent words (words come most frequent first), so the
    legend says what a colour means: "the, of, and"."""
    labels = np.asarray(labels)
    names = []
    for c in range(int(labels.max()) + 1 if len(labels) else 0):
        rows = np.flatnonzero(labels == c)[:top]
        names.append(", ".join(words[i] for i in rows) if len(rows) else f"cluster {c} (empty)")
    return names


def list_members(words: list[str], wanted: list[str]) -> np.ndarray:
    """1 for each word in the list, 0 for the others."""
    wanted = set(wanted)
    return np.fromiter((w in wanted for w in words), dtype=np.int64, count=len(words))


def metadata_categories(column: list[str], top: int = 9) -> tuple[np.ndarray, list[str]]:
    """A metadata column as categories: its `top` most common values, the rest as "other" (a legend
    of 300 colours reads as none)."""
    values, counts = np.unique(np.asarray(column, dtype=str), return_counts=True)
    kept = list(values[np.argsort(-counts, kind="stable")][:top])
    index = {v: i for i, v in enumerate(kept)}
    codes = np.fromiter((index.get(v, len(kept)) for v in column), dtype=np.int64, count=len(column))
    names = kept + (["other"] if (codes == len(kept)).any() else [])
    return codes, names


def isolated_rows(searched: list[int], neighbours: list[int], selected: list[int]) -> list[int]:
    """The points the map isolates (everything else faded): the searched point with its neighbours,
    and any selection (lasso, box or clicks); empty when there is nothing to isolate."""
    return sorted(set(searched) | set(neighbours) | set(selected))


def display_coords(coords: np.ndarray) -> np.ndarray:
    """The map's coordinates centred and scaled so the longest axis spans [-SPAN, SPAN], in 3D (a
    2D map gets z = 0): the camera and the label sizes then work the same for every projection."""
    coords = np.asarray(coords, dtype=np.float64)
    if coords.shape[1] == 2:
        coords = np.hstack([coords, np.zeros((len(coords), 1))])
    centre = (coords.min(0) + coords.max(0)) / 2
    half = float(np.abs(coords - centre).max()) or 1.0
    return ((coords - centre) * (SPAN / half)).astype(np.float32)


def labels_near(xyz: np.ndarray, target, n: int, always: list[int] = ()) -> list[int]:
    """The n points nearest the camera's target (where it looks and zooms), most frequent first
    among equals, plus `always` (the searched word, its neighbours, a selection): the labels worth
    drawing in the region you look at."""
    n = max(0, min(int(n), len(xyz)))
    d = np.linalg.norm(np.asarray(xyz, dtype=np.float64) - np.asarray(target, dtype=np.float64), axis=1)
    nearest = np.argsort(d, kind="stable")[:n]
    return sorted(set(nearest.tolist()) | set(always))


def label_tiers(n: int, first: int = 200, ratio: int = 10) -> list[tuple[int, int]]:
    """Level of detail for labels: (start, end) row ranges by frequency, each tier `ratio` times
    larger than the one before and drawn `ratio`**0.5 times smaller in world units, so zooming in
    (or flying closer) makes the next tier readable: the top 200 words at the default zoom, the next
    2,000 closer, the next 20,000 closer still. (Each drawn label costs: in headless Chromium's
    software WebGL 3,300 labels took a 10k map from 5.5 to 1.1 frames a second.)"""
    tiers, start, size = [], 0, first
    while start < n:
        tiers.append((start, min(n, start + size)))
        start, size = start + size, size * ratio
    return tiers


@dataclass
class Camera:
    target: list[float]
    zoom: float
    rotation_orbit: float = 30.0
    rotation_x: float = 20.0


def frame(xyz: np.ndarray, rows: list[int] | None = None, pixels: int = 600, fill: float | None = None) -> Camera:
    """The camera that looks at `rows` (all points when None) so they fill `fill` of a `pixels`-wide
    view (by default 0.6 for rows, 0.75 for a whole map): OrbitView's zoom z shows 2**z pixels per
    unit. One row (or rows on one spot) gets a close-up of a tenth of the map; a whole map of more
    than 100 points is framed on the 95% of them nearest its centre."""
    pts = np.asarray(xyz if rows is None or not len(rows) else xyz[np.asarray(rows)], dtype=np.float64)
    bulk = rows is None and len(pts) > 100
    fill = fill if fill is not None else 0.75 if bulk else 0.6
    # A whole map is framed on its median and 95% of its points: UMAP's long thin tails (numbers,
    # years) would shrink the cloud, and its words, to a small blob in the middle.
    centre = np.median(pts, axis=0) if bulk else (pts.min(0) + pts.max(0)) / 2
    dist = np.linalg.norm(pts - centre, axis=1)
    reach = float(np.quantile(dist, 0.95)) if bulk else float(dist.max())
    radius = max(reach, SPAN / 20)
    return Camera([round(float(v), 3) for v in centre], round(math.log2(pixels * fill / (2 * radius)), 3))


@dataclass
class Bookmark:
    """A view of the map that a link or a file brings back (the Projector's bookmarks)."""
    source: str = "glove"          # which vectors: glove, trained, upload, image
    top: int = 10_000              # points on the map
    method: str = "pca"
    dims: int = 3
    q: str = ""                    # the searched word
    k: int = 10
    colour: str = "cluster"
    clusters: int = 10
    selection: list[str] = field(default_factory=list)  # selected words
    camera: dict | None = None     # {"target": [x, y, z], "zoom": z, "rotationOrbit": a, "rotationX": b}
    params: dict = field(default_factory=dict)            # the projection's settings

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Bookmark":
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("a bookmark is a JSON object")
        return cls._checked(raw)

    def to_query(self) -> dict[str, str]:
        """URL query parameters: the short ones as they are (?top=5000&method=pca&q=king, the link
        the page already reads), the lists and dicts as compact JSON; defaults left out."""
        out, default = {}, Bookmark()
        for f in fields(self):
            value = getattr(self, f.name)
            if value == getattr(default, f.name):
                continue
            out[f.name] = json.dumps(value, separators=(",", ":")) if isinstance(value, (list, dict)) else str(value)
        return out

    @classmethod
    def from_query(cls, query: dict[str, str]) -> "Bookmark":
        raw = {}
        for f in fields(cls):
            if f.name not in query:
                continue
            text = query[f.name]
            if f.name in ("selection", "camera", "params"):
                try:
                    raw[f.name] = json.loads(text)
                except ValueError:
                    continue
            else:
                raw[f.name] = text
        return cls._checked(raw)

    @classmethod
    def _checked(cls, raw: dict) -> "Bookmark":
        """Each known field converted to its type; a value that does not convert keeps the default
        (a hand-edited link opens the default view, not an error)."""
        out = cls()
        for f in fields(cls):
            if f.name not in raw:
                continue
            value, default = raw[f.name], getattr(out, f.name)
            try:
                if isinstance(default, bool):
                    continue
                if isinstance(default, int):
                    value = int(value)
                elif isinstance(default, str):
                    value = str(value)
                elif f.name == "selection":
                    value = [str(w) for w in value] if isinstance(value, list) else default
                elif isinstance(value, dict) or value is None:
                    pass
                else:
                    value = default
            except (TypeError, ValueError):
                value = default
            setattr(out, f.name, value)
        return out
