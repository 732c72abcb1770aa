"""Training clips, held as one uint8 tensor on the training device or streamed from the HDF5
shards, sampled at random, one share per rank."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from scenegan.clip_format import ClipFormat, channels_first
from scenegan.errors import UserError
from scenegan.model.downsample import downsample
from scenegan.pipeline.shards import open_shard, read_index, read_split


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
    """This rank's training clips at one stage's format `fmt`, as uint8 (N, *fmt.shape).

    In memory they live on `device` (the GPU's memory holds thousands of clips as uint8), and a
    batch is drawn, flipped and scaled to [-1, 1] there: the host only picks the indices and
    flips (numpy, so the batches follow the seed on every device and resume exactly) and
    copies them over without waiting. Streamed clips are read from the shards per batch.
    `sample` draws from this rank's share (clips rank, rank + world, ...), like
    DistributedSampler. `dataset_fmt` is the format the dataset stores (stage large's).
    """

    def __init__(
        self,
        clips: torch.Tensor | StreamedClips,
        fmt: ClipFormat,
        *,
        dataset_fmt: ClipFormat | None = None,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | str = "cpu",
    ):
        """`clips`: uint8 at `fmt` or at `dataset_fmt` (area-downsampled here, on `device`),
        or StreamedClips."""
        self.fmt = fmt
        self.dataset_fmt = dataset_fmt or fmt
        self.device = torch.device(device)
        self.streamed = isinstance(clips, StreamedClips)
        indices = np.arange(rank, clips.shape[0], world_size)
        if len(indices) == 0:
            raise UserError(
                f"rank {rank} has no clips: the dataset has {clips.shape[0]} training clips for "
                f"{world_size} processes; build a larger dataset"
            )
        if self.streamed:
            self.clips, self.indices = clips, indices
        else:  # only this rank's share is kept
            share = clips if world_size == 1 else clips[rank::world_size].contiguous()
            self.clips = downsample(share.to(self.device), fmt)
            self.indices = np.arange(len(share))

    @classmethod
    def from_dataset(
        cls,
        root: Path | str,
        stage: str,
        *,
        rank: int = 0,
        world_size: int = 1,
        stream: bool | None = None,
        device: torch.device | str = "cpu",
    ) -> ClipBank:
        """The training split of the dataset at `root`, at `stage`'s format of the dataset's
        own. `stream`: read clips from the shards as batches need them; None (auto) streams
        when the split would take more than a quarter of this machine's memory per process,
        or this rank's share more than a quarter of the GPU's free memory."""
        index = read_index(root)
        fmt = index.fmt.stage(stage)
        device = torch.device(device)
        n_clips = index.n_clips("train")
        if n_clips == 0:
            raise UserError(f"the dataset at {root} has no training clips; build a larger one")
        if stream is None:
            stream = n_clips * index.fmt.n_bytes * world_size > physical_memory() / 4
            if device.type == "cuda" and not stream:
                free, _ = torch.cuda.mem_get_info(device)
                stream = n_clips / world_size * fmt.n_bytes > free / 4
        shares = {"dataset_fmt": index.fmt, "rank": rank, "world_size": world_size}
        if stream:
            return cls(StreamedClips(index.files("train"), fmt), fmt, device=device, **shares)
        clips, _ = read_split(root, "train")
        return cls(torch.from_numpy(clips), fmt, device=device, **shares)

    def __len__(self) -> int:
        return len(self.indices)

    def sample(self, rng: np.random.Generator, batch_size: int) -> torch.Tensor:
        """A random batch as float (B, C, T, H, W) in [-1, 1] on the bank's device, each clip
        flipped left-right with probability 1/2."""
        picks = self.indices[rng.integers(0, len(self.indices), batch_size)]
        flips = self.to_device(torch.from_numpy(rng.random(batch_size) < 0.5))
        clips = channels_first(self.take(picks), self.fmt)  # uint8 (B, C, T, H, W)
        clips = torch.where(flips[:, None, None, None, None], clips.flip(-1), clips)
        return to_unit_float(clips)

    def fixed(self, count: int) -> torch.Tensor:
        """`count` clips spread evenly over the bank (for sample grids), float (B, C, T, H, W)."""
        picks = self.indices[np.linspace(0, len(self.indices) - 1, count).round().astype(int)]
        return self.as_unit(picks)

    def as_unit(self, picks: np.ndarray) -> torch.Tensor:
        """The clips at `picks` as float (B, C, T, H, W) in [-1, 1]."""
        return to_unit_float(channels_first(self.take(picks), self.fmt))

    def take(self, picks: np.ndarray) -> torch.Tensor:
        """uint8 clips (B, *fmt.shape) at `picks`, on the bank's device."""
        if self.streamed:
            return self.to_device(self.clips[picks])
        return self.clips[self.to_device(torch.from_numpy(picks))]

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        """A host tensor on the bank's device; to a GPU through pinned memory, without making
        the host wait for the GPU's queue."""
        if self.device.type == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor.to(self.device)


def to_unit_float(clips: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, T, H, W) -> float32 in [-1, 1], contiguous."""
    return clips.float().div_(127.5).sub_(1.0).contiguous()
