"""What a photo says about where its scene moves and where its texture changes.

Per-pixel features of the photo (position, colour, brightness, texture at several scales; in
colour and at the context's detail where the dataset keeps a `context`, else from the grey
photo) feed two ridge regressions fit on the training clips, held in buffers of the motion
generator so that they travel with its weights:

- **places**: the clip's measured `motion_map` as log(px a frame + 0.01), minus its mean (where,
  not how much), spread by a factor chosen on photos the fit never saw;
- **amount** (once `export --calibrate` refits it, model/calibrate.py): the clip's log motion
  from the features pooled over the photo (mean and spread of each channel) and the log frame
  rate, in place of the amount head on the generator's own encoder;
- **texture**: the innovation's amplitude, per pixel: the real frame t minus the photo warped to
  frame t by the clip's own DIS flow (foam, flicker, sparkle: change no warp explains), as
  log(RMS grey levels + 1), from the same features and the clip's log amount.

The texture is driven by noise with the innovation's measured temporal and spatial correlation
(an AR(1) process in time, Gaussian-smoothed white noise in space), zero at frame 0, drawn in
one of three styles (`texture_style`, an index into TEXTURE_STYLES):

- **grain**: the noise added to the frames, in grey levels;
- **flutter**: the noise as a small displacement of the photo's own texture, sized per pixel
  so that the photo's local gradient turns it into the predicted RMS change (grey levels over
  grey levels a pixel, at most FLUTTER_MAX px). Foam, ripples and leaves change where the photo
  has detail to change, and flat sky or still water stays flat;
- **carried**: the noise added to the photo before each frame's warp, so that it travels with
  the motion (foam carried by the stream) instead of standing on the screen.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from scenegan.pipeline.motion_fields import flow_estimator, gray_frames

SPEED_FLOOR = 0.01  # px a frame, as evaluate's where corr
TEXTURE_FLOOR = 1.0  # grey levels: the texture target is log(RMS innovation + TEXTURE_FLOOR)
CONTEXT_SCALE = 4  # the encoder reads the photo at 4x the clip's size (the context's)
GRADIENT_FLOOR = 4.0  # grey levels a pixel: flutter's px = RMS / (local gradient + floor)
FLUTTER_MAX = 1.5  # px: flutter's largest RMS displacement
TEXTURE_STYLES = ("grain", "flutter", "carried")  # texture_style 0, 1, 2


def innovation(clip: np.ndarray) -> np.ndarray:
    """(T, H, W) float32 grey levels: each frame of a uint8 clip (T, H, W[, 3]) minus its first
    frame warped to it along the clip's measured flow (DIS from each frame to the one before,
    composed back to the first); frame 0 gives 0. Places whose content came from outside the
    first frame (entering at an edge) count as change too."""
    gray = gray_frames(np.asarray(clip))
    height, width = gray.shape[1:]
    dis = flow_estimator()
    grid_x, grid_y = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height))
    identity = np.stack([grid_x, grid_y.astype(np.float32)], axis=-1)  # (H, W, 2)
    source = identity.copy()  # where each pixel of frame t was in frame 0
    first = gray[0].astype(np.float32)
    out = np.zeros(gray.shape, np.float32)
    for t in range(1, len(gray)):
        back = dis.calc(np.ascontiguousarray(gray[t]), np.ascontiguousarray(gray[t - 1]), None)
        at = identity + back  # where each pixel of frame t was in frame t - 1
        source = cv2.remap(source, at[..., 0], at[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        warped = cv2.remap(first, source[..., 0], source[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)  # fmt: skip
        out[t] = gray[t].astype(np.float32) - warped
    return out


def innovation_statistics(innovations: np.ndarray) -> dict:
    """Amplitude maps and the correlation of (N, T, H, W) innovations: per clip the RMS over
    frames (N, H, W), the lag-1 correlation in time (AR(1) rho) and in space."""
    rms = np.sqrt((innovations[:, 1:] ** 2).mean(axis=1))
    x = innovations[:, 1:]
    rho_time = float((x[:, 1:] * x[:, :-1]).mean() / ((x**2).mean() + 1e-9))
    rho_space = float((x[..., 1:] * x[..., :-1]).mean() / ((x**2).mean() + 1e-9))
    return {"rms": rms, "rho_time": rho_time, "rho_space": rho_space}


def smoothing_sigma(rho_space: float) -> float:
    """The Gaussian sigma (pixels) whose smoothed white noise has lag-1 correlation rho_space:
    exp(-1 / (4 sigma^2)) = rho."""
    rho = float(np.clip(rho_space, 0.05, 0.98))
    return float(np.sqrt(-1.0 / (4.0 * np.log(rho))))


def fit_ridge(x: np.ndarray, y: np.ndarray, strength: float, weights: np.ndarray | None = None):
    """Ridge regression of y (n,) on standardised x (n, d): (mean, std, beta (d + 1,))."""
    x = x.astype(np.float64)
    mean, std = x.mean(0), x.std(0) + 1e-6
    z = np.concatenate([(x - mean) / std, np.ones((len(x), 1))], axis=1)
    w = np.ones(len(x)) if weights is None else weights
    penalty = strength * np.eye(z.shape[1])
    penalty[-1, -1] = 0.0  # the intercept is not shrunk
    beta = np.linalg.solve((z * w[:, None]).T @ z + penalty, (z * w[:, None]).T @ y)
    return mean.astype(np.float32), std.astype(np.float32), beta.astype(np.float32)


class ScenePrior(nn.Module):
    """The fitted regressions (buffers): per-pixel features (B, H, W, D) -> relative log
    places, log texture RMS."""

    def __init__(self, n_features: int) -> None:
        super().__init__()
        d = n_features
        self.register_buffer("fitted", torch.tensor(0.0))  # 1 once export --calibrate fit it
        self.register_buffer("reads_context", torch.tensor(0.0))  # 1: fit on colour contexts
        self.register_buffer("feature_mean", torch.zeros(d))
        self.register_buffer("feature_std", torch.ones(d))
        self.register_buffer("places_beta", torch.zeros(d + 1))
        self.register_buffer("places_spread", torch.tensor(1.0))
        self.register_buffer("texture_beta", torch.zeros(d + 2))  # features, log amount, 1
        self.register_buffer("texture_gain", torch.tensor(1.0))
        # the texture's RMS times (relative speed of the place) ** texture_gate: 1 puts it where
        # the places say the scene moves, 0 where the texture regression alone says
        self.register_buffer("texture_gate", torch.tensor(0.0))
        self._register_load_state_dict_pre_hook(_older_priors)
        self.register_buffer("texture_rho", torch.tensor(0.0))  # AR(1) coefficient in time
        self.register_buffer("texture_style", torch.tensor(0.0))  # index into TEXTURE_STYLES
        self.register_buffer("reads_amount", torch.tensor(0.0))  # 1: amount_beta sets the amount
        self.register_buffer("amount_beta", torch.zeros(2 * d + 2))  # pooled, log fps, 1
        self.register_buffer("texture_sigma", torch.tensor(0.0))  # spatial smoothing, px

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted.item() > 0)

    @property
    def style(self) -> str:
        return TEXTURE_STYLES[int(self.texture_style.item())]

    @property
    def sets_amount(self) -> bool:
        return bool(self.reads_amount.item() > 0)

    def log_amount(self, pooled: torch.Tensor) -> torch.Tensor:
        """(B,) log(motion + 0.01) from pooled_features (B, 2 D + 1)."""
        return pooled.float() @ self.amount_beta[:-1] + self.amount_beta[-1]

    def standardised(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.feature_mean) / self.feature_std

    def places(self, features: torch.Tensor) -> torch.Tensor:
        """(B, H, W, D) features -> (B, H, W) relative log speed, spread, mean 0."""
        z = self.standardised(features)
        raw = z @ self.places_beta[:-1] + self.places_beta[-1]
        raw = raw - raw.mean(dim=(1, 2), keepdim=True)
        return self.places_spread * raw

    def texture_rms(
        self, features: torch.Tensor, log_amount: torch.Tensor, places: torch.Tensor
    ) -> torch.Tensor:
        """(B, H, W) RMS innovation in grey levels, for (B,) log(motion + 0.01) and the places
        (B, H, W) relative log speed."""
        z = self.standardised(features)
        beta = self.texture_beta
        log_rms = z @ beta[:-2] + beta[-2] * log_amount[:, None, None] + beta[-1]
        rms = (log_rms.exp() - TEXTURE_FLOOR).clamp(min=0)
        relative = places.exp() / places.exp().mean(dim=(1, 2), keepdim=True)
        return self.texture_gain * rms * relative.clamp(max=4.0) ** self.texture_gate

    def texture_noise(self, rms: torch.Tensor, n_frames: int, seeds: list[int]) -> torch.Tensor:
        """(B, T, H, W) noise in grey levels: AR(1) in time from 0 at frame 0, smoothed in
        space, with per-pixel RMS over frames 1..T-1 of `rms` (B, H, W)."""
        rho = float(self.texture_rho)
        sigma = float(self.texture_sigma)
        batch, height, width = rms.shape
        out = torch.zeros(batch, n_frames, height, width)
        for b, seed in enumerate(seeds):
            generator = torch.Generator().manual_seed(seed)
            white = torch.randn(n_frames, height, width, generator=generator).numpy()
            if sigma > 0.3:
                white = np.stack([cv2.GaussianBlur(w, (0, 0), sigma) for w in white])
                white /= white.std() + 1e-6
            e = np.zeros((height, width), np.float32)
            for t in range(1, n_frames):
                e = rho * e + np.sqrt(1 - rho**2) * white[t]
                out[b, t] = torch.from_numpy(e)
        level = (1 - rho ** (2 * torch.arange(1, n_frames).float())).mean().sqrt()
        return out * (rms[:, None].cpu() / level)


def pooled_features(features: torch.Tensor, log_fps: torch.Tensor) -> torch.Tensor:
    """(B, 2 D + 1): per-pixel features (B, h, w, D) pooled over the photo (each channel's mean
    and standard deviation) and the log frame rate (B,)."""
    flat = features.float().flatten(1, 2)
    return torch.cat([flat.mean(dim=1), flat.std(dim=1), log_fps.float()[:, None]], dim=1)


def flutter_pixels(rms: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """(B, H, W) RMS displacement in pixels that makes the photo (B, 1, H, W) in [-1, 1] change
    by about `rms` grey levels: rms over its local gradient (grey levels a pixel, averaged over
    3 x 3), at most FLUTTER_MAX."""
    grey = (photo.float() + 1) * 127.5
    padded = F.pad(grey, (1, 1, 1, 1), mode="replicate")
    dx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2
    dy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
    gradient = (dx.square() + dy.square()).sqrt()
    gradient = F.avg_pool2d(gradient, 3, stride=1, padding=1, count_include_pad=False)[:, 0]
    return (rms / (gradient + GRADIENT_FLOOR)).clamp(max=FLUTTER_MAX)


def _older_priors(state_dict, prefix, *args) -> None:
    """Priors fit before the texture followed the places: the texture where its regression says,
    as grain; before the prior could set the amount: the amount head's."""
    state_dict.setdefault(prefix + "texture_gate", torch.tensor(0.0))
    state_dict.setdefault(prefix + "texture_style", torch.tensor(0.0))
    if prefix + "feature_mean" in state_dict:  # before the prior could set the amount
        n_features = state_dict[prefix + "feature_mean"].shape[0]
        state_dict.setdefault(prefix + "reads_amount", torch.tensor(0.0))
        state_dict.setdefault(prefix + "amount_beta", torch.zeros(2 * n_features + 2))


def noise_seeds(z: torch.Tensor) -> list[int]:
    """One seed per noise vector: the same z gives the same texture."""
    digests = (hashlib.sha256(row.detach().cpu().float().numpy().tobytes()) for row in z)
    return [int.from_bytes(digest.digest()[:8], "little") % 2**63 for digest in digests]
