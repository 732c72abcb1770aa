"""Differentiable augmentation of the clips D sees (DiffAugment, Zhao et al. 2020), for video.

With a few hundred training clips D soon memorises them and its gradients stop helping G (the
D loss falls towards 0 while samples get worse). Augmenting real and generated clips alike,
inside the graph so G's gradients pass through, keeps D from memorising without teaching G to
make augmented clips. Each clip gets one draw, the same for all its frames, so the motion and
drift D reads from it are left as they were. Everything is drawn on the clips' device, and no
value goes back to the host (no sync per step on a GPU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from scenegan.archs import AUGMENTATIONS


def augment(clips: torch.Tensor, policy: str) -> torch.Tensor:
    """clips (B, C, T, H, W) in [-1, 1] -> the same, augmented by the comma-separated policy."""
    for name in filter(None, policy.split(",")):
        if name != "none":
            clips = _OPS[name](clips)
    return clips


def _per_clip(clips: torch.Tensor) -> torch.Tensor:
    return torch.rand(clips.shape[0], 1, 1, 1, 1, device=clips.device, dtype=clips.dtype)


def color(clips: torch.Tensor) -> torch.Tensor:
    """Brightness +-0.25 and contrast x0.5..1.5 around each clip's mean."""
    clips = clips + (_per_clip(clips) - 0.5) * 0.5
    mean = clips.mean(dim=(1, 2, 3, 4), keepdim=True)
    return (clips - mean) * (_per_clip(clips) + 0.5) + mean


def translation(clips: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each clip by up to `ratio` of its size (whole pixels), padding with zeros."""
    batch, channels, n_frames, height, width = clips.shape
    draws = torch.rand(batch, 2, device=clips.device) * 2 - 1  # (x, y) per clip
    theta = torch.zeros(batch, 2, 3, device=clips.device, dtype=clips.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    for axis, size in enumerate((width, height)):  # whole pixels, in grid units
        theta[:, axis, 2] = -2 * (draws[:, axis] * (size * ratio)).round() / size
    frames = clips.reshape(batch, channels * n_frames, height, width)
    grid = F.affine_grid(theta, list(frames.shape), align_corners=False)
    moved = F.grid_sample(frames, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return moved.reshape(clips.shape)


def cutout(clips: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one rectangle of `ratio` of each clip's height and width, in all its frames."""
    batch, _, _, height, width = clips.shape
    cut_rows, cut_cols = int(height * ratio), int(width * ratio)
    draws = torch.rand(batch, 2, device=clips.device)
    top = (draws[:, 0] * (height - cut_rows + 1)).long()[:, None, None]
    left = (draws[:, 1] * (width - cut_cols + 1)).long()[:, None, None]
    rows = torch.arange(height, device=clips.device)[None, :, None]
    cols = torch.arange(width, device=clips.device)[None, None, :]
    inside = (rows >= top) & (rows < top + cut_rows) & (cols >= left) & (cols < left + cut_cols)
    return clips * (~inside)[:, None, None].to(clips.dtype)


_OPS = {"color": color, "translation": translation, "cutout": cutout}
assert tuple(_OPS) == AUGMENTATIONS, "every policy config accepts has its operation here"
