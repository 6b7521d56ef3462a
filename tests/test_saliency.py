"""Saliency engine: known results on hand-built CNNs, and the trust checks on the shipped MNIST CNN."""
import numpy as np
import pytest
import torch
from torch import nn

from engine.data import load_dataset
from engine.core.loading import DEFAULT, load_run
from engine.saliency.maps import (METHODS, DeletionCurve, RandomisationStep, TrustVerdict, attribute, conv_layers,
                                  deletion_curve, feature_maps, first_layer_kernels, ig_support, map_ssim, normalise,
                                  path_gradient, probabilities, randomisation_check, rank_correlation, silent_channels,
                                  trust_verdict)
from engine.saliency.selection import classify_test_set, matching, page_count, page_of


def tiny_cnn(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 2)).eval()


def test_gradcam_equals_the_direct_computation():
    """alpha_k = spatial mean of dy_c/dA_k; map = ReLU(sum_k alpha_k A_k), A = the rectified maps."""
    model = tiny_cnn()
    x = torch.randn(2, 1, 4, 4)
    for target in (0, 1):
        activations = torch.relu(model[0](x)).detach().requires_grad_(True)
        score = model[3](model[2](activations))[:, target].sum()
        (grads,) = torch.autograd.grad(score, activations)
        alpha = grads.mean(dim=(2, 3), keepdim=True)
        expected = torch.relu((alpha * activations).sum(dim=1))
        got = attribute(model, x, target, "gradcam")
        assert got.shape == (2, 4, 4)
        torch.testing.assert_close(got, expected.detach(), atol=1e-5, rtol=0)


def test_gradcam_uses_the_rectified_maps_of_the_chosen_layer():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1),
                          nn.Flatten(), nn.Linear(2 * 4 * 4, 2)).eval()
    layers = conv_layers(model)
    assert list(layers) == ["0", "3"]
    assert layers["0"] is model[2] and layers["3"] is model[3]  # BN skipped to the ReLU; no ReLU after the last
    assert attribute(model, torch.randn(1, 1, 4, 4), 0, "gradcam", layer="0").shape == (1, 4, 4)
    with pytest.raises(ValueError, match="no conv layer 'nope'; choose one of 0, 3"):
        attribute(model, torch.randn(1, 1, 4, 4), 0, "gradcam", layer="nope")
    with pytest.raises(ValueError, match="no convolution layers"):
        attribute(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)), torch.randn(1, 1, 4, 4), 0, "gradcam")


def test_guided_backprop_passes_only_positive_gradients_through_relus():
    """With a ReLU first, the map at the input is the gradient arriving at that ReLU, gated by its
    forward pass and by the sign of the backward signal: non-negative, and zero where x <= 0."""
    torch.manual_seed(1)
    model = nn.Sequential(nn.ReLU(), nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3)).eval()
    x = torch.randn(1, 1, 6, 6)
    guided = attribute(model, x, 2, "guided-backprop")[0]
    plain = attribute(model, x, 2, "saliency")[0]
    assert (guided >= 0).all()
    assert (guided[x[0, 0] <= 0] == 0).all()
    assert (plain < 0).any()  # the plain gradient has negative entries, the guided one never
    assert not torch.allclose(guided, plain)
    # Run after guided backprop the plain gradient is unchanged (captum's hooks are gone) and the
    # caller's input is untouched.
    x_before = x.clone()
    attribute(model, x, 2, "guided-backprop")
    torch.testing.assert_close(attribute(model, x, 2, "saliency")[0], plain)
    assert torch.equal(x, x_before)


def test_guided_gradcam_is_the_product_of_upsampled_gradcam_and_guided_backprop():
    model = load_run(None, DEFAULT, device="cpu").model
    x = torch.rand(1, 1, 28, 28)
    product = attribute(model, x, 3, "gradcam") * attribute(model, x, 3, "guided-backprop")
    torch.testing.assert_close(attribute(model, x, 3, "guided-gradcam"), product, atol=1e-6, rtol=1e-4)


@pytest.fixture(scope="module")
def mnist_digit(shared_data_dir):
    with pytest.MonkeyPatch.context() as env:  # module-scoped: monkeypatch itself is per test
        env.setenv("DEEP_PLAYGROUND_DATA", str(shared_data_dir))
        data = load_dataset("mnist")
        model = load_run(None, DEFAULT, device="cpu").model
        x, y = data.x_val[:1], int(data.y_val[0])
        assert probabilities(model, x).argmax(1).item() == y  # a digit the model gets right
        yield model, x, y


@pytest.mark.parametrize("method", METHODS)
def test_every_method_gives_one_map_per_input_with_the_input_shape(mnist_digit, method):
    model, x, y = mnist_digit
    maps = attribute(model, x.repeat(3, 1, 1, 1), y, method, steps=8)
    assert maps.shape == (3, 28, 28) and maps.dtype == torch.float32
    assert torch.isfinite(maps).all() and maps.abs().sum() > 0
    torch.testing.assert_close(maps[0], maps[2])  # same input, same map


def test_occlusion_finds_the_only_region_the_model_reads():
    """A model that reads only the top-left 4x4 patch: occluding elsewhere changes nothing."""
    class TopLeft(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 1, 1)

        def forward(self, x):
            s = self.conv(x)[:, :, :4, :4].sum(dim=(1, 2, 3))
            return torch.stack([s, -s], dim=1)

    maps = attribute(TopLeft().eval(), torch.ones(1, 1, 12, 12), 0, "occlusion", window=2, stride=2)[0]
    assert (maps[4:, :] == 0).all() and (maps[:, 4:] == 0).all() and (maps[:4, :4] != 0).all()


def test_bad_method_and_options_are_refused(mnist_digit):
    model, x, y = mnist_digit
    with pytest.raises(ValueError, match="unknown method 'gradcam\\+\\+'"):
        attribute(model, x, y, "gradcam++")
    with pytest.raises(ValueError, match="between 1 and 28"):
        attribute(model, x, y, "occlusion", window=40)
    with pytest.raises(ValueError, match="unknown baseline"):
        attribute(model, x, y, "integrated-gradients", baseline="white")


def test_normalise_modes():
    maps = torch.tensor([[[-2.0, 1.0], [0.0, 0.5]]])
    np.testing.assert_allclose(normalise(maps, "abs"), [[[1.0, 0.5], [0.0, 0.25]]])
    np.testing.assert_allclose(normalise(maps, "positive"), [[[0.0, 1.0], [0.0, 0.5]]])
    np.testing.assert_allclose(normalise(maps, "signed"), [[[-1.0, 0.5], [0.0, 0.25]]])
    assert (normalise(torch.zeros(2, 3, 3)) == 0).all()


@pytest.fixture(scope="module")
def mnist_batch(mnist_digit):
    data = load_dataset("mnist")
    return data.x_val[:8], data.y_val[:8]


@pytest.mark.slow
def test_randomisation_decorrelates_gradcam_but_not_input_times_gradient_methods(mnist_digit, mnist_batch):
    """Adebayo et al.: Grad-CAM's map changes when the weights are randomised; integrated gradients
    with a black baseline (x times the mean gradient) keeps the ink's shape whatever the weights."""
    model, _, _ = mnist_digit
    xs, ys = mnist_batch
    before = [p.clone() for p in model.parameters()]

    def final_correlations(method):
        results = [randomisation_check(model, xs[i:i + 1], int(ys[i]), method, steps=16) for i in range(len(xs))]
        assert [s.layer for s in results[0]] == ["trained", "classifier.3", "classifier.1",
                                                 "features.1.convs.0", "features.0.convs.0"]
        assert all(r[0].correlation == 1.0 for r in results)
        return np.array([r[-1].correlation for r in results])

    gradcam, ig = final_correlations("gradcam"), final_correlations("integrated-gradients")
    assert gradcam.mean() < 0.5, gradcam  # measured 0.25 on these digits
    assert ig.mean() > 0.9, ig            # measured 0.99: it fails the check, and the check shows it
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the trained model is untouched


@pytest.mark.slow
def test_randomising_the_top_layers_moves_the_gradient_part_of_integrated_gradients_not_its_rank_correlation(
        mnist_digit, mnist_batch):
    """Input: the shipped MNIST CNN, the first 8 test digits, integrated gradients (black baseline, 16
    steps). |IG| = input x |path gradient| keeps the ink's ranking whatever the weights (rank correlation
    stays ~0.99), while the gradient part on the ink decorrelates as soon as the top layer is random,
    and SSIM of the maps as drawn (signed) falls: the two measures that see the model change."""
    model, _, _ = mnist_digit
    xs, ys = mnist_batch
    results = [randomisation_check(model, xs[i:i + 1], int(ys[i]), "integrated-gradients", steps=16)
               for i in range(len(xs))]
    rank = np.array([[s.correlation for s in r] for r in results])
    gradient = np.array([[s.gradient_correlation for s in r] for r in results])
    ssim = np.array([[s.ssim for s in r] for r in results])
    assert (rank[:, 0] == 1) .all() and (gradient[:, 0] == 1).all() and (ssim[:, 0] == 1).all()
    top, every = 1, -1  # the output layer re-initialised; every layer re-initialised
    assert rank[:, top].mean() > 0.95 and rank[:, every].mean() > 0.95, rank  # measured 1.00 and 0.99
    assert gradient[:, top].mean() < 0.4, gradient   # measured 0.21 (each digit at most 0.48)
    assert gradient[:, every].mean() < 0.2, gradient  # measured 0.02 (each digit at most 0.22)
    assert ssim[:, every].mean() < 0.6, ssim          # measured 0.44 (each digit at most 0.61)


def test_other_methods_have_no_gradient_part_but_every_step_has_an_ssim():
    """Input: a tiny random CNN on one random 4x4 image, Grad-CAM and integrated gradients."""
    model, x = tiny_cnn(), torch.randn(1, 1, 4, 4)
    gradcam = randomisation_check(model, x, 0, "gradcam")
    assert [s.layer for s in gradcam] == ["trained", "3", "0"]
    assert all(s.gradient_correlation is None for s in gradcam)
    assert gradcam[0].ssim == 1.0 and all(-1 <= s.ssim <= 1 for s in gradcam)
    ig = randomisation_check(model, x, 0, "integrated-gradients", steps=4)
    assert ig[0].gradient_correlation == 1.0 and all(-1 <= s.gradient_correlation <= 1 for s in ig)


def test_path_gradient_is_integrated_gradients_without_the_input_factor():
    """Input: a linear model f(x) = w.x on a 1x4x4 image: its gradient is w everywhere on the path, so
    the path gradient is w and integrated gradients (black baseline) is x * w."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2)).eval()
    x = torch.rand(1, 1, 4, 4)
    x[0, 0, 0] = 0.0  # a black row: outside the map's support
    w = model[1].weight[1].detach().reshape(4, 4)
    torch.testing.assert_close(path_gradient(model, x, 1, steps=8)[0], w)
    torch.testing.assert_close(attribute(model, x, 1, "integrated-gradients", steps=8)[0], x[0, 0] * w)
    assert ig_support(x).tolist() == [[[False] * 4] + [[True] * 4] * 3]


def test_ssim_compares_maps_as_drawn():
    """Inputs: a random signed 28x28 map m; the same map at half scale, its negative, and a map with
    the same zeros (a shared black background) but other values inside the stroke."""
    rng = np.random.default_rng(0)
    m = rng.normal(size=(28, 28))
    assert map_ssim(m, m, "signed") == pytest.approx(1.0)
    assert map_ssim(m, 0.5 * m, "signed") == pytest.approx(1.0)   # drawn scaled by its own maximum
    assert map_ssim(m, -m, "signed") < 0.3                         # measured 0.12: the colours swap
    assert map_ssim(m, -m, "abs") == pytest.approx(1.0)            # |map| is the same picture
    stroke = np.zeros((28, 28))
    stroke[4:24, 12:16] = 1.0
    a, b = stroke * rng.normal(size=(28, 28)), stroke * rng.normal(size=(28, 28))
    assert rank_correlation(a, b) > 0.95   # measured 1.00: the shared zeros make |a| and |b| rank alike
    assert map_ssim(a, b, "signed") < 0.7   # measured 0.56: inside the stroke they differ
    assert map_ssim(m[:4, :4], m[:4, :4]) == pytest.approx(1.0)  # a map under 7 pixels a side: a smaller window
    assert map_ssim(m[:2, :2], -m[:2, :2], "signed") < 0  # measured -1.00: a 1-pixel window


def test_rank_correlation():
    a = np.arange(10.0)
    assert rank_correlation(a, a ** 2) == pytest.approx(1.0)
    assert rank_correlation(a, -a[::-1] * 0 + a[::-1]) == pytest.approx(-1.0)
    assert rank_correlation(a, np.ones(10)) == 0.0
    assert rank_correlation(a[:0], a[:0]) == 0.0  # no pixels to rank (an all-black input under IG)


def test_deletion_removes_the_class_faster_along_gradcam_than_at_random(mnist_digit):
    model, x, y = mnist_digit
    curve = deletion_curve(model, x, y, attribute(model, x, y, "gradcam")[0], steps=10)
    assert curve.fractions[0] == 0 and curve.fractions[-1] == 1 and len(curve.salient) == 11
    assert curve.salient[0] == pytest.approx(probabilities(model, x)[0, y].item(), abs=1e-6)
    assert curve.salient[-1] == pytest.approx(curve.random[-1], abs=1e-6)  # all pixels gone either way
    assert curve.auc_salient < curve.auc_random


def test_feature_maps_and_kernels_of_the_default_cnn(mnist_digit):
    model, x, _ = mnist_digit
    maps = feature_maps(model, x)
    assert {k: tuple(v.shape) for k, v in maps.items()} == {"features.0.convs.0": (16, 28, 28),
                                                             "features.1.convs.0": (32, 14, 14)}
    assert all((m >= 0).all() for m in maps.values())  # after the ReLU
    assert tuple(first_layer_kernels(model).shape) == (16, 1, 3, 3)


def test_silent_channels_counts_channels_nowhere_above_zero():
    fmap = torch.zeros(4, 3, 3)
    fmap[1] = -1.0          # negative everywhere: silent
    fmap[2, 2, 1] = 0.5     # one pixel on: not silent
    fmap[3] = 2.0
    assert silent_channels(fmap) == 2  # channels 0 and 1


def _steps(final: float) -> list[RandomisationStep]:
    return [RandomisationStep("trained", torch.zeros(2, 2), 1.0), RandomisationStep("fc", torch.zeros(2, 2), 0.9),
            RandomisationStep("conv", torch.zeros(2, 2), final)]


def test_trust_verdict_reads_the_correlation_after_every_layer_is_randomised():
    passed = trust_verdict(_steps(0.49))
    assert passed == TrustVerdict(True, 0.49, "changes with the weights: passes")
    failed = trust_verdict(_steps(0.5))  # the line itself does not pass
    assert failed == TrustVerdict(False, 0.5, "barely changes with random weights: it shows the input more than the model")
    assert trust_verdict(_steps(-0.2)).passes


def test_deletion_curve_ratio_and_whether_it_scores_the_map():
    fractions = np.array([0.0, 0.5, 1.0])
    curve = DeletionCurve(fractions, np.array([0.5, 0.1, 0.0]), np.array([0.5, 0.4, 0.0]), 0.2, 0.4)
    assert curve.ratio == 0.5 and curve.informative
    faint = DeletionCurve(fractions, np.array([0.4999, 0.1, 0.0]), np.array([0.4999, 0.2, 0.0]), 0.0, 0.0)
    assert faint.ratio is None and not faint.informative


def test_classify_test_set_predicts_every_image_in_batches_and_keeps_the_mode():
    model = nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(3, 2) + torch.tensor([[0.0, 0.0], [0.0, 0.0], [-1.0, -1.0]]))
    # Rows: class 0 scores x0, class 1 scores x1, class 2 scores -(x0 + x1).
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0], [2.0, 3.0], [5.0, -1.0]])
    y = torch.tensor([0, 0, 2, 1, 1])
    model.train()
    predicted, true = classify_test_set(model, x, y, batch_size=2)  # 2 + 2 + 1
    assert isinstance(predicted, np.ndarray) and predicted.tolist() == [0, 1, 2, 1, 0]
    assert isinstance(true, np.ndarray) and true.tolist() == [0, 0, 2, 1, 1]
    assert model.training


def test_matching_filters_by_true_class_and_by_right_or_wrong():
    predicted = np.array([0, 1, 2, 1, 0, 1])
    true = np.array([0, 1, 1, 1, 2, 0])
    assert matching(predicted, true).tolist() == [0, 1, 2, 3, 4, 5]
    assert matching(predicted, true, true_class=1).tolist() == [1, 2, 3]
    assert matching(predicted, true, correct=True).tolist() == [0, 1, 3]
    assert matching(predicted, true, correct=False).tolist() == [2, 4, 5]
    assert matching(predicted, true, true_class=1, correct=False).tolist() == [2]
    assert matching(predicted, true, true_class=2, correct=True).tolist() == []


def test_pages_of_test_images():
    assert [page_count(n, 16) for n in (0, 1, 16, 17, 32, 33)] == [1, 1, 1, 2, 2, 3]
    positions = np.arange(100, 120)
    assert page_of(positions, 1, 16).tolist() == list(range(100, 116))
    assert page_of(positions, 2, 16).tolist() == [116, 117, 118, 119]
    assert page_of(positions[:0], 1, 16).tolist() == []
