"""The pictures the Training page composes with numpy (no page run): the network's mosaic of maps and
its weight lines (pages/_ui/neuron_views.py), the image preview's grid and the plane's data."""
import base64
import time

import numpy as np

from pages._ui.data_preview import sample_grid
from pages._ui.neuron_views import (LUT, TILE_GAP, WIDTHS, Column, colour_tiles, compose, cut_layers_note,
                                    network_columns, network_data, weight_segments)
from pages._ui.plane import PlanePoints, plane_data
from pages._ui.training_charts import BLUE, NEUTRAL, ORANGE
from tests.neuron_frames import network_frame


def _rgb(colour: str) -> list[int]:
    return [int(colour[i:i + 2], 16) for i in (1, 3, 5)]


def test_the_colour_scale_runs_orange_to_grey_white_to_blue():
    """Input: -1, 0, 1 (and beyond the ends, and NaN): TF Playground's colours."""
    assert colour_tiles(np.array([-1.0, 0.0, 1.0])).tolist() == [_rgb(ORANGE), _rgb(NEUTRAL), _rgb(BLUE)]
    assert colour_tiles(np.array([-7.0, 7.0, np.nan])).tolist() == [_rgb(ORANGE), _rgb(BLUE), _rgb(NEUTRAL)]
    assert LUT.shape == (255, 3) and LUT.dtype == np.uint8


def test_maps_are_laid_out_in_columns_centred_on_the_tallest():
    """Input: three columns of 2, 4 and 1 maps of 5 x 5 cells, values +1, -1 and 0. Each map's
    pixels are its colour; the 2-map and 1-map columns are centred beside the 4-map one; white between."""
    size = 5
    columns = [Column("a", np.ones((2, size, size)), ("a1", "a2")), Column("b", -np.ones((4, size, size)), tuple("bbbb")),
               Column("c", np.zeros((1, size, size)), ("c",))]
    mosaic = compose(columns)
    gap = mosaic.lefts[1] - size
    assert mosaic.lefts == [0, size + gap, 2 * (size + gap)]
    pitch = size + TILE_GAP
    assert mosaic.tops[1] == [j * pitch for j in range(4)]
    assert mosaic.tops[0] == [pitch + j * pitch for j in range(2)]  # (4 - 2) / 2 maps down
    assert mosaic.tops[2] == [3 * pitch // 2]
    assert mosaic.image.shape == (4 * pitch - TILE_GAP, 3 * size + 2 * gap, 3)
    for column, left, tops in zip(columns, mosaic.lefts, mosaic.tops):
        for top in tops:
            tile = mosaic.image[top:top + size, left:left + size]
            assert (tile == colour_tiles(column.maps[0, 0, 0])).all()
    assert (mosaic.image[:pitch, :size] == 255).all()               # above the centred 2-map column
    assert (mosaic.image[:, size:mosaic.lefts[1]] == 255).all()     # between columns
    white = mosaic.image[mosaic.tops[1][0] + size:mosaic.tops[1][1], mosaic.lefts[1]:mosaic.lefts[1] + size]
    assert white.shape[0] == TILE_GAP and (white == 255).all()      # between maps


def test_the_planes_top_is_the_maps_top():
    """Input: a frame whose maps grow with y (rows run along y upwards, neuron_y ascending): in the
    picture, the largest y is at the top of each map, as on the boundary's plot."""
    frame = network_frame(layers=1, units=2, grid=9, features=2)
    columns, _ = network_columns(frame)
    x2 = columns[0].maps[1]  # the feature x2 = y, scaled to [-1, 1]
    assert x2[0, 4] == 1.0 and x2[-1, 4] == -1.0


def test_features_and_layers_are_scaled_to_show_their_pattern():
    """Input: features and units of any range: each feature to its own largest magnitude, a
    layer's units together, a classifier's output as 1 - 2 P (blue where P(orange) is low)."""
    frame = network_frame(layers=1, units=3, grid=7, features=3)
    frame["layer1"] = np.stack([np.full((7, 7), 40.0), np.full((7, 7), 10.0), np.zeros((7, 7))]).astype(np.float16)
    frame["output"] = np.full((7, 7), 0.25, dtype=np.float16)
    columns, _ = network_columns(frame)
    assert [float(np.abs(m).max()) for m in columns[0].maps] == [1.0, 1.0, 1.0]
    assert [float(m.max()) for m in columns[1].maps] == [1.0, 0.25, 0.0]
    assert np.allclose(columns[2].maps, 0.5)


def test_weight_lines_join_edges_grouped_by_sign_and_size():
    """Input: two maps into one, weights +2 and -0.2: one blue line in the widest bucket, one orange
    line in the thinnest, each from the right edge of its input's map to the left edge of the output's."""
    size = 5
    columns = [Column("in", np.zeros((2, size, size)), ("i1", "i2")), Column("out", np.zeros((1, size, size)), ("o",))]
    mosaic = compose(columns)
    groups = weight_segments(mosaic, [np.array([[2.0, -0.2]])])
    assert sorted(groups) == [(False, 0), (True, len(WIDTHS) - 1)]
    assert groups[(True, len(WIDTHS) - 1)] == [size, mosaic.tops[0][0] + size / 2, mosaic.lefts[1],
                                               mosaic.tops[1][0] + size / 2]
    assert groups[(False, 0)] == [size, mosaic.tops[0][1] + size / 2, mosaic.lefts[1], mosaic.tops[1][0] + size / 2]


def test_into_a_classifiers_output_a_weight_is_drawn_as_its_pull_towards_blue():
    """Input: the frame's output weights (towards orange, class 1) +1 and -1: drawn -1 and +1; for a
    regression's output, as they are."""
    frame = network_frame(layers=1, units=2, grid=5, features=2)
    frame["weights2"] = np.array([[1.0, -1.0]], dtype=np.float16)
    _, weights = network_columns(frame)
    assert weights[-1].tolist() == [[-1.0, 1.0]]
    assert network_columns(frame, probability=False)[1][-1].tolist() == [[1.0, -1.0]]  # a regression's, as they are


def test_what_is_left_out_is_said():
    frame = network_frame(layers=3, units=32)
    assert cut_layers_note(network_columns(frame)[0]) == "Layers 1-3: showing 8 of 32 units each (the first ones)."
    assert cut_layers_note(network_columns(network_frame(layers=1, units=12))[0]) == \
        "Layer 1: showing 8 of 12 units (the first ones)."
    assert cut_layers_note(network_columns(network_frame(layers=2, units=8))[0]) == ""


def test_an_8_by_32_network_is_one_image_and_a_few_line_groups_built_quickly():
    """Input: the largest network the view promises (8 layers x 32 units, 7 features): one image,
    at most 8 groups of lines holding every shown weight, built in well under the 0.25 s between polls."""
    frame = network_frame(layers=8, units=32)
    network_data(frame)  # (imports, first use)
    started = time.perf_counter()
    data = network_data(frame, step=3)
    took = time.perf_counter() - started
    assert data["image"].startswith("data:image/png;base64,") and 1 <= len(data["lines"]) <= 2 * len(WIDTHS)
    segments = sum(len(base64.b64decode(group["xy"])) // 16 for group in data["lines"])  # 4 float32 each
    assert segments == 7 * 8 + 7 * 8 * 8 + 8  # features -> 1, 1 -> 2 ... 7 -> 8, 8 -> output
    assert data["step"] == 3 and (data["w"], data["h"]) == compose(network_columns(frame)[0]).image.shape[1::-1]
    assert took < 0.25, took


def test_the_image_preview_grid_has_a_row_per_class():
    """Input: class 0 with one 2x2 image (all 1.0), class 1 with three (0.5), 3 per row: class 0's
    row holds one image then white; class 1's three greys."""
    rows = [np.ones((1, 1, 2, 2), np.float32), np.full((3, 1, 2, 2), 0.5, np.float32)]
    grid = sample_grid(rows, per_class=3, gap=1)
    assert grid.shape == (2 * 3, 3 * 3, 3)
    assert (grid[0:2, 0:2] == 255).all() and (grid[0:2, 3:] == 255).all()
    assert (grid[3:5, 0:2] == 127).all() and (grid[3:5, 3:5] == 127).all() and (grid[3:5, 6:8] == 127).all()


def test_the_plane_shares_the_boundarys_axes_and_discretises():
    """Input: 3 training points and a 2 x 2 surface over [0, 1]: the plane ends half a cell past the
    cells' centres; the surface is sent as 0..255 over P's 0..1, discretised as 0 or 255."""
    points = PlanePoints(np.array([[0, 0], [1, 1], [0, 1]], np.float32), np.array([0, 1, 1]),
                         np.zeros((0, 2), np.float32), np.zeros(0, np.int64))
    surface = (np.array([0.0, 1.0]), np.array([0.0, 1.0]), np.array([[0.2, 0.6], [0.4, 0.9]]))
    data = plane_data(points, surface, show_test=False, step=8)
    assert data["extent"] == [-0.5, 1.5, -0.5, 1.5] and data["step"] == 8 and data["test"] is None
    assert np.frombuffer(base64.b64decode(data["surface"]["q"]), np.uint8).tolist() == [51, 153, 102, 230]
    assert np.frombuffer(base64.b64decode(data["train"]["xy"]), np.float32).tolist() == [0, 0, 1, 1, 0, 1]
    assert np.frombuffer(base64.b64decode(data["train"]["v"]), np.float32).tolist() == [0, 1, 1]
    hard = plane_data(points, surface, discretise=True)
    assert np.frombuffer(base64.b64decode(hard["surface"]["q"]), np.uint8).tolist() == [0, 255, 0, 255]
    assert np.allclose(plane_data(points)["extent"], [-0.2, 1.2, -0.2, 1.2])  # the points and MARGIN each side


def test_a_regression_sets_values_colour_the_plane_from_orange_to_blue():
    """Input: values -2..3 (a regression set): the scale runs orange (negative) to blue (positive),
    symmetric about 0 over the largest magnitude; no classes."""
    points = PlanePoints(np.zeros((2, 2), np.float32), np.array([-2.0, 3.0], np.float32),
                         np.zeros((1, 2), np.float32), np.array([1.0], np.float32))
    data = plane_data(points)
    assert data["range"] == [-3.0, 3.0] and data["scale"] == [ORANGE, NEUTRAL, BLUE]
    assert data["classes"] is None and data["label"] == "value"
