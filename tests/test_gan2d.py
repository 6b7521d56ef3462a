"""Engine tests of the GAN on 2D points (GAN Lab's view): the target distributions, the KL / JS
estimator, mode counting, the model and its objective, the live frame, a Trainer run on the ring
and hand stepping (GanSession) of the 2D GAN."""
import math

import numpy as np
import pytest
import torch

from engine.core.device import seed_everything
from engine.core.jobs import RunControl
from engine.core.params import ParamError
from engine.core.registry import validate
from engine.core.runs import RunStore
from engine.core.trainer import TrainingJob, build_model
from engine.data import get_info, load_dataset
from engine.data.distributions import GRID_CENTRES, make_distribution, modes
from engine.latent import gan_session
from engine.latent.gan_session import GanSession
from engine.objectives import gan2d_measures as measures
from engine.objectives.gan import d_scores
from engine.objectives.gan2d import FAKES, FIELD_GRID, GAN2D_OBJECTIVE, MANIFOLD_LINES, MANIFOLD_POINTS, Z_RANGE

pytestmark = pytest.mark.usefixtures("one_thread")  # toy nets: one torch thread (see tests/conftest.py)

RING = {"n_samples": 2000, "noise": 0.05, "train_fraction": 0.8, "seed": 0}
RING_CENTRES = np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], axis=1)


# ---- the target distributions --------------------------------------------------------------------
def test_the_ring_has_8_equal_modes_on_the_unit_circle_for_seed_0():
    """Input: ring, 2000 points, noise 0.05, seed 0."""
    x, y = make_distribution("ring", RING)
    assert x.shape == (2000, 2) and x.dtype == np.float32 and y.dtype == np.int64
    assert np.bincount(y).tolist() == [250] * 8
    for k in range(8):
        mine = x[y == k]
        np.testing.assert_allclose(mine.mean(0), RING_CENTRES[k], atol=0.01)
        assert np.linalg.norm(mine - RING_CENTRES[k], axis=1).max() < 5 * 0.05
        assert mine.std(0) == pytest.approx([0.05, 0.05], abs=0.006)
    again, _ = make_distribution("ring", RING)
    other, _ = make_distribution("ring", {**RING, "seed": 1})
    np.testing.assert_array_equal(x, again)
    assert not np.allclose(x, other)


def test_grid_line_and_moons_put_every_point_near_its_own_mode():
    """Input: grid (25 modes), line (1), moons (2); 1000 points each, noise 0.05, seed 3."""
    options = {**RING, "n_samples": 1000, "seed": 3}
    for name, count in (("grid", 25), ("line", 1), ("moons", 2)):
        x, y = make_distribution(name, options)
        true = modes(name, options)
        assert len(true) == count == len(get_info(name).classes) and true.sigma == 0.05
        assert sorted(set(y.tolist())) == list(range(count))
        own = np.array([measures.distance_to_polyline(x[i:i + 1], true.shapes[y[i]])[0] for i in range(len(x))])
        assert own.max() < 5 * 0.05, name
    assert set(np.round(modes("grid", options).shapes[7][0], 6)) <= set(np.round(GRID_CENTRES, 6))


def test_distributions_are_their_own_kind_the_2d_gan_takes_them_and_point_sets_classifiers_do_not():
    """Input: the ring and the spiral with the MLP classifier and the 2D GAN."""
    assert get_info("ring").kind == "distribution" and get_info("spiral").kind == "points"
    data = load_dataset("ring")
    assert (len(data.x_train), len(data.x_val)) == (8000, 2000)  # the defaults: 10,000 points, 80 % to train
    with pytest.raises(ParamError, match="trains on points or image data"):
        validate("mlp", "ring")
    assert validate("gan2d", "ring").model == "gan2d" and validate("gan2d", "spiral").dataset == "spiral"
    with pytest.raises(ParamError, match="trains on distribution or points data"):
        validate("gan2d", "digits")
    assert modes("spiral", {}) is None  # a point set's labels are not modes


# ---- KL and JS -----------------------------------------------------------------------------------
def test_kl_and_js_are_0_for_identical_samples_and_js_is_ln2_for_disjoint_ones():
    """Input: 2000 ring points against themselves, against the same points moved by (5, 5), and against
    a second ring sample (seed 1)."""
    x, _ = make_distribution("ring", RING)
    plane = measures.plane_of(x)
    assert measures.divergences(x, x, plane) == {"kl": 0.0, "js": 0.0}
    far = measures.divergences(x, x + 5, plane)
    assert far["js"] == pytest.approx(math.log(2), abs=0.005) and far["kl"] > 8
    other, _ = make_distribution("ring", {**RING, "seed": 1})
    near = measures.divergences(x, other, plane)
    assert near["js"] < 0.02 and near["kl"] < 0.1


def test_js_grows_as_fakes_drop_modes():
    """Input: 2000 ring points against the points of its first 8, 4, 2 and 1 modes."""
    x, y = make_distribution("ring", RING)
    plane = measures.plane_of(x)
    js = [measures.divergences(x, x[y < k], plane)["js"] for k in (8, 4, 2, 1)]
    assert js[0] == 0.0 and js[0] < js[1] < js[2] < js[3] < math.log(2)


def test_the_plane_is_the_real_points_box_made_square_and_larger():
    """Input: points spanning x in [0, 2], y in [0, 1]."""
    plane = measures.plane_of(np.array([[0.0, 0.0], [2.0, 1.0]]))
    assert (plane.x0, plane.x1) == pytest.approx((-0.25, 2.25))
    assert (plane.y0, plane.y1) == pytest.approx((-0.75, 1.75))


# ---- mode counting -------------------------------------------------------------------------------
def test_fakes_on_3_of_8_ring_modes_are_named_mode_collapse():
    """Input: 300 fakes, 100 exactly on each of ring modes 1, 3 and 6 (indices 0, 2, 5)."""
    fakes = np.repeat(RING_CENTRES[[0, 2, 5]], 100, axis=0)
    cover = measures.mode_coverage(fakes, modes("ring", RING))
    assert cover.counts.tolist() == [100, 0, 100, 0, 0, 100, 0, 0]
    assert cover.n_covered == 3 and cover.quality == 1.0 and cover.collapsed
    assert measures.coverage_sentence(cover.n_covered, cover.n_modes, cover.quality) == \
        "mode collapse: the generator covers 3 of 8 modes"


def test_a_mode_needs_a_fifth_of_its_fair_share_and_fakes_must_be_within_3_sigma():
    """Input: 800 fakes: 40 on mode 1 (fair share 100, a fifth is 20: covered), 10 on mode 2 (not),
    750 at 4 sigma (0.2) outside mode 3 (near no mode)."""
    outside = RING_CENTRES[2] * (1 + 4 * 0.05)
    fakes = np.concatenate([np.repeat(RING_CENTRES[[0]], 40, 0), np.repeat(RING_CENTRES[[1]], 10, 0),
                            np.repeat(outside[None], 750, 0)])
    cover = measures.mode_coverage(fakes, modes("ring", RING))
    assert cover.counts.tolist() == [40, 10, 0, 0, 0, 0, 0, 0] and cover.covered.tolist()[:3] == [True, False, False]
    assert cover.quality == pytest.approx(50 / 800) and not cover.collapsed  # bad points, not collapse
    assert measures.coverage_sentence(1, 8, cover.quality) == \
        "the generator covers 1 of 8 modes; 94% of its points are near no mode yet"


def test_real_points_cover_every_mode_of_every_distribution():
    """Input: a second sample (seed 5, 1000 points) of each distribution as the fakes."""
    for name in ("ring", "grid", "line", "moons"):
        options = {**RING, "n_samples": 1000, "seed": 5}
        fakes, _ = make_distribution(name, options)
        cover = measures.mode_coverage(fakes, modes(name, options))
        assert cover.n_covered == cover.n_modes and cover.quality > 0.95, name
    assert measures.coverage_sentence(8, 8, 0.99) == "the generator covers all 8 modes"


def test_fakes_along_one_moon_cover_one_of_two():
    """Input: 200 fakes on the upper moon's curve itself."""
    upper = modes("moons", RING).shapes[0]
    cover = measures.mode_coverage(upper[np.arange(200) % len(upper)], modes("moons", RING))
    assert cover.counts.tolist() == [200, 0] and cover.collapsed


# ---- the model and its objective -----------------------------------------------------------------
def test_points_are_never_rescaled_like_images():
    """Input: a batch of 32 ring points; D's loss in the objective's first phase against D on the
    points as they are (the same seed draws the same fakes)."""
    config = validate("gan2d", "ring", {"batch_size": 32})
    data = load_dataset("ring", RING)
    model = build_model(config, data)
    real = data.x_train[:32]
    torch.manual_seed(7)
    d_loss = next(GAN2D_OBJECTIVE.phases(model, real, data.y_train[:32])).loss
    torch.manual_seed(7)
    fake = model.generator(torch.randn(32, model.latent))
    expected = d_scores(model.discriminator(real), model.discriminator(fake))["d_loss"]
    assert d_loss.item() == pytest.approx(expected.item())


def test_the_live_frame_draws_real_fake_manifold_and_d_s_field():
    """Input: fresh 2D GANs (latent 2, 1 and 3) on the ring (2000 points), and latent 2 on the spiral."""
    data = load_dataset("ring", RING)
    seed_everything(0)
    model = build_model(validate("gan2d", "ring"), data).eval()
    with torch.no_grad():
        frame = GAN2D_OBJECTIVE.live_frame(model, data)
    assert frame["real"].shape == (1000, 2) and frame["fake"].shape == (FAKES, 2)
    lines = 2 * MANIFOLD_LINES
    assert frame["manifold"].shape == (lines, MANIFOLD_POINTS, 2) and frame["manifold"].dtype == np.float32
    assert frame["field_x"].shape == frame["field_y"].shape == (FIELD_GRID,)
    assert frame["field_p"].shape == (FIELD_GRID, FIELD_GRID) and frame["field_p"].dtype == np.float16
    assert 0 <= frame["field_p"].min() and frame["field_p"].max() <= 1
    plane = frame["plane"]
    assert plane.tolist() == pytest.approx([frame["field_x"][0], frame["field_x"][-1],
                                            frame["field_y"][0], frame["field_y"][-1]])
    assert frame["coverage"].shape == (3,) and frame["coverage"][1] == 8
    assert frame["divergence"].shape == (2,)
    # The manifold's first line is G along z0 from -2 to 2 at z1 = -2.
    z = torch.stack([torch.linspace(-Z_RANGE, Z_RANGE, MANIFOLD_POINTS), torch.full((MANIFOLD_POINTS,), -Z_RANGE)], 1)
    with torch.no_grad():
        np.testing.assert_allclose(frame["manifold"][0], model.generator(z).numpy(), atol=1e-5)
    # D's field at a cell is D's probability there (rows are y).
    i, j = 5, 40
    point = torch.tensor([[frame["field_x"][j], frame["field_y"][i]]])
    with torch.no_grad():
        assert float(frame["field_p"][i, j]) == pytest.approx(torch.sigmoid(model.discriminator(point)).item(), abs=1e-3)

    for latent, expected in ((1, (1, MANIFOLD_POINTS, 2)), (3, (lines, MANIFOLD_POINTS, 2))):
        small = build_model(validate("gan2d", "ring", {"latent": latent}), data).eval()
        with torch.no_grad():
            assert GAN2D_OBJECTIVE.live_frame(small, data)["manifold"].shape == expected
    spiral = load_dataset("spiral")
    with torch.no_grad():
        frame = GAN2D_OBJECTIVE.live_frame(build_model(validate("gan2d", "spiral"), spiral).eval(), spiral)
    assert "coverage" not in frame and frame["real"].shape == (250, 2)


def test_evaluate_scores_fresh_weights_as_far_from_the_ring():
    """Input: a fresh 2D GAN on the ring (2000 points): its fakes sit in a small blob."""
    data = load_dataset("ring", RING)
    seed_everything(0)
    scores = GAN2D_OBJECTIVE.evaluate(build_model(validate("gan2d", "ring"), data), data, torch.device("cpu"))
    assert {"val_loss", "val_d_loss", "val_g_loss", "val_d_real_acc", "val_d_fake_acc", "val_kl", "val_js",
            "val_modes_covered", "val_modes", "val_quality", "val_mode_collapse"} == set(scores)
    assert scores["val_modes"] == 8 and scores["val_modes_covered"] <= 1 and scores["val_js"] > 0.5
    spiral = load_dataset("spiral")
    scores = GAN2D_OBJECTIVE.evaluate(build_model(validate("gan2d", "spiral"), spiral), spiral, torch.device("cpu"))
    assert "val_modes" not in scores and scores["val_js"] > 0


def test_a_short_trainer_run_spreads_the_generator_over_the_ring(tmp_path):
    """Input: the 2D GAN with its defaults on the ring (10,000 points), 3 epochs of 125 steps, seed 0:
    the fresh weights cover no mode; the trained ones cover most, with a much smaller JS and KL."""
    config = validate("gan2d", "ring", {"epochs": 3})
    data = load_dataset("ring")
    seed_everything(0)
    fresh = GAN2D_OBJECTIVE.evaluate(build_model(config, data), data, torch.device("cpu"))
    store = RunStore(tmp_path / "runs")
    job = TrainingJob(config, store, device="cpu")
    assert job.run() == "completed", job.progress.message
    final = job.progress.final
    assert fresh["val_modes_covered"] == 0 and final["val_modes_covered"] >= 6
    assert final["val_js"] < fresh["val_js"] / 2 and final["val_kl"] < fresh["val_kl"] / 2
    wide = store.metrics_wide(job.run_id)
    assert wide.val_modes_covered.dropna().size == 3 and wide.train_d_loss.dropna().size == 3
    step, frame = store.frame(job.run_id)
    assert step == 375 and frame["fake"].shape == (FAKES, 2) and frame["coverage"][0] == final["val_modes_covered"]


# ---- hand stepping -------------------------------------------------------------------------------
def test_hand_stepping_the_2d_gan_changes_only_the_net_it_steps_and_draws_a_frame_per_click(tmp_path):
    """Input: GanSession of the 2D GAN on the ring (2000 points), in this process, commands queued
    first: 3 D steps; then 2 G steps; then a D and a G step; then finished."""
    store = RunStore(tmp_path / "runs")
    config = validate("gan2d", "ring", {"batch_size": 32}, RING)
    seed_everything(config.training["seed"])  # as the session does: the same initial weights
    fresh = build_model(config, load_dataset("ring", RING)).state_dict()

    def hand_trained(*commands):
        session = GanSession(config, store, device="cpu")
        frames = []
        original = store.save_frame
        store.save_frame = lambda run_id, step, arrays: (frames.append(step), original(run_id, step, arrays))
        for what, n in commands:
            RunControl(store, session.run_id).step(n, what=what)
        gan_session.finish_gan_session(store, session.run_id)
        assert session.run() == "completed", session.progress.message
        del store.save_frame
        return dict(store.load_checkpoint(session.run_id)), session, frames

    def same(state, part):
        return all(torch.equal(state[k], fresh[k]) for k in fresh if k.startswith(part))

    d_only, _, _ = hand_trained(("d", 3))
    assert same(d_only, "generator.") and not same(d_only, "discriminator.")
    g_only, _, _ = hand_trained(("g", 2))
    assert same(g_only, "discriminator.") and not same(g_only, "generator.")
    both, session, frames = hand_trained(("d", 3), ("g", 2), ("both", 1))
    assert not same(both, "discriminator.") and not same(both, "generator.")
    assert frames == [0, 3, 5, 6]  # fresh weights, then one frame per click
    run = store.get_run(session.run_id)
    assert gan_session.is_hand_gan(run) and run.message == "trained by hand: 4 D steps and 3 G steps"
    step, frame = store.frame(session.run_id)
    assert step == 6 and frame["manifold"].shape == (2 * MANIFOLD_LINES, MANIFOLD_POINTS, 2)
    wide = store.metrics_wide(session.run_id).set_index("step")
    assert wide.val_js.dropna().index.tolist() == [0, 3, 5, 6]  # the scores after each click
    assert wide.val_modes.dropna().tolist() == [8, 8, 8, 8]
    assert wide.d_loss.notna().tolist() == [False, True, True, True, False, False, True]
    assert store.artifact(session.run_id, "samples") is None  # pictures are for image GANs


def test_hand_stepping_is_for_the_gans_only(tmp_path):
    with pytest.raises(Exception, match="for the DCGAN, the WGAN and the 2D GAN"):
        GanSession(validate("vae", "digits"), RunStore(tmp_path / "runs"))
