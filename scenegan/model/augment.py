"""Differentiable augmentation of the clips D sees (DiffAugment, Zhao et al. 2020), for video.

With a few hundred training clips D soon memorises them and its gradients stop helping G (the
D loss falls towards 0 while samples get worse). Augmenting real and generated clips alike,
inside the graph so G's gradients pass through, keeps D from memorising without teaching G to
make augmented clips. Each clip gets one draw, the same for all its frames, so the motion and
drift D reads from it are left as they were.
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
    limits = torch.tensor([width, height], device=clips.device) * ratio
    shifts = ((torch.rand(batch, 2, device=clips.device) * 2 - 1) * limits).round()
    theta = torch.zeros(batch, 2, 3, device=clips.device, dtype=clips.dtype)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = -2 * shifts / torch.tensor([width, height], device=clips.device)
    frames = clips.reshape(batch, channels * n_frames, height, width)
    grid = F.affine_grid(theta, list(frames.shape), align_corners=False)
    moved = F.grid_sample(frames, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return moved.reshape(clips.shape)


def cutout(clips: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one rectangle of `ratio` of each clip's height and width, in all its frames."""
    batch, _, _, height, width = clips.shape
    size = torch.tensor([height, width], device=clips.device)
    cut = (size * ratio).long()
    corner = (torch.rand(batch, 2, device=clips.device) * (size - cut + 1)).long()
    rows = torch.arange(height, device=clips.device)[None, :, None]
    cols = torch.arange(width, device=clips.device)[None, None, :]
    top, left = corner[:, 0, None, None], corner[:, 1, None, None]
    inside = (rows >= top) & (rows < top + cut[0]) & (cols >= left) & (cols < left + cut[1])
    return clips * (~inside)[:, None, None].to(clips.dtype)


_OPS = {"color": color, "translation": translation, "cutout": cutout}
assert tuple(_OPS) == AUGMENTATIONS, "every policy config accepts has its operation here"
