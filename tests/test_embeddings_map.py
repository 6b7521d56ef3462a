"""The Embeddings map's choices, computed without a browser (engine/embeddings/mapview.py) and the
deck.gl spec built from them (pages/_ui/embeddings_deck.py): labels by camera distance, isolate
sets, quantile colours, palettes, cluster legends, the camera, bookmarks."""
import json

import numpy as np
import pytest
import torch

from engine.embeddings import mapview
from pages._ui import embeddings_deck as deck


def test_labels_near_the_camera_target_plus_the_ones_always_shown():
    xyz = np.array([[0, 0, 0], [1, 0, 0], [5, 0, 0], [9, 0, 0], [10, 0, 0]], dtype=np.float32)
    assert mapview.labels_near(xyz, [10, 0, 0], 2) == [3, 4]
    assert mapview.labels_near(xyz, [0, 0, 0], 2, always=[4]) == [0, 1, 4]
    assert mapview.labels_near(xyz, [0, 0, 0], 0) == []
    assert mapview.labels_near(xyz, [0, 0, 0], 99) == [0, 1, 2, 3, 4]


def test_label_tiers_grow_tenfold():
    assert mapview.label_tiers(40_000) == [(0, 200), (200, 2200), (2200, 22200), (22200, 40000)]
    assert mapview.label_tiers(100) == [(0, 100)]
    assert mapview.label_tiers(0) == []


def test_isolated_rows_join_search_neighbours_and_selection():
    assert mapview.isolated_rows([7], [3, 9], []) == [3, 7, 9]
    assert mapview.isolated_rows([], [], [5, 1, 5]) == [1, 5]
    assert mapview.isolated_rows([2], [1], [1, 8]) == [1, 2, 8]
    assert mapview.isolated_rows([], [], []) == []


def test_quantile_bins_spread_skewed_values_into_equal_counts():
    values = np.concatenate([np.zeros(50), np.arange(1, 51) ** 3])  # half the values tied at 0
    bins, ranges = mapview.quantile_bins(values, 4)
    assert np.bincount(bins).tolist() == [50, 25, 25]  # the tie is one bin: 3 bins, not 4
    assert ranges == [(0.0, 0.0), (1.0, 15625.0), (17576.0, 125000.0)]
    bins, names = mapview.rank_bins(1000, 4)
    assert np.bincount(bins).tolist() == [250, 250, 250, 250]
    assert names == ["ranks 1-250", "ranks 251-500", "ranks 501-750", "ranks 751-1,000"]
    assert mapview.rank_bins(2, 8)[1] == ["ranks 1-1", "ranks 2-2"]


def test_palettes_are_colour_blind_safe_sets_and_scales_run_dark_to_light():
    assert mapview.category_palette(3) == mapview.OKABE_ITO[:3]
    assert mapview.category_palette(10) == mapview.TABLEAU_10
    assert mapview.category_palette(21)[:20] == mapview.TABLEAU_20
    scale = mapview.scale_colours(5)
    assert scale[0] == mapview.CIVIDIS[0] and scale[-1] == mapview.CIVIDIS[-1] and scale[2] == mapview.CIVIDIS[4]
    assert [sum(mapview.hex_rgb(c)) for c in scale] == sorted(sum(mapview.hex_rgb(c)) for c in scale)


def test_cluster_legend_names_each_cluster_by_its_most_frequent_words():
    words = ["the", "of", "king", "queen", "and", "prince"]
    labels = np.array([0, 0, 1, 1, 0, 1])
    assert mapview.cluster_legend(labels, words, top=2) == ["the, of", "king, queen"]
    assert mapview.cluster_legend(np.array([0, 2]), ["a", "b"]) == ["a", "cluster 1 (empty)", "b"]


def test_word_list_and_metadata_categories():
    assert mapview.list_members(["a", "b", "c"], ["c", "a", "zz"]).tolist() == [1, 0, 1]
    codes, names = mapview.metadata_categories(["x", "y", "x", "z", "x", "y"], top=2)
    assert names == ["x", "y", "other"] and codes.tolist() == [0, 1, 0, 2, 0, 1]


def test_display_coords_fill_the_cube_and_2d_maps_get_z_zero():
    xyz = mapview.display_coords(np.array([[0, 0], [4, 2], [2, 1]], dtype=np.float32))
    assert xyz.shape == (3, 3) and xyz.dtype == np.float32
    assert xyz.tolist() == [[-100.0, -50.0, 0.0], [100.0, 50.0, 0.0], [0.0, 0.0, 0.0]]


def test_frame_looks_at_the_rows_and_zooms_to_fit_them():
    xyz = mapview.display_coords(np.array([[0, 0, 0], [10, 0, 0], [10, 1, 0], [0, 0, 10]], dtype=np.float32))
    whole = mapview.frame(xyz, pixels=600, fill=0.5)
    assert whole.target == [0.0, 0.0, 0.0]
    near = mapview.frame(xyz, [1, 2], pixels=600, fill=0.5)
    assert near.target == [100.0, 0.0, -100.0]
    assert near.zoom > whole.zoom
    # 2 ** zoom pixels per unit: the two rows, 10 units from their centre, span fill * pixels
    assert 2 ** near.zoom * 2 * 10 == pytest.approx(0.5 * 600, rel=1e-3)
    assert mapview.frame(xyz, [1], pixels=600, fill=0.5).zoom == pytest.approx(near.zoom + 1, abs=1e-3)  # one row: SPAN / 20


def test_bookmark_round_trips_through_the_url_and_a_file():
    view = mapview.Bookmark(top=5000, method="umap", q="frog", k=12, colour="rank", selection=["a", "b"],
                            camera={"target": [1.0, 2.0, 3.0], "zoom": 2.5, "rotationOrbit": 10, "rotationX": 5},
                            params={"n_neighbors": 15, "min_dist": 0.1})
    query = view.to_query()
    assert query["top"] == "5000" and query["q"] == "frog" and "dims" not in query  # defaults left out
    assert json.loads(query["selection"]) == ["a", "b"]
    assert mapview.Bookmark.from_query(query) == view
    assert mapview.Bookmark.from_json(view.to_json()) == view
    # a hand-edited link opens the default view rather than failing
    broken = mapview.Bookmark.from_query({"top": "many", "camera": "{oops", "q": "king"})
    assert broken == mapview.Bookmark(q="king")
    with pytest.raises(ValueError):
        mapview.Bookmark.from_json("[1, 2]")


def _scene(**kw):
    xyz = mapview.display_coords(np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32))
    words = [f"w{i}" for i in range(500)]
    groups = [deck.Group("a", "#E69F00", np.arange(0, 250)), deck.Group("b", "#56B4E9", np.arange(250, 500))]
    return deck.Scene(xyz, words, groups, **kw)


def test_deck_spec_draws_every_point_once_and_labels_by_tier():
    spec, picks = deck.build(_scene(), cache=False)
    parsed = json.loads(spec.to_json())
    layers = {layer["id"]: layer for layer in parsed["layers"]}
    assert [layers[g]["@@type"] for g in ("g0", "g1")] == ["ScatterplotLayer", "ScatterplotLayer"]
    assert len(layers["g0"]["data"]) + len(layers["g1"]["data"]) == 500
    assert layers["g1"]["data"][0][3] == "w250" and layers["g1"]["getFillColor"][:3] == [0x56, 0xB4, 0xE9]
    assert [len(layers[t]["data"]) for t in ("tier0", "tier1")] == [200, 300]
    assert layers["tier0"]["data"][0]["t"] == "w0"
    assert "faded" not in layers and picks["g1"].tolist() == list(range(250, 500))
    assert parsed["views"][0]["@@type"] == "OrbitView"


def test_deck_spec_isolates_a_search_over_a_faded_map():
    spec, picks = deck.build(_scene(searched=[10], emphasised=[260, 20]), cache=False)
    layers = {layer["id"]: layer for layer in json.loads(spec.to_json())["layers"]}
    assert len(layers["faded"]["data"]) == 500                        # the whole map, faded
    assert [p[3] for p in layers["g0"]["data"]] == ["w10", "w20"]       # the isolated, in their colours
    assert [p[3] for p in layers["g1"]["data"]] == ["w260"]
    assert sorted(r["t"] for r in layers["emphasised"]["data"]) == ["w20", "w260"]
    assert layers["searched"]["data"][0]["t"] == "w10"
    assert not any(i.startswith("tier") for i in layers)               # no other labels while isolated
    scene = _scene()
    camera = json.loads(spec.to_json())["initialViewState"]  # flown to the isolated points
    assert camera["target"] == mapview.frame(scene.xyz, [10, 20, 260]).target != mapview.frame(scene.xyz).target


def test_words_mode_labels_every_point_and_clicks_map_back_to_rows():
    spec, picks = deck.build(_scene(words_mode=True), cache=False)
    layers = {layer["id"]: layer for layer in json.loads(spec.to_json())["layers"]}
    assert sum(len(layers[i]["data"]) for i in layers if i.startswith("tier")) == 500
    many = deck.Scene(np.zeros((300_000, 3), dtype=np.float32), [""] * 300_000, [], words_mode=True)
    assert deck.label_rows(many) == [(0, 200), (200, 2200), (2200, 22200), (22200, 300_000)]  # every word

    class Event:
        class selection:
            indices = {"g1": [0, 3], "gone": [1]}
    assert deck.picked_rows(Event, picks) == [250, 253]
    assert deck.picked_rows(None, picks) == []


def test_exports_a_png_of_the_view_and_an_html_file_that_needs_no_network():
    from pages._ui import embeddings_bookmark as bookmark
    from pages._ui import embeddings_plot as plots
    scene = _scene()
    camera = mapview.frame(scene.xyz, [10, 20])
    image = bookmark.png(scene.xyz, scene.words, scene.groups, [10], [20], [10, 20], camera, pixels=400)
    assert image[:8] == b"\x89PNG\r\n\x1a\n" and len(image) > 5000
    # seen from the front (no orbit, no tilt) the screen is the x, y plane around the target
    flat = mapview.Camera([1.0, 2.0, 3.0], 0.0, 0.0, 0.0)
    assert bookmark.screen_xy(np.array([[2.0, 5.0, -7.0]]), flat).tolist() == [[1.0, 3.0]]
    fig = plots.cloud_figure(scene.xyz[:50], scene.words[:50], np.zeros(50, dtype=int), "category", ["all"])
    html = bookmark.standalone_html(fig).decode()
    assert "<script src=" not in html and "Plotly.newPlot" in html and len(html) > 3_000_000  # plotly.js inlined


def test_a_whole_map_is_framed_without_its_outliers():
    rng = np.random.default_rng(1)
    cloud = np.vstack([rng.normal(size=(1000, 3)), [[60, 0, 0]]]).astype(np.float32)  # one far outlier
    xyz = mapview.display_coords(cloud)
    framed = mapview.frame(xyz, pixels=600)
    everything = mapview.frame(xyz, list(range(len(xyz))), pixels=600)  # rows given: all of them fit
    assert framed.zoom > everything.zoom + 2


def test_a_layout_without_isolation_keeps_the_whole_map_in_view_and_labels_the_word():
    scene = _scene(searched=[10], isolate=False)
    spec, _ = deck.build(scene, cache=False)
    parsed = json.loads(spec.to_json())
    layers = {layer["id"]: layer for layer in parsed["layers"]}
    assert "faded" not in layers and len(layers["g0"]["data"]) == 250 and layers["searched"]["data"][0]["t"] == "w10"
    assert parsed["initialViewState"]["target"] == mapview.frame(scene.xyz).target


def test_a_word_off_the_map_is_placed_at_its_nearest_projected_words_weighted_by_cosine():
    from engine.embeddings.placement import place
    from engine.embeddings.vectors import WordVectors
    vectors = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [3, 0, 0], [-1, 0, 0]], dtype=np.float32)
    wv = WordVectors("t", ["a", "b", "c", "ab", "a3", "anti"], vectors)
    coords = np.array([[0, 0], [10, 0], [0, 10]], dtype=np.float32)  # only a, b, c are projected
    cpu = torch.device("cpu")
    placed = place(wv, [3, 4], coords, k=2, device=cpu)
    np.testing.assert_allclose(placed.coords, [[5, 0], [0, 0]], atol=1e-5)  # ab: halfway; a3: on a
    assert placed.anchors[0].tolist() in ([0, 1], [1, 0]) and placed.anchors[1, 0] == 0
    np.testing.assert_allclose(placed.weights, [[0.5, 0.5], [1.0, 0.0]], atol=1e-6)
    # nothing alike (cosine <= 0 to all): the plain mean of its k nearest, inside the map
    anti = place(wv, [5], coords, k=3, device=cpu)
    np.testing.assert_allclose(anti.coords, [[10 / 3, 10 / 3]], atol=1e-5)
    # a projected word is placed by the others, not by itself
    assert 0 not in place(wv, [0], coords, k=2, device=cpu).anchors[0].tolist()
    with pytest.raises(ValueError, match="nowhere to place"):
        place(wv, [3], coords[:0], device=cpu)


def test_glove_frog_off_the_default_map_lands_among_its_mapped_neighbours():
    from engine.embeddings.placement import place
    from engine.embeddings.vectors import load_glove50
    wv = load_glove50()
    frog = wv.index["frog"]
    assert frog >= 10_000
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(10_000, 3)).astype(np.float32)
    placed = place(wv, [frog], coords, k=10, device=torch.device("cpu"))
    anchors = [wv.words[r] for r in placed.anchors[0]]
    assert anchors[:3] == ["snake", "cat", "mouse"] and max(placed.anchors[0]) < 10_000
    np.testing.assert_allclose(placed.coords[0], placed.weights[0] @ coords[placed.anchors[0]], rtol=1e-5)
