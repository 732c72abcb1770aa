"""Training clips, held as one uint8 tensor on the training device or streamed from the HDF5
shards, sampled at random, one share per rank."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from scenegan.clip_format import ClipFormat, channels_first
from scenegan.errors import UserError
from scenegan.model.downsample import downsample
from scenegan.pipeline.shards import (
    DatasetIndex,
    Shard,
    as_index,
    read_fields,
    read_motion,
    read_split,
)


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

    Indexable like the in-memory uint8 tensor: `clips[indices]` -> uint8 (n, *fmt.shape). The
    shards are the open ones of this process's index (each process reads its own: open files
    must not cross a fork).
    """

    def __init__(self, shards: list[Shard], fmt: ClipFormat):
        self.fmt = fmt
        self.shards = shards
        self.starts = np.cumsum([0, *(len(shard) for shard in shards)])
        self.shape = (int(self.starts[-1]), *fmt.shape)

    def __getitem__(self, indices: torch.Tensor) -> torch.Tensor:
        indices = np.asarray(indices)
        shard_of = np.searchsorted(self.starts, indices, side="right") - 1
        out = torch.empty((len(indices), *self.shape[1:]), dtype=torch.uint8)
        for shard in np.unique(shard_of):
            where = np.flatnonzero(shard_of == shard)
            clips = torch.from_numpy(self.shards[shard].clips(indices[where] - self.starts[shard]))
            out[torch.from_numpy(where)] = downsample(clips, self.fmt)
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
        motion: dict[str, torch.Tensor] | None = None,
    ):
        """`clips`: uint8 at `fmt` or at `dataset_fmt` (area-downsampled here, on `device`),
        or StreamedClips; `motion`: per-clip measured motion at `fmt` (motion_targets) of
        all the clips, or None."""
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
            if motion is not None and world_size > 1:
                motion = {key: value[rank::world_size] for key, value in motion.items()}
        # the motion of the clips (streamed: of all of them), indexed like `clips`
        self.motion = None if motion is None else {k: v.to(self.device) for k, v in motion.items()}

    @classmethod
    def from_dataset(
        cls,
        dataset: Path | str | DatasetIndex,
        stage: str,
        *,
        rank: int = 0,
        world_size: int = 1,
        stream: bool | None = None,
        device: torch.device | str = "cpu",
        with_motion: bool = False,
        video_fraction: float = 1.0,
    ) -> ClipBank:
        """The training split of a dataset (its folder or its index, read once), at `stage`'s
        format of the dataset's own. `stream`: read clips from the shards as batches need them;
        None (auto) streams when the split would take more than a quarter of this machine's
        memory per process, or this rank's share more than a quarter of the GPU's free
        memory. `video_fraction` < 1 keeps the clips of that share of the training videos
        (nested_videos)."""
        index = as_index(dataset)
        root = index.root
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
        if with_motion:
            shares["motion"] = motion_targets(read_motion(index, "train"), index.fmt, fmt)
        if stream:
            bank = cls(StreamedClips(index.split("train"), fmt), fmt, device=device, **shares)
        else:
            clips, _ = read_split(index, "train")
            bank = cls(torch.from_numpy(clips), fmt, device=device, **shares)
        if video_fraction < 1:
            sources = read_fields(index, "train", ("source_id",))["source_id"]
            keep = np.isin(sources, nested_videos(sources, video_fraction))
            bank.keep_rows(keep, rank, world_size)
        return bank

    def keep_rows(self, keep: np.ndarray, rank: int, world_size: int) -> None:
        """Draw only the clips whose row of the whole split is marked in `keep` (N,) bool."""
        rows = self.indices if self.streamed else rank + self.indices * world_size
        self.indices = self.indices[keep[rows]]
        if len(self.indices) == 0:
            raise UserError("--video-fraction leaves this process no clips; raise it")

    def __len__(self) -> int:
        return len(self.indices)

    def sample(self, rng: np.random.Generator, batch_size: int) -> torch.Tensor:
        """A random batch as float (B, C, T, H, W) in [-1, 1] on the bank's device, each clip
        flipped left-right with probability 1/2."""
        return self.sample_with_targets(rng, batch_size)[0]

    def sample_with_targets(
        self, rng: np.random.Generator, batch_size: int
    ) -> tuple[torch.Tensor, dict | None]:
        """A random batch as `sample` draws it (the same draws), and the measured motion of its
        clips, flipped with them (None for a bank without motion); all on the bank's device."""
        picks = self.indices[rng.integers(0, len(self.indices), batch_size)]
        flips = self.to_device(torch.from_numpy(rng.random(batch_size) < 0.5))
        clips = channels_first(self.take(picks), self.fmt)  # uint8 (B, C, T, H, W)
        clips = torch.where(flips[:, None, None, None, None], clips.flip(-1), clips)
        batch = to_unit_float(clips)
        if self.motion is None:
            return batch, None
        rows = self.to_device(torch.from_numpy(picks))
        targets = {key: value[rows] for key, value in self.motion.items()}
        speed = targets["motion_map"]  # (B, H, W)
        targets["motion_map"] = torch.where(flips[:, None, None], speed.flip(-1), speed)
        flow = targets["mean_flow"]  # (B, 2, H, W): a mirrored clip flows the other way in x
        mirrored = flow.flip(-1)
        mirrored = torch.stack([-mirrored[:, 0], mirrored[:, 1]], dim=1)
        targets["mean_flow"] = torch.where(flips[:, None, None, None], mirrored, flow)
        return batch, targets

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


def nested_videos(sources: list[str], fraction: float) -> list[str]:
    """The first `fraction` (at least one) of the distinct videos in `sources`, ordered by a
    hash of their ids: a smaller fraction's videos are all in a larger one's."""
    videos = sorted(set(sources), key=lambda v: hashlib.sha256(f"nested:{v}".encode()).digest())
    return videos[: max(1, round(fraction * len(videos)))]


def to_unit_float(clips: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, T, H, W) -> float32 in [-1, 1], contiguous."""
    return clips.float().div_(127.5).sub_(1.0).contiguous()
