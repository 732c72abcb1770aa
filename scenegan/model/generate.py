"""Running a generator: photos and noise in, uint8 animations out (sample and evaluate)."""

from __future__ import annotations

import numpy as np
import torch

from scenegan.clip_format import channels_first, channels_last, from_unit, to_unit
from scenegan.errors import UserError


def supports_motion_controls(G: torch.nn.Module) -> bool:
    """Whether G takes `loop` and `speed` (the photo-warping generators do)."""
    from scenegan.model.networks import FlowGenerator

    return isinstance(G, FlowGenerator)


def supports_amount_controls(G: torch.nn.Module) -> bool:
    """Whether G takes `motion` (pixels per frame) and `fps` (the motion arch does)."""
    from scenegan.model.motion import MotionGenerator

    return isinstance(G, MotionGenerator)


def animate_photos(
    G: torch.nn.Module,
    photos: np.ndarray,
    z: torch.Tensor,
    *,
    loop: bool = False,
    speed: float = 1.0,
    motion: float | None = None,
    fps: float | None = None,
) -> np.ndarray:
    """uint8 photos (B, *G.fmt.image_shape) and noise (B, G.noise_dim) -> uint8 animations
    (B, *G.fmt.shape): (B, T, H, W) gray, (B, T, H, W, 3) rgb. `motion` (pixels per frame at
    the dataset's size) and `fps` are the motion arch's inputs (None: its own choice)."""
    controls = {}
    if loop or speed != 1:
        if not supports_motion_controls(G):
            raise UserError(
                f"--loop and --speed need an euler, flow or motion model; "
                f"{type(G).__name__} has neither"
            )
        controls = {"loop": loop, "speed": speed}
    if motion is not None or fps is not None:
        if not supports_amount_controls(G):
            raise UserError(
                f"--motion and --fps need a motion model (--arch motion); {type(G).__name__} "
                "takes neither"
            )
        controls.update(motion=motion, fps=fps)
    device = next(iter(G.parameters()), torch.empty(0)).device
    photos = channels_first(torch.from_numpy(to_unit(photos)), G.fmt)  # (B, C, H, W)
    with torch.no_grad():
        clips = G(photos.contiguous().to(device), z.to(device), **controls)  # (B, C, T, H, W)
    return from_unit(channels_last(clips.float().cpu(), G.fmt).numpy())


def animate(
    G: torch.nn.Module, photo: np.ndarray, z: torch.Tensor, **controls
) -> np.ndarray:
    """One uint8 photo G.fmt.image_shape and noise (K, G.noise_dim) -> K animations, uint8
    (K, *G.fmt.shape); `controls` as animate_photos takes them."""
    photos = np.broadcast_to(photo, (len(z), *photo.shape))
    return animate_photos(G, photos, z, **controls)


def draw_noise(G: torch.nn.Module, n: int, seed: int) -> torch.Tensor:
    """(n, G.noise_dim) standard normal noise from a generator seeded with `seed`."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, G.noise_dim, generator=generator)
