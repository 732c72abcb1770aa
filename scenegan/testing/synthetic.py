"""Procedural scenery videos written with PyAV: moving sea, drifting clouds, swaying grass.

They are what `scenegan demo` serves from its local Flickr stand-in, so the whole chain
(fetch -> build-dataset -> train -> sample) can run offline on videos the project makes itself.
"""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from scenegan.files import atomic_path

SCENES = ("sea", "clouds", "grass")


def _smooth_noise(rng: np.random.Generator, height: int, width: int, scale: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: random values on a coarse grid, bilinearly enlarged."""
    import cv2

    coarse = rng.random((height // scale + 2, width // scale + 2)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def scene_frames(
    scene: str, n_frames: int, height: int, width: int, fps: float, seed: int
) -> np.ndarray:
    """(n_frames, height, width, 3) uint8 RGB frames of one procedural scene."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    horizon = int(height * rng.uniform(0.35, 0.55))
    sky = 0.55 + 0.4 * (1 - y / height)
    texture = _smooth_noise(rng, height * 2, width * 2, max(4, width // 10))
    speed = rng.uniform(0.6, 1.4)
    frames = np.empty((n_frames, height, width, 3), np.uint8)
    for index in range(n_frames):
        t = index / fps
        if scene == "sea":
            depth = np.maximum(y - horizon, 0) / max(1, height - horizon)
            waves = np.sin(x * 0.25 / (0.3 + depth) + y * 0.9 - t * 3.0 * speed)
            water = 0.35 + 0.12 * waves * (0.3 + depth)
            gray = np.where(y < horizon, sky, water)
        elif scene == "clouds":
            shift = int(t * 6 * speed) % width
            clouds = texture[:height, shift : shift + width]
            gray = np.where(y < horizon * 1.6, sky * 0.7 + 0.35 * clouds, 0.25 + 0.05 * clouds)
        elif scene == "grass":
            sway = 2.0 * np.sin(t * 2.5 * speed + x * 0.05) * (y / height)
            blades = 0.5 + 0.5 * np.sin((x + sway) * 0.8) * np.sin(y * 0.15)
            gray = np.where(y < horizon, sky, 0.2 + 0.3 * blades)
        else:
            raise ValueError(f"unknown scene {scene!r}; choose one of {SCENES}")
        tint = (
            np.array([0.9, 1.0, 1.1], np.float32)
            if scene != "grass"
            else np.array([0.8, 1.1, 0.7], np.float32)
        )
        frames[index] = np.clip(gray[..., None] * tint * 255, 0, 255).astype(np.uint8)
    return frames


def write_video(path: Path, frames: np.ndarray, fps: int = 24) -> Path:
    """Encode (T, H, W, 3) uint8 RGB frames as an H.264 MP4 (written to a temporary name)."""
    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


def write_scenery(
    folder: Path, n_videos: int = 6, seconds: float = 6.0, fps: int = 24
) -> list[Path]:
    """Write `n_videos` procedural scenery MP4s (160 x 90) into `folder`; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(n_videos):
        scene = SCENES[number % len(SCENES)]
        frames = scene_frames(scene, int(seconds * fps), 90, 160, fps, seed=number)
        paths.append(write_video(folder / f"{scene}-{number:02d}.mp4", frames, fps))
    return paths
