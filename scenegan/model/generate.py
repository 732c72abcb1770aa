"""Running a generator: photos and noise in, uint8 animations out (sample and evaluate)."""

from __future__ import annotations

import numpy as np
import torch

from scenegan.archs import ARCHS, canonical_arch
from scenegan.clip_format import channels_first, channels_last, from_unit, to_unit
from scenegan.errors import UserError


def offered_controls(info: dict) -> tuple[str, ...]:
    """The controls (loop, speed, ...) the architecture of a loaded model offers; a baseline or
    an architecture the registry does not know offers none."""
    arch = ARCHS.get(canonical_arch(str(info.get("arch", ""))))
    return arch.controls if arch is not None else ()


def animate_photos(
    G: torch.nn.Module,
    photos: np.ndarray,
    z: torch.Tensor,
    *,
    loop: bool = False,
    speed: float = 1.0,
    offered: tuple[str, ...] = (),
) -> np.ndarray:
    """uint8 photos (B, *G.fmt.image_shape) and noise (B, G.noise_dim) -> uint8 animations
    (B, *G.fmt.shape): (B, T, H, W) gray, (B, T, H, W, 3) rgb. `offered`: the controls G
    takes (`offered_controls`)."""
    controls = {}
    if loop or speed != 1:
        if not {"loop", "speed"} <= set(offered):
            raise UserError(
                f"--loop and --speed need a model that offers them (euler or flow); "
                f"{type(G).__name__} does not"
            )
        controls = {"loop": loop, "speed": speed}
    device = next(iter(G.parameters()), torch.empty(0)).device
    photos = channels_first(torch.from_numpy(to_unit(photos)), G.fmt)  # (B, C, H, W)
    with torch.no_grad():
        clips = G(photos.contiguous().to(device), z.to(device), **controls)  # (B, C, T, H, W)
    return from_unit(channels_last(clips.float().cpu(), G.fmt).numpy())


def animate(
    G: torch.nn.Module, photo: np.ndarray, z: torch.Tensor, *, loop=False, speed=1.0, offered=()
) -> np.ndarray:
    """One uint8 photo G.fmt.image_shape and noise (K, G.noise_dim) -> K animations, uint8
    (K, *G.fmt.shape)."""
    photos = np.broadcast_to(photo, (len(z), *photo.shape))
    return animate_photos(G, photos, z, loop=loop, speed=speed, offered=offered)


def draw_noise(G: torch.nn.Module, n: int, seed: int) -> torch.Tensor:
    """(n, G.noise_dim) standard normal noise from a generator seeded with `seed`."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, G.noise_dim, generator=generator)
