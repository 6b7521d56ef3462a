"""The Latent page's computations in the engine (engine.latent.explore): the code map, one image's
code and reconstruction, walks between images and between noise seeds, reconstruction pairs and
their pixel error."""
import numpy as np
import pytest
import torch

from engine.latent import explore
from engine.latent import space as latent
from engine.models.vae import DenseVAE


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return DenseVAE((1, 8, 8), latent=2, hidden=16).eval()


def test_pixel_errors_are_each_images_mean_squared_difference():
    x = torch.zeros(3, 1, 2, 2)
    recon = torch.zeros(3, 1, 2, 2)
    recon[0] = 0.5                 # every pixel off by 0.5: 0.25
    recon[1, 0, 0, 0] = 1.0        # one pixel of four off by 1: 0.25
    recon[2, 0, 1] = torch.tensor([0.2, 0.4])  # (0.04 + 0.16) / 4 = 0.05
    assert explore.pixel_errors(x, recon).tolist() == pytest.approx([0.25, 0.25, 0.05])


def test_interleave_puts_each_image_beside_its_partner():
    a = np.arange(3)[:, None, None, None] * np.ones((3, 1, 2, 2))
    b = a + 10
    pairs = explore.interleave(a, b)
    assert pairs.shape == (6, 1, 2, 2)
    assert pairs[:, 0, 0, 0].tolist() == [0, 10, 1, 11, 2, 12]


def test_reconstruction_pairs_are_the_originals_then_their_reconstructions(vae):
    x = torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    pairs, errors = explore.reconstruction_pairs(vae, x)
    recon = latent.reconstruct(vae, x)
    assert pairs.shape == (8, 1, 8, 8)
    assert np.array_equal(pairs[0::2], x.numpy()) and np.array_equal(pairs[1::2], recon.numpy())
    assert torch.equal(errors, (recon - x).pow(2).mean(dim=(1, 2, 3)))


def test_code_and_reconstruction_encode_once(vae):
    x = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    mean, std, recon = explore.code_and_reconstruction(vae, x)
    want_mean, logvar = latent.encode(vae, x)
    assert torch.equal(mean, want_mean) and torch.allclose(std, torch.exp(0.5 * logvar))
    assert torch.equal(recon, latent.reconstruct(vae, x))


def test_code_map_of_a_2d_vae_is_its_means(vae):
    x = torch.rand(5, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    coords, means, note = explore.code_map(vae, x)
    assert np.array_equal(means, latent.encode(vae, x)[0].numpy())
    assert np.array_equal(coords, means) and note == "latent dimensions 0 and 1"


def test_image_walk_starts_and_ends_on_the_two_images(vae):
    ends = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(4))
    row = explore.image_walk(vae, ends, steps=5, method="linear")
    assert row.shape == (7, 1, 8, 8)
    assert np.array_equal(row[0], ends[0].numpy()) and np.array_equal(row[-1], ends[1].numpy())
    mean, _ = latent.encode(vae, ends)
    middle = latent.decode(vae, latent.interpolate(mean[0], mean[1], 5, "linear"))
    assert np.array_equal(row[1:-1], middle.numpy())


def test_noise_walk_runs_from_one_seeds_noise_to_the_others(vae):
    walk = explore.noise_walk(vae, (3, 7), steps=4, method="spherical")
    assert walk.shape == (4, 1, 8, 8)
    assert torch.allclose(walk[0], latent.decode(vae, latent.fixed_noise(2, 1, 3))[0], atol=1e-6)
    assert torch.allclose(walk[-1], latent.decode(vae, latent.fixed_noise(2, 1, 7))[0], atol=1e-6)
    assert not torch.allclose(walk[0], walk[-1])
