"""Running a generator: photos and noise in, uint8 animations out (sample and evaluate)."""

from __future__ import annotations

import numpy as np
import torch

from scenegan.clip_format import from_unit, to_unit


def animate_photos(G: torch.nn.Module, photos: np.ndarray, z: torch.Tensor) -> np.ndarray:
    """uint8 (B, H, W) photos and noise (B, G.noise_dim) -> uint8 (B, T, H, W) animations."""
    device = next(iter(G.parameters()), torch.empty(0)).device
    photos = torch.from_numpy(to_unit(photos))[:, None]  # (B, 1, H, W)
    with torch.no_grad():
        clips = G(photos.to(device), z.to(device))  # (B, 1, T, H, W)
    return from_unit(clips[:, 0].float().cpu().numpy())


def animate(G: torch.nn.Module, photo: np.ndarray, z: torch.Tensor) -> np.ndarray:
    """One uint8 (H, W) photo and noise (K, G.noise_dim) -> K animations, uint8 (K, T, H, W)."""
    return animate_photos(G, np.broadcast_to(photo, (len(z), *photo.shape)), z)


def draw_noise(G: torch.nn.Module, n: int, seed: int) -> torch.Tensor:
    """(n, G.noise_dim) standard normal noise from a generator seeded with `seed`."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, G.noise_dim, generator=generator)
