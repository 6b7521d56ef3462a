"""How close a 2D generator's points are to the real ones: the plane a run is drawn on, KL and JS
divergence estimates, and mode coverage (with mode collapse named).

KL and JS estimator: both point sets are binned on the same HIST_BINS x HIST_BINS grid over the
run's plane (points outside it count in the edge bins: mass far away is not hidden), each histogram
is blurred by a Gaussian of SMOOTH_BINS bins (a kernel density estimate on a grid: a few hundred
points leave most bins empty), normalised, and mixed with FLOOR of a uniform density, so that no
bin is 0 and KL stays finite. Then KL(real || fake) = sum p log(p / q), the direction that grows
when the generator drops part of the real mass (modes it misses), and JS = (KL(p || m) + KL(q || m)) / 2
with m = (p + q) / 2, in nats: 0 for identical samples, ln 2 = 0.693 for samples that share no bin.
KL of disjoint samples is about ln(1 / FLOOR) = 9 plus the log of how concentrated p is: large, finite.

Mode coverage (the unrolled-GAN and VEEGAN papers' measure, for sets whose modes are known:
engine.data.distributions): each fake point belongs to its nearest mode when it lies within
COVER_SIGMAS (3) standard deviations of it (distance to a Gaussian's centre, or to a curve for
the line and the moons); a mode is covered when at least COVER_SHARE (a fifth) of its fair share of
the fakes (n_fakes / n_modes) belong to it. "Quality" is the share of fakes within 3 sigma of any
mode. Mode collapse is named when the fakes are good (quality >= COLLAPSE_QUALITY) yet some modes
are not covered: the generator makes convincing points of too few kinds.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from engine.data.distributions import Modes

PLANE_MARGIN = 1.25    # the plane is the real points' box, this much larger, made square
HIST_BINS = 32
SMOOTH_BINS = 1.0
FLOOR = 1e-4           # share of a uniform density mixed into each estimate
COVER_SIGMAS = 3.0
MIN_SIGMA = 0.02       # noise 0 still leaves a fake this close to a mode counted as on it
COVER_SHARE = 0.2
COLLAPSE_QUALITY = 0.5


@dataclass(frozen=True)
class Plane:
    """The square of the plane a run is drawn and measured on: fixed for the run (it depends only
    on the real points)."""
    x0: float
    x1: float
    y0: float
    y1: float

    def as_array(self) -> np.ndarray:
        return np.array([self.x0, self.x1, self.y0, self.y1], dtype=np.float32)


def plane_of(points: np.ndarray) -> Plane:
    """The real points' bounding box, PLANE_MARGIN times larger and made square (same scale on
    both axes, so a circle looks round)."""
    points = np.asarray(points, dtype=np.float64)
    lo, hi = points.min(0), points.max(0)
    centre = (lo + hi) / 2
    half = max(float((hi - lo).max()) / 2 * PLANE_MARGIN, 1e-3)
    cx, cy = float(centre[0]), float(centre[1])
    return Plane(cx - half, cx + half, cy - half, cy + half)


def density(points: np.ndarray, plane: Plane, bins: int = HIST_BINS) -> np.ndarray:
    """The smoothed, floored histogram of the points on the plane (bins x bins, sums to 1)."""
    points = np.asarray(points, dtype=np.float64)
    width_x, width_y = (plane.x1 - plane.x0) / bins, (plane.y1 - plane.y0) / bins
    # Points beyond the plane count in its edge bins (half a bin in from the edge).
    x = np.clip(points[:, 0], plane.x0 + width_x / 2, plane.x1 - width_x / 2)
    y = np.clip(points[:, 1], plane.y0 + width_y / 2, plane.y1 - width_y / 2)
    counts, _, _ = np.histogram2d(x, y, bins=bins, range=[[plane.x0, plane.x1], [plane.y0, plane.y1]])
    smooth = gaussian_filter(counts, SMOOTH_BINS, mode="constant")
    total = smooth.sum()
    p = smooth / total if total > 0 else np.full_like(smooth, 1.0 / smooth.size)
    return (1 - FLOOR) * p + FLOOR / p.size


def kl(p: np.ndarray, q: np.ndarray) -> float:
    """KL(p || q) in nats for two densities on the same bins (q > 0 wherever p > 0)."""
    mask = p > 0
    return float(np.sum(p[mask] * np.log(p[mask] / q[mask])))


def js(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in nats (0 .. ln 2)."""
    m = (p + q) / 2
    return (kl(p, m) + kl(q, m)) / 2


def divergences(real: np.ndarray, fake: np.ndarray, plane: Plane) -> dict[str, float]:
    """{"kl": KL(real || fake), "js": JS(real, fake)}, estimated as the module says."""
    p, q = density(real, plane), density(fake, plane)
    return {"kl": kl(p, q), "js": js(p, q)}


def distance_to_polyline(points: np.ndarray, polyline: np.ndarray) -> np.ndarray:
    """Each point's distance (N,) to a polyline (m, 2): to its one vertex, or its nearest segment."""
    points = np.asarray(points, dtype=np.float64)
    polyline = np.asarray(polyline, dtype=np.float64)
    if len(polyline) == 1:
        return np.linalg.norm(points - polyline[0], axis=1)
    a, b = polyline[:-1], polyline[1:]                                   # (s, 2) segments
    ab = b - a
    t = ((points[:, None, :] - a[None]) * ab[None]).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12)[None]
    nearest = a[None] + np.clip(t, 0, 1)[..., None] * ab[None]           # (N, s, 2)
    return np.linalg.norm(points[:, None, :] - nearest, axis=-1).min(1)


@dataclass(frozen=True)
class Coverage:
    counts: np.ndarray   # fakes that belong to each mode (n_modes,)
    covered: np.ndarray  # whether each mode is covered (n_modes,) bool
    quality: float       # share of the fakes within COVER_SIGMAS of a mode

    @property
    def n_covered(self) -> int:
        return int(self.covered.sum())

    @property
    def n_modes(self) -> int:
        return len(self.counts)

    @property
    def collapsed(self) -> bool:
        """Mode collapse: good points (quality >= COLLAPSE_QUALITY) of too few modes."""
        return self.n_covered < self.n_modes and self.quality >= COLLAPSE_QUALITY


def mode_coverage(fake: np.ndarray, modes: Modes) -> Coverage:
    """Which of the true modes the fake points cover, as the module says."""
    fake = np.asarray(fake, dtype=np.float64)
    distances = np.stack([distance_to_polyline(fake, shape) for shape in modes.shapes], axis=1)  # (N, k)
    nearest = distances.argmin(1)
    near = distances[np.arange(len(fake)), nearest] <= COVER_SIGMAS * max(modes.sigma, MIN_SIGMA)
    counts = np.bincount(nearest[near], minlength=len(modes))
    needed = max(1.0, COVER_SHARE * len(fake) / len(modes))
    return Coverage(counts, counts >= needed, float(near.mean()) if len(fake) else 0.0)


def coverage_sentence(covered: int, total: int, quality: float) -> str:
    """The coverage in words; mode collapse named as such."""
    if covered >= total:
        return f"the generator covers all {total} modes" if total > 1 else "the generator covers the target"
    if quality >= COLLAPSE_QUALITY:
        return f"mode collapse: the generator covers {covered} of {total} modes"
    return (f"the generator covers {covered} of {total} modes; {1 - quality:.0%} of its points are "
            f"near no mode yet")
