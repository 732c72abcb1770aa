"""GAN losses (least squares, the 2019 project's default; Wasserstein with gradient penalty)
and the motion-map match of the photo-warping generators."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from scenegan.config import LOSSES


def d_loss(kind: str, real: torch.Tensor, fakes: list[tuple[torch.Tensor, float]]) -> torch.Tensor:
    """D's loss from its scores on real clips and on (fake scores, weight) pairs."""
    total = sum(weight for _, weight in fakes)
    if kind == "lsgan":
        fake_term = sum(weight * fake.square().mean() for fake, weight in fakes) / total
        return (real - 1).square().mean() + fake_term
    if kind == "wgan-gp":
        fake_term = sum(weight * fake.mean() for fake, weight in fakes) / total
        # The small drift term keeps the critic's scores near zero (Karras et al. 2018).
        return fake_term - real.mean() + 1e-3 * real.square().mean()
    raise ValueError(f"unknown loss {kind!r}; expected one of {LOSSES}")


def d_fake_term(kind: str, fake: torch.Tensor) -> torch.Tensor:
    """D's loss on scores of clips that are fake only (no real term)."""
    if kind == "lsgan":
        return fake.square().mean()
    if kind == "wgan-gp":
        return fake.mean()
    raise ValueError(f"unknown loss {kind!r}; expected one of {LOSSES}")


def g_loss(kind: str, fake: torch.Tensor) -> torch.Tensor:
    if kind == "lsgan":
        return (fake - 1).square().mean()
    if kind == "wgan-gp":
        return -fake.mean()
    raise ValueError(f"unknown loss {kind!r}; expected one of {LOSSES}")


def gradient_penalty(
    D: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """(|grad D(x)| - 1)^2 at random points between real and fake clips (Gulrajani et al.).

    The points and the gradient's norm are float32, whatever dtypes autocast gave the clips
    (a bf16 generated clip and a float32 real one cannot be lerped).
    """
    mix = torch.rand(real.shape[0], *([1] * (real.dim() - 1)), device=real.device)
    x = torch.lerp(real.detach().float(), fake.detach().float(), mix).requires_grad_(True)
    (grad,) = torch.autograd.grad(D(x).float().sum(), x, create_graph=True)
    return (grad.float().flatten(1).norm(dim=1) - 1).square().mean()


# Motion is compared on a coarse grid: where and how much the scene moves, not which pixel.
MOTION_GRID = (6, 10)
MOTION_EPS = 2 / 255  # one grey level in [-1, 1] units: below it a region counts as still


def motion_maps(clips: torch.Tensor, grid: tuple[int, int] = MOTION_GRID) -> torch.Tensor:
    """clips (B, C, T, H, W) -> (B, 2C, *grid): mean |x_t - x_{t-1}| (speed) and mean
    |x_{t+1} - 2 x_t + x_{t-1}| (flicker) over time, area-averaged onto the coarse grid."""
    speed = (clips[:, :, 1:] - clips[:, :, :-1]).abs().mean(dim=2)  # (B, C, H, W)
    accel = (clips[:, :, 2:] - 2 * clips[:, :, 1:-1] + clips[:, :, :-2]).abs().mean(dim=2)
    return F.adaptive_avg_pool2d(torch.cat([speed, accel], dim=1).float(), grid)


def motion_match(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean |log motion map of fake - log that of real| for clips that share their photo.

    The real clip of the same photo says how much each region of that scene moves (fire and
    surf a lot, rock not at all); a log ratio weighs a still sky and a fast fire alike. It
    ties only coarse amounts of motion, not its direction or pattern, so the noise still
    chooses the motion.
    """
    fake_maps = motion_maps(fake)
    with torch.no_grad():
        real_maps = motion_maps(real)
    return ((fake_maps + MOTION_EPS).log() - (real_maps + MOTION_EPS).log()).abs().mean()
