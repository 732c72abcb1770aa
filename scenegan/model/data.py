"""Training clips held in memory as one uint8 tensor, sampled at random, one share per rank."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from scenegan.clip_format import CLIP, ClipFormat
from scenegan.errors import UserError
from scenegan.pipeline.shards import read_index, read_split


def downsample_clips(clips: torch.Tensor, fmt: ClipFormat, chunk: int = 256) -> torch.Tensor:
    """uint8 (N, T, H, W) -> uint8 (N, T, fmt.height, fmt.width) by area averaging, in chunks."""
    if clips.shape[-2:] == fmt.frame_shape:
        return clips
    out = torch.empty((clips.shape[0], clips.shape[1], *fmt.frame_shape), dtype=torch.uint8)
    for start in range(0, clips.shape[0], chunk):
        part = clips[start : start + chunk].float()
        small = F.interpolate(part, size=fmt.frame_shape, mode="area")
        out[start : start + chunk] = small.round_().clamp_(0, 255).to(torch.uint8)
    return out


class ClipBank:
    """All training clips of a dataset at one stage's resolution, as uint8 (N, T, H, W).

    `sample` draws a batch from this rank's share (clips rank, rank + world, ...), like
    DistributedSampler, with random horizontal flips.
    """

    def __init__(self, clips: torch.Tensor, *, rank: int = 0, world_size: int = 1):
        self.clips = clips
        self.indices = np.arange(rank, clips.shape[0], world_size)
        if len(self.indices) == 0:
            raise UserError(
                f"rank {rank} has no clips: the dataset has {clips.shape[0]} training clips for "
                f"{world_size} processes; build a larger dataset"
            )

    @classmethod
    def from_dataset(
        cls, root: Path | str, fmt: ClipFormat, *, rank: int = 0, world_size: int = 1
    ) -> ClipBank:
        index = read_index(root)
        if index.fmt != CLIP:
            raise UserError(f"{root} holds clips of {index.fmt}, expected {CLIP}; rebuild it")
        clips, _ = read_split(root, "train")
        if len(clips) == 0:
            raise UserError(f"the dataset at {root} has no training clips; build a larger one")
        return cls(downsample_clips(torch.from_numpy(clips), fmt), rank=rank, world_size=world_size)

    def __len__(self) -> int:
        return len(self.indices)

    def sample(self, rng: np.random.Generator, batch_size: int) -> torch.Tensor:
        """A random batch as float (B, 1, T, H, W) in [-1, 1]."""
        picks = self.indices[rng.integers(0, len(self.indices), batch_size)]
        flips = torch.from_numpy(rng.random(batch_size) < 0.5)
        batch = self.clips[torch.from_numpy(picks)].float().div_(127.5).sub_(1.0)
        batch[flips] = batch[flips].flip(-1)
        return batch[:, None]

    def fixed(self, count: int) -> torch.Tensor:
        """`count` clips spread evenly over the bank (for sample grids), float (B, 1, T, H, W)."""
        picks = self.indices[np.linspace(0, len(self.indices) - 1, count).round().astype(int)]
        return self.clips[torch.from_numpy(picks)].float().div_(127.5).sub_(1.0)[:, None]
