"""The pointing game: its scores on hand-made maps, and on a small CNN trained on shapes here."""
import numpy as np
import pytest
import torch

from engine.saliency.pointing import (CENTRE, RANDOM, baselines, centre_maps, energy_shares, hits, pointing_game,
                                      random_maps, score)


def square_mask(n=1, size=8, top=2, left=2, side=3):
    masks = np.zeros((n, size, size), bool)
    masks[:, top:top + side, left:left + side] = True
    return masks


def test_hit_when_the_maximum_is_on_the_mask_and_miss_when_it_is_not():
    masks = square_mask(2)
    maps = np.zeros((2, 8, 8))
    maps[0, 3, 3] = 5.0   # inside
    maps[1, 7, 7] = 5.0   # outside
    maps[1, 3, 3] = 4.0   # inside, but not the maximum
    assert hits(maps, masks).tolist() == [1.0, 0.0]


def test_ties_count_the_share_of_maxima_on_the_mask_and_a_constant_map_scores_the_area():
    masks = square_mask(1)
    maps = np.zeros((1, 8, 8))
    maps[0, 3, 3] = maps[0, 0, 0] = maps[0, 7, 0] = maps[0, 4, 4] = 1.0  # two maxima in, two out
    assert hits(maps, masks).tolist() == [0.5]
    assert hits(np.ones((1, 8, 8)), masks).tolist() == [9 / 64]


def test_display_modes_decide_what_points():
    masks = square_mask(1)
    maps = np.zeros((1, 8, 8))
    maps[0, 3, 3] = -9.0  # strongest evidence against, on the object
    maps[0, 7, 7] = 1.0   # weak evidence for, off it
    assert hits(maps, masks, "signed").tolist() == [0.0]   # a signed map points with its positive maximum
    assert hits(maps, masks, "abs").tolist() == [1.0]      # a gradient map with its magnitude


def test_tolerance_grows_the_mask():
    masks = square_mask(1)  # rows and columns 2-4
    maps = np.zeros((1, 8, 8))
    maps[0, 6, 3] = 1.0     # two rows below the square
    assert [hits(maps, masks, tolerance=t)[0] for t in (0, 1, 2)] == [0.0, 0.0, 1.0]


def test_energy_share_of_the_positive_part_and_nan_without_any():
    masks = square_mask(3)
    maps = np.zeros((3, 8, 8))
    maps[0, 3, 3], maps[0, 7, 7] = 3.0, 1.0     # 3 of 4 inside
    maps[1, 3, 3], maps[1, 7, 7] = 2.0, -10.0   # the negative part does not count
    maps[2, 3, 3] = -1.0                        # nothing positive
    shares = energy_shares(maps, masks, "signed")
    assert shares[:2].tolist() == [0.75, 1.0] and np.isnan(shares[2])
    assert energy_shares(maps[1:2], masks[:1], "abs").tolist() == [2 / 12]


def test_score_averages_and_counts_empty_maps():
    masks = square_mask(2)
    maps = np.zeros((2, 8, 8))
    maps[0, 3, 3] = 1.0
    result = score("gradcam", maps, masks)
    assert (result.hit_rate, result.energy_share, result.images, result.empty_maps) == (
        pytest.approx((1.0 + 9 / 64) / 2), 1.0, 2, 1)
    assert result.title == "Grad-CAM"


def test_baselines_random_hits_as_often_as_the_mask_covers_and_centre_hits_central_objects():
    masks = square_mask(4000, size=10, top=0, left=0, side=4)  # a corner, 16 % of the image: the centre misses it
    random, centre = baselines(masks, seed=1)
    assert random.method == RANDOM and centre.method == CENTRE
    assert random.hit_rate == pytest.approx(0.16, abs=0.02)
    assert random.energy_share == pytest.approx(0.16, abs=0.01)
    assert centre.hit_rate == 0.0
    central = square_mask(1, size=10, top=3, left=3, side=4)
    assert hits(centre_maps((1, 10, 10)), central).tolist() == [1.0]
    assert np.array_equal(random_maps((2, 3, 3), 5), random_maps((2, 3, 3), 5))


@pytest.fixture(scope="module")
def shapes_cnn():
    """A small CNN trained here on clean 32 px shapes for a few seconds (about 40 % accuracy after
    these 5 epochs: enough to look at the object)."""
    from engine.core.registry import Shape, get_spec
    from engine.data import load_dataset
    import engine.models  # noqa: F401

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    data = load_dataset("shapes", {"n_train": 2000, "n_val": 200, "noise": 0.0, "clutter": 0.0})
    spec = get_spec("cnn")
    values = {p.name: p.default for p in spec.params} | {"channels": 16, "dense": 64, "blocks": 3, "batchnorm": True}
    model = spec.build(values, Shape((3, 32, 32), 10, "image"))
    optimiser = torch.optim.Adam(model.parameters(), 2e-3)
    try:
        for _ in range(5):
            order = torch.randperm(len(data.x_train))
            for start in range(0, len(order), 64):
                batch = order[start:start + 64]
                loss = torch.nn.functional.cross_entropy(model(data.x_train[batch]), data.y_train[batch])
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval(), data


def test_a_trained_cnns_gradcam_hits_the_object_far_more_often_than_a_random_map(shapes_cnn):
    from engine.data import shapes

    model, data = shapes_cnn
    masks = shapes.masks(data.options).numpy()
    steps = []
    results = pointing_game(model, data.x_val, data.y_val, masks, ["gradcam", "saliency"],
                            progress=lambda done, total: steps.append((done, total)))
    gradcam, gradient, random, centre = results
    assert [r.method for r in results] == ["gradcam", "saliency", RANDOM, CENTRE]
    assert steps == [(i, 8) for i in range(1, 9)]  # four batches of 50 per method
    chance = masks.mean()  # what a map that knows nothing hits, in expectation: the share the objects cover
    assert chance < 0.2 and random.hit_rate == pytest.approx(chance, abs=0.08)
    # Measured: Grad-CAM 0.48, gradient 0.76, chance 0.16 (a random map's hit rate and energy share).
    assert gradcam.hit_rate > 2 * chance and gradcam.hit_rate > chance + 0.2, results
    assert gradient.hit_rate > 3 * chance, results
    assert gradcam.energy_share > chance + 0.03, results
