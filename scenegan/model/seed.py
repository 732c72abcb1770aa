"""The 2019 Keras seed's architecture, re-implemented: the baseline every claim is measured by.

The photo is repeated over time and sent through a 3-D convolutional encoder-decoder (no noise);
stage large blends a frozen small model, upsampled, with a new full-resolution one at a constant
weight. Its discriminator is an unconditional stack of strided 3-D convolutions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from scenegan.clip_format import SMALL, STAGE_FORMATS


class SeedNet(nn.Module):
    """photo (B, 1, H, W) -> clip (B, 1, T, H, W): the photo repeated T times, 3-D conv enc-dec."""

    def __init__(self, *, height: int, width: int, n_frames: int, channels: list[int]):
        super().__init__()
        c0, c1, c2 = channels
        self.size, self.n_frames = (height, width), n_frames
        self.enc0 = nn.Conv3d(1, c0, 3, stride=(1, 2, 2), padding=1)
        self.enc1 = nn.Conv3d(c0, c1, 3, stride=2, padding=1)
        self.enc2 = nn.Conv3d(c1, c2, 3, stride=2, padding=1)
        self.dec2 = nn.Conv3d(c2, c1, 3, padding=1)
        self.dec1 = nn.Conv3d(c1, c0, 3, padding=1)
        self.dec0 = nn.Conv3d(c0, 1, 3, padding=1)

    def forward(self, photo: torch.Tensor) -> torch.Tensor:
        x = photo[:, :, None].expand(-1, -1, self.n_frames, -1, -1)  # (B, 1, T, H, W)
        e0 = F.leaky_relu(self.enc0(x), 0.2)
        e1 = F.leaky_relu(self.enc1(e0), 0.2)
        e2 = F.leaky_relu(self.enc2(e1), 0.2)
        x = F.leaky_relu(self.dec2(F.interpolate(e2, size=e1.shape[2:])), 0.2)
        x = F.leaky_relu(self.dec1(F.interpolate(x, size=e0.shape[2:])), 0.2)
        return torch.tanh(self.dec0(F.interpolate(x, size=(self.n_frames, *self.size))))


class SeedGenerator(nn.Module):
    """The seed generator: `G(photo, z)` ignores z (noise_dim 0) as the seed had no noise."""

    def __init__(
        self,
        *,
        stage: str = "small",
        channels: list[int] | tuple[int, ...] = (32, 64, 128),
        blend_alpha: float = 0.5,
    ):
        super().__init__()
        self.stage, self.fmt = stage, STAGE_FORMATS[stage]
        self.noise_dim, self.blend_alpha = 0, blend_alpha
        n_frames = self.fmt.n_frames
        self.small = SeedNet(
            height=SMALL.height, width=SMALL.width, n_frames=n_frames, channels=list(channels)
        )
        if stage == "large":
            self.full = SeedNet(
                height=self.fmt.height,
                width=self.fmt.width,
                n_frames=n_frames,
                channels=list(channels),
            )
            self.small.requires_grad_(False)  # the seed froze its small model
        self.register_buffer("alpha", torch.tensor(1.0))  # unused: the seed's blend is constant

    def forward(self, photo: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if self.stage == "small":
            return self.small(photo)
        height, width = self.fmt.frame_shape
        small_photo = F.interpolate(photo, size=SMALL.frame_shape, mode="area")
        coarse = self.small(small_photo)
        coarse = F.interpolate(coarse, size=(self.fmt.n_frames, height, width), mode="trilinear")
        return self.blend_alpha * coarse + (1 - self.blend_alpha) * self.full(photo)


class SeedDiscriminator(nn.Module):
    """Unconditional clip critic: strided 3-D convolutions at full resolution -> score (B,)."""

    def __init__(
        self, *, stage: str = "small", channels: list[int] | tuple[int, ...] = (32, 64, 128)
    ):
        super().__init__()
        self.stage, self.fmt = stage, STAGE_FORMATS[stage]
        c0, c1, c2 = channels
        layers: list[nn.Module] = []
        c_in = 1
        for c_out in (c0, c1, c2, c2):
            layers += [nn.Conv3d(c_in, c_out, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        with torch.no_grad():
            flat = self.body(torch.zeros(1, 1, *self.fmt.shape)).numel()
        self.head = nn.Linear(flat, 1)
        self.register_buffer("alpha", torch.tensor(1.0))

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(clip).flatten(1)).squeeze(1)
