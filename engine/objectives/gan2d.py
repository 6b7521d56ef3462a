"""The GAN on 2D points (engine/models/gan2d.py): the DCGAN's objective (per batch `d_steps` D
updates, then one G update with the non-saturating loss) without the image rescale, scored per
epoch by how close the generated points are to the real ones, and drawn live as GAN Lab draws it.

evaluate(), per epoch: D and G losses on the real points and on FAKES fixed-noise fakes, KL and JS
estimates between real and fake and, for the target distributions whose modes are known (ring,
grid, line, moons), the modes covered, the share of fakes near a mode and whether the generator has
collapsed (engine/objectives/gan2d_measures.py defines each). On a 2D "points" set (spiral, a
user's own points) the labels are ignored: there are no modes to count.

live_frame(), every fraction of a second while it trains (and after each hand step):
    real (n, 2) float32          a fixed sample of the real points (at most FAKES)
    fake (FAKES, 2) float32      G of the same fixed noise every frame
    manifold (L, P, 2) float32   G over a grid of z values (the first two dimensions over
                                 [-Z_RANGE, Z_RANGE], the others 0), as polylines: MANIFOLD_LINES
                                 lines along z0, then as many along z1 (one line if latent is 1)
    field_x (g,), field_y (g,) float32, field_p (g, g) float16
                                 D's probability that a point is real over the plane (rows = y)
    plane (4,) float32           x0, x1, y0, y1: the square everything is drawn on, fixed for the run
    divergence (2,) float32      KL, JS of these fakes against all real points
    coverage (3,) float32        modes covered, modes, quality (only where the modes are known)
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from engine.core.device import autocast
from engine.core.modules import eval_mode, model_device
from engine.data.distributions import modes as true_modes
from engine.objectives import gan2d_measures as measures
from engine.objectives.gan import GANObjective, d_scores, g_score
from engine.objectives.gan_quality import QUALITY_SEED, fixed_noise

FAKES = 1000          # fixed-noise fakes drawn and measured (the same in frames and per epoch)
FIELD_GRID = 64       # D's field: 64 x 64 cells (8 kB as float16)
MANIFOLD_LINES = 11   # grid lines per latent direction
MANIFOLD_POINTS = 41  # points per grid line
Z_RANGE = 2.0         # z ~ N(0, I): the grid spans +-2 standard deviations (95 % of the noise per axis)


def real_points(data) -> torch.Tensor:
    """Every real point (train and validation), on the CPU: what the fakes are measured against."""
    return torch.cat([data.x_train, data.x_val]).float()


def manifold_codes(latent: int, lines: int = MANIFOLD_LINES, points: int = MANIFOLD_POINTS) -> torch.Tensor:
    """(L, P, latent) codes: lines along z0 at fixed z1, then lines along z1 at fixed z0 (the
    other dimensions 0); one line along z0 when the latent has one dimension."""
    along = torch.linspace(-Z_RANGE, Z_RANGE, points)
    across = torch.linspace(-Z_RANGE, Z_RANGE, lines)
    if latent == 1:
        return along[None, :, None]
    codes = torch.zeros(2 * lines, points, latent)
    codes[:lines, :, 0] = along[None, :]
    codes[:lines, :, 1] = across[:, None]
    codes[lines:, :, 0] = across[:, None]
    codes[lines:, :, 1] = along[None, :]
    return codes


def field(model: nn.Module, plane: measures.Plane, grid: int = FIELD_GRID) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """D's probability of "real" over the plane: xs (g,), ys (g,), p (g, g) with p[i, j] at (xs[j], ys[i])."""
    xs = torch.linspace(plane.x0, plane.x1, grid)
    ys = torch.linspace(plane.y0, plane.y1, grid)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1).to(model_device(model))
    p = torch.sigmoid(model.discriminator(points).float()).reshape(grid, grid)
    return xs.numpy(), ys.numpy(), p.cpu().numpy()


class Gan2dObjective(GANObjective):
    """The GAN objective on 2D points. Stats as the DCGAN's; evaluate() and live_frame() as the
    module says."""
    name = "gan2d"

    def to_gan(self, x: torch.Tensor) -> torch.Tensor:
        return x  # points are used as they are (never rescaled like images)

    def fakes(self, model: nn.Module) -> torch.Tensor:
        z = fixed_noise(model.latent, FAKES, QUALITY_SEED).to(model_device(model))
        return model.generator(z).float()

    def evaluate(self, model, data, device, n_val: int = FAKES) -> dict[str, float]:
        """D and G losses and D's accuracies on the validation points and as many fixed-noise
        fakes; KL, JS and (where the modes are known) the mode coverage of FAKES fakes."""
        with eval_mode(model):
            real = data.x_val[:n_val].to(device).float()
            with autocast(device):
                fake = self.fakes(model)
                d_real = model.discriminator(real).float()
                d_fake = model.discriminator(fake[:len(real)]).float()
            d, g_loss = d_scores(d_real, d_fake), g_score(d_fake)
            out = {"val_loss": (d["d_loss"] + g_loss).item(), "val_d_loss": d["d_loss"].item(),
                   "val_g_loss": g_loss.item(), "val_d_real_acc": d["d_real_acc"].item(),
                   "val_d_fake_acc": d["d_fake_acc"].item()}
            out |= {f"val_{k}": v for k, v in self.measure(fake.cpu().numpy(), data).items()}
        return out

    def hand_measures(self, model, data, device) -> dict[str, float]:
        return self.evaluate(model, data, device)

    def measure(self, fake: np.ndarray, data) -> dict[str, float]:
        """kl, js, and where the modes are known: modes_covered, modes, quality, mode_collapse (1 or 0)."""
        real = real_points(data).numpy()
        out = measures.divergences(real, fake, measures.plane_of(real))
        modes = true_modes(data.name, data.options)
        if modes is not None:
            cover = measures.mode_coverage(fake, modes)
            out |= {"modes_covered": float(cover.n_covered), "modes": float(cover.n_modes),
                    "quality": cover.quality, "mode_collapse": float(cover.collapsed)}
        return out

    def live_frame(self, model, data) -> dict[str, np.ndarray]:
        real = real_points(data)
        plane = measures.plane_of(real.numpy())
        device = model_device(model)
        with eval_mode(model):
            fake = self.fakes(model).cpu().numpy()
            codes = manifold_codes(model.latent)
            lines = model.generator(codes.reshape(-1, model.latent).to(device)).float().cpu()
            xs, ys, p = field(model, plane)
        frame = {"real": data.x_train[:FAKES].numpy().astype(np.float32), "fake": fake.astype(np.float32),
                 "manifold": lines.reshape(*codes.shape[:2], 2).numpy().astype(np.float32),
                 "field_x": xs.astype(np.float32), "field_y": ys.astype(np.float32),
                 "field_p": p.astype(np.float16), "plane": plane.as_array()}
        scores = self.measure(fake, data)
        frame["divergence"] = np.array([scores["kl"], scores["js"]], dtype=np.float32)
        if "modes" in scores:
            frame["coverage"] = np.array([scores["modes_covered"], scores["modes"], scores["quality"]], dtype=np.float32)
        return frame


GAN2D_OBJECTIVE = Gan2dObjective()
