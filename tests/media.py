"""Test data makers shared by the test modules (tests never import from each other).

Tiny videos written with PyAV for the dataset-build tests (moving, static, cut, panning, rotated,
and broken files), a smooth textured photo with known statistics, and a tiny generator with
random weights and the generator interface."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import torch

from scenegan.clip_format import CLIP


def moving_texture(
    n_frames: int, height: int, width: int, seed: int = 0, speed: float = 1.0
) -> np.ndarray:
    """(T, H, W) uint8: a fixed random texture with standing waves that swell in place.

    Nothing translates, so the camera-motion filter sees no pan, yet every frame changes.
    """
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 190, size=(height // 8 + 1, width // 8 + 1)).astype(np.float32)
    base = np.kron(base, np.ones((8, 8), np.float32))[:height, :width]
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = []
    for t in range(n_frames):
        waves = 30 * np.sin(x / width * 9) * np.sin(y / height * 7) * np.cos(t * 0.9 * speed)
        waves += (
            20 * np.sin(x / width * 23 + 1) * np.sin(y / height * 13) * np.cos(t * 1.7 * speed + 1)
        )
        frames.append(np.clip(base + waves, 0, 255))
    return np.stack(frames).astype(np.uint8)


def panning_texture(n_frames: int, height: int, width: int, step: int, seed: int = 0):
    """(T, H, W) uint8: a still random texture seen by a camera moving `step` pixels a frame."""
    rng = np.random.default_rng(seed)
    big = rng.integers(0, 256, size=(height // 4 + 1, (width + step * n_frames) // 4 + 2))
    big = np.kron(big.astype(np.uint8), np.ones((4, 4), np.uint8))
    return np.stack([big[:height, t * step : t * step + width] for t in range(n_frames)])


def write_video(
    path: Path,
    frames: np.ndarray,
    fps: int = 30,
    rotation: int = 0,
    codec: str = "libx264",
    faststart: bool = False,
) -> Path:
    """Write (T, H, W) gray or (T, H, W, 3) RGB uint8 frames as an H.264 MP4 (yuv420p).

    `faststart` puts the index (moov) before the data, as web videos do.
    """
    if frames.ndim == 3:
        frames = np.repeat(frames[..., None], 3, axis=3)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18", "preset": "ultrafast"}
        if rotation:
            stream.set_display_rotation(rotation)
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=8000, layout="mono")
        for i in range(8):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 8000, i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_truncated(path: Path, source: Path, keep: float = 0.5) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def textured_photo(height=45, width=80, seed=0) -> np.ndarray:
    """A smooth random texture in 40..215 (float grey levels)."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[0:height, 0:width]
    photo = np.zeros((height, width))
    for _ in range(6):
        fy, fx, phase = rng.uniform(0.05, 0.3), rng.uniform(0.05, 0.3), rng.uniform(0, 6)
        photo += np.sin(fy * ys + fx * xs + phase)
    return 127.5 + 87.5 * photo / np.abs(photo).max()


class TinyGenerator(torch.nn.Module):
    """Random weights with the generator interface: photo + noise -> clip in [-1, 1]."""

    noise_dim = 4

    def __init__(self, fmt=CLIP, dataset_fmt=CLIP):
        super().__init__()
        self.fmt, self.dataset_fmt = fmt, dataset_fmt  # SMALL: stage small of a CLIP dataset
        torch.manual_seed(0)
        self.mix = torch.nn.Linear(self.noise_dim, fmt.n_frames)

    def forward(self, photo, z):
        wobble = torch.tanh(self.mix(z))[:, None, :, None, None]  # (B, 1, T, 1, 1)
        return (photo.unsqueeze(2) * 0.8 + 0.2 * wobble).clamp(-1, 1)


def write_panning_dataset(root: Path, n_clips: int = 16, fps: float = 12.0) -> np.ndarray:
    """A dataset of one val shard: textured photos panning right one pixel per frame, from 4
    source videos; returns the uint8 (N, 32, 45, 80) clips."""
    clips = []
    for i in range(n_clips):
        wide = textured_photo(height=CLIP.height, width=CLIP.width + CLIP.n_frames, seed=i)
        wide = wide.round().astype(np.uint8)
        offsets = range(CLIP.n_frames, 0, -1)
        clips.append(np.stack([wide[:, o : o + CLIP.width] for o in offsets]))
    clips = np.stack(clips)
    write_splits(root, {"val": (clips, [f"video{i % 4}" for i in range(n_clips)])}, fps)
    return clips


def write_splits(root: Path, splits: dict, fps: float = 12.0) -> Path:
    """A dataset folder written through the dataset contract (shards.py): one shard per split,
    `splits` mapping a split to (uint8 (N, 32, 45, 80) clips, a source id per clip)."""
    from scenegan.pipeline.shards import shard_name, write_index, write_shard

    root.mkdir(parents=True, exist_ok=True)
    shards = []
    for split, (clips, ids) in splits.items():
        name = shard_name(split, 0)
        write_shard(root / name, clips, ids, [0.0] * len(clips), {i: {} for i in ids})
        shards.append({"file": name, "split": split, "n_clips": len(clips)})
    write_index(root, CLIP, fps, shards, {})
    return root


def smooth_texture(height: int, width: int, seed: int = 0, scale: int = 6) -> np.ndarray:
    """(H, W) float32 in 28..228: random values on a coarse grid, bicubically enlarged."""
    import cv2

    rng = np.random.default_rng(seed)
    coarse = rng.random((height // scale + 2, width // scale + 2)).astype(np.float32)
    texture = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return 28 + 200 * texture.clip(0, 1)


def moving_window(
    positions: list[tuple[float, float]], height: int = 45, width: int = 80, seed: int = 0
) -> np.ndarray:
    """(T, H, W) uint8: a window onto a larger smooth texture, its content displaced by
    (dx, dy) pixels in frame t (sub-pixel, bilinear): the flow from frame t to t+1 is known."""
    import cv2

    margin = 40
    texture = smooth_texture(height + 2 * margin, width + 2 * margin + 200, seed)
    frames = []
    for dx, dy in positions:
        # output pixel (x, y) shows texture (x + margin - dx, y + margin - dy): content moves +dx
        warp = np.float32([[1, 0, margin - dx], [0, 1, margin - dy]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        frame = cv2.warpAffine(texture, warp, (width, height), flags=flags)
        frames.append(np.clip(np.rint(frame), 0, 255))
    return np.stack(frames).astype(np.uint8)
