"""A person's own 2D points, from a CSV or drawn on the plane, checked and scaled into the [-1, 1] square.

A CSV has a header and the columns x, y and label (two classes, as in TensorFlow Playground: numbers
or names, e.g. 0/1, -1/1, red/blue) or x, y and value (a numeric target: regression). Every refusal
is a `PointsError` whose message says what to change, naming the line where a value is wrong.

Coordinates are scaled into the [-1, 1] square the other 2D sets live in: both axes by the same
factor (a circle stays a circle), centred on the middle of the points' extent; points already
inside the square are kept as they are. The scale is kept with the points (`original = xy * scale +
centre`). Nothing here touches the disk: engine/data/saved_points.py keeps them.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

import numpy as np

from engine.core.uploads import UploadError, read_limited, size_text

MIN_POINTS = 10       # fewer cannot be split into training and test points worth the name
MAX_POINTS = 5000     # the most the other 2D sets have (their size slider's maximum)
MAX_BYTES = 2**20     # 1 MB: 5,000 lines of long numbers fit in a fifth of it
MAX_LABEL = 40        # characters of a class name (it labels legends and the confusion matrix)
DRAWN = "drawn"       # the source of drawn points
DRAWN_CLASSES = ("blue", "orange")  # TensorFlow Playground's two colours, class 0 first

FORMAT = (f"A CSV file with a header line: columns x, y and label (exactly two classes, numbers or names, "
          f"e.g. 0/1 or red/blue) or x, y and value (a number to predict: regression). "
          f"{MIN_POINTS:,} to {MAX_POINTS:,} points, at most {size_text(MAX_BYTES)}. "
          f"Coordinates are scaled into the [-1, 1] square of the other 2D sets.")


class PointsError(ValueError):
    """Points that cannot become a dataset; the message says why and what to change."""


@dataclass(frozen=True)
class PointSet:
    """Points in the [-1, 1] square and what each one is.

    Classification: `target` holds int64 classes 0/1 and `classes` their names (class 0 first,
    drawn blue). Regression: `target` holds float32 values and `classes` is empty."""
    xy: np.ndarray                 # (N, 2) float32, inside [-1, 1]
    target: np.ndarray             # (N,) int64 classes or float32 values
    task: str                      # "classification" | "regression"
    classes: tuple[str, ...]
    source: str                    # the file's name, or DRAWN
    centre: tuple[float, float] = (0.0, 0.0)   # original coordinates = xy * scale + centre
    scale: float = 1.0
    value_centre: float = 0.0                  # original values = target * value_scale + value_centre
    value_scale: float = 1.0

    def __len__(self) -> int:
        return len(self.xy)

    def class_counts(self) -> tuple[int, ...]:
        return tuple(int(c) for c in np.bincount(self.target, minlength=2)) if self.task == "classification" else ()


# ---- reading a CSV --------------------------------------------------------------------------------
def read_points_csv(source, name: str) -> PointSet:
    """A CSV (a path, bytes or a file object; gzipped too) read within MAX_BYTES and checked."""
    try:
        raw = read_limited(source, MAX_BYTES, "file")
    except UploadError as err:  # too large, or a broken gzip
        raise PointsError(str(err)) from None
    except OSError as err:
        raise PointsError(f"cannot be read: {err.strerror or err}") from None
    return parse_points_csv(raw, name)


def parse_points_csv(raw: bytes, name: str, scale: bool = True) -> PointSet:
    """The points of a CSV's bytes; `scale=False` keeps the coordinates as they are (points saved
    here, already in the square)."""
    text = _text(raw)
    delimiter = _delimiter(text)
    rows = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header, records = _records(rows)
    except csv.Error as err:  # e.g. a field of more than csv's 128 KB
        raise PointsError(f"line {rows.line_num} cannot be read as CSV ({err})") from None
    target_column = "label" if "label" in header else "value"
    comma_decimals = delimiter == ";"  # a European spreadsheet's "0,5"
    xy = np.array([[_number(x, "x", line, comma_decimals), _number(y, "y", line, comma_decimals)]
                   for line, x, y, _ in records], dtype=np.float64).reshape(-1, 2)
    if len(records) < MIN_POINTS:
        raise PointsError(f"the file has {len(records)} point{'s' * (len(records) != 1)}: at least {MIN_POINTS} "
                          "are needed")
    if target_column == "label":
        target, classes = _classes([(line, label) for line, _, _, label in records])
        values = None
    else:
        values = np.array([_number(v, "value", line, comma_decimals) for line, _, _, v in records])
        target, classes = None, ()
    centre, factor = _fit_square(xy) if scale else ((0.0, 0.0), 1.0)
    points = np.clip((xy - centre) / factor, -1.0, 1.0).astype(np.float32)
    if values is None:
        return PointSet(points, target, "classification", classes, name, centre, factor)
    value_centre, value_scale = _fit_range(values) if scale else (0.0, 1.0)
    scaled = np.clip((values - value_centre) / value_scale, -1.0, 1.0).astype(np.float32)
    return PointSet(points, scaled, "regression", (), name, centre, factor, value_centre, value_scale)


def _records(rows) -> tuple[list[str], list[tuple]]:
    """The header's names and (line, x, y, label or value) of each line, as text."""
    header = next(row for row in rows if any(field.strip() for field in row))  # blank lines above it go
    header = [h.strip().lower() for h in header]
    columns = _columns(header)
    wanted = ("x", "y", "label" if "label" in columns else "value")
    records = []
    for row in rows:
        if not any(field.strip() for field in row):
            continue  # blank lines (a trailing newline, a spreadsheet's empty rows)
        if len(row) <= max(columns.values()):
            raise PointsError(f"line {rows.line_num} has {len(row)} value{'s' * (len(row) != 1)}, but the header "
                              f"names {len(header)} columns")
        records.append((rows.line_num, *(row[columns[c]].strip() for c in wanted)))
        if len(records) > MAX_POINTS:
            raise PointsError(f"the file has more than {MAX_POINTS:,} points: at most {MAX_POINTS:,} are allowed "
                              f"(the most the other 2D sets have); keep a sample of them")
    return header, records


def _text(raw: bytes) -> str:
    if b"\x00" in raw:
        raise PointsError("this is not a CSV file: it holds binary data (save it from the spreadsheet "
                          "as CSV, comma-separated)")
    try:
        text = raw.decode("utf-8-sig")  # a spreadsheet's byte-order mark goes
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")  # an older spreadsheet's export
    if not text.strip():
        raise PointsError("the file is empty: it needs a header line (x,y,label) and a line per point")
    return text


def _delimiter(text: str) -> str:
    first = next(line for line in text.splitlines() if line.strip())
    return next((d for d in (",", ";", "\t") if d in first), ",")


def _columns(header: list[str]) -> dict[str, int]:
    """Where x, y and label (or value) are; PointsError when the header lacks one."""
    if all(_is_number(h) for h in header):
        raise PointsError(f"the first line is {','.join(header)[:60]!r}, not a header: add a first line that "
                          "names the columns, x,y,label (or x,y,value)")
    found = {name: header.index(name) for name in ("x", "y", "label", "value") if name in header}
    missing = [name for name in ("x", "y") if name not in found]
    if "label" not in found and "value" not in found:
        missing.append("label (or value, for regression)")
    if missing:
        shown = ", ".join(h for h in header if h) or "none"
        raise PointsError(f"the header must name the columns x, y and label (or value); missing: "
                          f"{', '.join(missing)} (the file's columns: {shown[:120]})")
    if "label" in found and "value" in found:
        raise PointsError("the header names both label and value: keep label for two classes, or value for "
                          "regression")
    return found


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _number(text: str, column: str, line: int, comma_decimals: bool) -> float:
    if not text:
        raise PointsError(f"line {line}: {column} is empty")
    try:
        value = float(text.replace(",", ".") if comma_decimals and text.count(",") == 1 else text)
    except ValueError:
        raise PointsError(f"line {line}: {column} is {text[:40]!r}, not a number") from None
    if not math.isfinite(value):
        raise PointsError(f"line {line}: {column} is {text[:40]!r}: every {column} must be a finite number")
    return value


def _classes(labels: list[tuple[int, str]]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Classes 0/1 and their names: numbers in numeric order (0 then 1, -1 then 1), else names in
    alphabetical order; "1" and "1.0" are one class."""
    for line, label in labels:
        if not label:
            raise PointsError(f"line {line}: the label is empty")
        if len(label) > MAX_LABEL:
            raise PointsError(f"line {line}: the label is {len(label)} characters long: at most {MAX_LABEL}")
    if all(_is_number(label) and math.isfinite(float(label)) for _, label in labels):
        numbers = [float(label) for _, label in labels]
        names = [_number_name(v) for v in numbers]
        ordered = [_number_name(v) for v in sorted(set(numbers))]
    else:
        names = [label for _, label in labels]
        ordered = sorted(set(names))
    if len(ordered) == 1:
        raise PointsError(f"every point has the label {ordered[0]!r}: two classes are needed (e.g. 0 and 1)")
    if len(ordered) > 2:
        shown = ", ".join(repr(n) for n in ordered[:5]) + (", ..." if len(ordered) > 5 else "")
        raise PointsError(f"the label column has {len(ordered)} different labels ({shown}): your own points have "
                          "exactly two classes, as in TensorFlow Playground")
    index = {name: i for i, name in enumerate(ordered)}
    return np.array([index[n] for n in names], dtype=np.int64), tuple(ordered)


def _number_name(v: float) -> str:
    return str(int(v)) if v == int(v) and abs(v) < 1e15 else repr(v)


def _fit_square(xy: np.ndarray) -> tuple[tuple[float, float], float]:
    """The centre and the one factor that put the points into [-1, 1]^2 (none for points already there)."""
    if np.abs(xy).max() <= 1.0:
        return (0.0, 0.0), 1.0
    low, high = xy.min(axis=0), xy.max(axis=0)
    half = float((high - low).max()) / 2
    return (float(low[0] + high[0]) / 2, float(low[1] + high[1]) / 2), half if half > 0 else 1.0


def _fit_range(values: np.ndarray) -> tuple[float, float]:
    if np.abs(values).max() <= 1.0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    half = (high - low) / 2
    return (low + high) / 2, half if half > 0 else 1.0


# ---- drawn points ---------------------------------------------------------------------------------
def drawn_points(points) -> PointSet:
    """Points picked on the plane: (x, y, class) with x, y in [-1, 1] and class 0 (blue) or 1 (orange)."""
    rows = list(points)
    if len(rows) < MIN_POINTS:
        raise PointsError(f"{len(rows)} point{'s' * (len(rows) != 1)} drawn: draw at least {MIN_POINTS}")
    if len(rows) > MAX_POINTS:
        raise PointsError(f"{len(rows):,} points drawn: at most {MAX_POINTS:,} are allowed")
    xy = np.array([(x, y) for x, y, _ in rows], dtype=np.float64)
    if not np.isfinite(xy).all() or np.abs(xy).max() > 1.0:
        raise PointsError("drawn points must lie inside the [-1, 1] square")
    target = np.array([c for _, _, c in rows], dtype=np.int64)
    if not np.isin(target, (0, 1)).all():
        raise PointsError("a drawn point's class must be 0 (blue) or 1 (orange)")
    if len(np.unique(target)) == 1:
        raise PointsError(f"every point drawn is {DRAWN_CLASSES[target[0]]}: draw points of both classes")
    return PointSet(xy.astype(np.float32), target, "classification", DRAWN_CLASSES, DRAWN)


# ---- writing (the saved form is itself a CSV this module reads back) -----------------------------
def to_csv(points: PointSet) -> bytes:
    """The points as a CSV: each float32 coordinate written in the fewest digits that read back to
    the same float32, so saving and reading give back the very same points."""
    def number(v) -> str:
        return np.format_float_positional(np.float32(v), unique=True, trim="-")

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("x", "y", "label" if points.task == "classification" else "value"))
    for (x, y), t in zip(points.xy, points.target):
        writer.writerow((number(x), number(y), points.classes[t] if points.task == "classification" else number(t)))
    return out.getvalue().encode("utf-8")
