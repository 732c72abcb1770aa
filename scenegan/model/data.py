"""Training clips, held in memory as one uint8 tensor or streamed from the HDF5 shards, sampled
at random, one share per rank."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from scenegan.clip_format import ClipFormat, channels_first
from scenegan.errors import UserError
from scenegan.model.downsample import downsample
from scenegan.pipeline.shards import open_shard, read_index, read_motion, read_split


def motion_targets(motion: dict, dataset_fmt: ClipFormat, fmt: ClipFormat) -> dict:
    """A split's measured motion (shards.read_motion) as tensors at the stage's format `fmt`,
    in its pixels: `mean_flow` (N, 2, H, W) and `motion_map` (N, H, W) float16 area-resampled
    and scaled by fmt.width / dataset_fmt.width; `motion` (N,) stays at the dataset's size
    (the generators' input is in its pixels); `fps` (N,)."""
    scale = fmt.width / dataset_fmt.width
    mean_flow = torch.from_numpy(motion["mean_flow"]).permute(0, 3, 1, 2).float()
    motion_map = torch.from_numpy(motion["motion_map"]).float()[:, None]
    if fmt.frame_shape != dataset_fmt.frame_shape:
        mean_flow = F.interpolate(mean_flow, size=fmt.frame_shape, mode="area")
        motion_map = F.interpolate(motion_map, size=fmt.frame_shape, mode="area")
    return {
        "mean_flow": (mean_flow * scale).half(),
        "motion_map": (motion_map[:, 0] * scale).half(),
        "motion": torch.from_numpy(np.asarray(motion["motion"], np.float32)),
        "fps": torch.from_numpy(np.asarray(motion["fps"], np.float32)),
    }


class StreamedClips:
    """The training split's clips read from the shards on demand, area-downsampled to `fmt`.

    Indexable like the in-memory uint8 tensor: `clips[indices]` -> uint8 (n, *fmt.shape). Each
    process opens its own read-only handles (h5py handles must not cross a fork).
    """

    def __init__(self, paths: list[Path], fmt: ClipFormat):
        self.fmt = fmt
        self.files = [open_shard(path) for path in paths]
        sizes = [f["clips"].shape[0] for f in self.files]
        self.starts = np.cumsum([0, *sizes])
        self.shape = (int(self.starts[-1]), *fmt.shape)

    def __getitem__(self, indices: torch.Tensor) -> torch.Tensor:
        indices = np.asarray(indices)
        shard_of = np.searchsorted(self.starts, indices, side="right") - 1
        out = torch.empty((len(indices), *self.shape[1:]), dtype=torch.uint8)
        for shard in np.unique(shard_of):
            where = np.flatnonzero(shard_of == shard)
            rows = indices[where] - self.starts[shard]
            # h5py reads increasing, unique rows; a batch may pick one clip twice
            unique, inverse = np.unique(rows, return_inverse=True)
            clips = torch.from_numpy(self.files[shard]["clips"][unique])
            out[torch.from_numpy(where)] = downsample(clips, self.fmt)[inverse]
        return out


def physical_memory() -> int:
    """Bytes of RAM on this machine (Linux and macOS)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class ClipBank:
    """All training clips of a dataset at one stage's format `fmt`, as uint8 (N, *fmt.shape).

    `sample` draws a batch from this rank's share (clips rank, rank + world, ...), like
    DistributedSampler, with random horizontal flips. `dataset_fmt` is the format the dataset
    stores (stage large's).
    """

    def __init__(
        self,
        clips: torch.Tensor | StreamedClips,
        fmt: ClipFormat,
        *,
        dataset_fmt: ClipFormat | None = None,
        rank: int = 0,
        world_size: int = 1,
        motion: dict[str, torch.Tensor] | None = None,
    ):
        self.clips, self.fmt = clips, fmt
        self.motion = motion  # per-clip measured motion at `fmt` (motion_targets), or None
        self.dataset_fmt = dataset_fmt or fmt
        self.streamed = isinstance(clips, StreamedClips)
        self.indices = np.arange(rank, clips.shape[0], world_size)
        if len(self.indices) == 0:
            raise UserError(
                f"rank {rank} has no clips: the dataset has {clips.shape[0]} training clips for "
                f"{world_size} processes; build a larger dataset"
            )

    @classmethod
    def from_dataset(
        cls,
        root: Path | str,
        stage: str,
        *,
        rank: int = 0,
        world_size: int = 1,
        stream: bool | None = None,
        with_motion: bool = False,
    ) -> ClipBank:
        """The training split of the dataset at `root`, at `stage`'s format of the dataset's
        own. `stream`: read clips from the shards as batches need them; None (auto) streams
        when the split would take more than a quarter of this machine's memory per process."""
        index = read_index(root)
        fmt = index.fmt.stage(stage)
        if index.n_clips("train") == 0:
            raise UserError(f"the dataset at {root} has no training clips; build a larger one")
        if stream is None:
            needed = index.n_clips("train") * index.fmt.n_bytes * world_size
            stream = needed > physical_memory() / 4
        shares = {"dataset_fmt": index.fmt, "rank": rank, "world_size": world_size}
        if with_motion:
            shares["motion"] = motion_targets(read_motion(root, "train"), index.fmt, fmt)
        if stream:
            return cls(StreamedClips(index.files("train"), fmt), fmt, **shares)
        clips, _ = read_split(root, "train")
        return cls(downsample(torch.from_numpy(clips), fmt), fmt, **shares)

    def __len__(self) -> int:
        return len(self.indices)

    def sample(self, rng: np.random.Generator, batch_size: int) -> torch.Tensor:
        """A random batch as float (B, C, T, H, W) in [-1, 1]."""
        return self.sample_with_targets(rng, batch_size)[0]

    def sample_with_targets(
        self, rng: np.random.Generator, batch_size: int
    ) -> tuple[torch.Tensor, dict | None]:
        """A random batch as `sample` draws it (the same draws), and the measured motion of its
        clips, flipped with them (None for a bank without motion)."""
        picks = self.indices[rng.integers(0, len(self.indices), batch_size)]
        flips = torch.from_numpy(rng.random(batch_size) < 0.5)
        batch = self.as_unit(picks)
        batch[flips] = batch[flips].flip(-1)
        if self.motion is None:
            return batch, None
        rows = torch.from_numpy(picks)
        targets = {key: value[rows] for key, value in self.motion.items()}
        targets["motion_map"][flips] = targets["motion_map"][flips].flip(-1)
        flow = targets["mean_flow"]
        flow[flips] = flow[flips].flip(-1) * flow.new_tensor([-1.0, 1.0]).view(1, 2, 1, 1)
        return batch, targets

    def fixed(self, count: int) -> torch.Tensor:
        """`count` clips spread evenly over the bank (for sample grids), float (B, C, T, H, W)."""
        picks = self.indices[np.linspace(0, len(self.indices) - 1, count).round().astype(int)]
        return self.as_unit(picks)

    def as_unit(self, picks: np.ndarray) -> torch.Tensor:
        """The clips at `picks` as float (B, C, T, H, W) in [-1, 1]."""
        clips = self.clips[torch.from_numpy(picks)]
        return channels_first(clips, self.fmt).float().div_(127.5).sub_(1.0).contiguous()
