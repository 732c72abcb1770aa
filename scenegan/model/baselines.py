"""Hand-made animations with the generator interface, so evaluation treats them like models.

`G(photo (B, C, H, W) in [-1, 1], z (B, G.noise_dim)) -> (B, C, T, H, W) in [-1, 1]`, with
attributes `noise_dim`, `fmt` and `dataset_fmt`, exactly as a trained generator loaded from a
checkpoint.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from scenegan.clip_format import CLIP, ClipFormat


class CopiedPhoto(nn.Module):
    """The photo repeated for every frame: perfect scene, no motion."""

    noise_dim = 0

    def __init__(self, *, fmt: ClipFormat = CLIP) -> None:
        super().__init__()
        self.fmt = self.dataset_fmt = fmt

    def forward(self, photo: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        return photo.unsqueeze(2).expand(-1, -1, self.fmt.n_frames, -1, -1).clone()


class DriftingPhoto(nn.Module):
    """The photo translated at a small random sub-pixel velocity per clip, plus a little noise.

    z[:, 0:2] (standard normal) times `speed` is the velocity in pixels per frame (x, y);
    z[:, 2] seeds the per-pixel Gaussian noise (std `noise` grey levels) added to frames 1..T-1,
    so the same z always gives the same clip. Frame 0 is the photo itself.
    """

    noise_dim = 3

    def __init__(self, *, fmt: ClipFormat = CLIP, speed: float = 0.15, noise: float = 1.5) -> None:
        super().__init__()
        self.fmt = self.dataset_fmt = fmt
        self.speed = speed
        self.noise = noise

    def forward(self, photo: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = photo.shape
        n_frames = self.fmt.n_frames
        velocity = z[:, :2].to(photo.dtype) * self.speed  # (B, 2) pixels per frame, (x, y)
        time = torch.arange(n_frames, dtype=photo.dtype, device=photo.device)
        shift = velocity[:, None, :] * time[None, :, None]  # (B, T, 2) pixels
        # Sampling grid in normalised coordinates (align_corners=False: one pixel = 2 / size).
        ys = (torch.arange(height, dtype=photo.dtype, device=photo.device) + 0.5) * 2 / height - 1
        xs = (torch.arange(width, dtype=photo.dtype, device=photo.device) + 0.5) * 2 / width - 1
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")  # (H, W)
        base = torch.stack((grid_x, grid_y), dim=-1)  # (H, W, 2)
        scale = torch.tensor([2 / width, 2 / height], dtype=photo.dtype, device=photo.device)
        # The frame at time t shows the photo moved by +shift: sample it at position - shift.
        grid = base[None, None] - (shift * scale)[:, :, None, None, :]  # (B, T, H, W, 2)
        frames = F.grid_sample(
            photo.repeat_interleave(n_frames, dim=0),  # (B * T, C, H, W)
            grid.reshape(batch * n_frames, height, width, 2),
            mode="bilinear",
            padding_mode="border",
            align_corners=False,
        ).reshape(batch, n_frames, channels, height, width)
        noise = torch.zeros_like(frames)
        for i in range(batch):
            seed = int(z[i, 2].abs().item() * 1e6) % (2**31)
            generator = torch.Generator().manual_seed(seed)
            shape = (n_frames - 1, channels, height, width)  # gray: the same draws as ever
            noise[i, 1:] = torch.randn(shape, generator=generator).to(noise)
        frames = frames + noise * (self.noise / 127.5)
        frames[:, 0] = photo
        return frames.clamp(-1, 1).transpose(1, 2)  # (B, C, T, H, W)


BASELINES: dict[str, type[nn.Module]] = {"copy": CopiedPhoto, "drift": DriftingPhoto}
