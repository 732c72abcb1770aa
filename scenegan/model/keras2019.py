"""The 2019 Keras project's architecture (Windrill/scene-GAN `exdcgan80x46bw.py`), the baseline.

G: the photo is repeated over time (time upsampling x2, five times) through 3-D convolutions
with batch norm, 256 -> 8 channels at full resolution, no noise, tanh. Stage large blends the new
full-resolution G with the frozen small G (upsampled) at a constant alpha, and D likewise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from scenegan.clip_format import stage_formats
from scenegan.model.archs import Networks
from scenegan.model.fade import FadeIn
from scenegan.model.steps import Keras2019Step

G_CHANNELS = (256, 128, 64, 32, 16, 8)
D_CHANNELS = (64, 32, 8, 1)
# G's first layers, before time is first doubled, see 2 frames. They pad time by hand (F.pad,
# then padding 0 in time): the same zeros, but oneDNN's bf16 Conv3d on the CPU (torch 2.13)
# returns NaN weight gradients for 2-frame inputs when the convolution pads time itself.
TWO_FRAME_LAYERS = 2
TIME_PADDING = (0, 0, 0, 0, 1, 1)


class Keras2019Net(nn.Module):
    """photo (B, C, H, W) -> clip (B, C, 32, H, W): conv-BN-ReLU stack, time doubled between.

    The 2019 model was gray (C = 1); for rgb only its input and output layers take 3 channels.
    """

    def __init__(self, channels: list[int] | tuple[int, ...] = G_CHANNELS, n_channels: int = 1):
        super().__init__()
        c_in, layers = n_channels, []
        for i, c_out in enumerate(channels):
            padding = (0, 1, 1) if i < TWO_FRAME_LAYERS else 1
            layers.append(
                nn.Sequential(
                    nn.Conv3d(c_in, c_out, 3, padding=padding),
                    nn.BatchNorm3d(c_out, momentum=0.5),  # Keras momentum 0.5
                    nn.ReLU(),
                )
            )
            c_in = c_out
        self.layers = nn.ModuleList(layers)
        self.to_gray = nn.Conv3d(c_in, n_channels, 3, padding=1)  # named when it was gray only

    def forward(self, photo: torch.Tensor) -> torch.Tensor:
        x = photo[:, :, None].repeat(1, 1, 2, 1, 1)  # (B, C, 2, H, W)
        for i, layer in enumerate(self.layers):
            if i >= TWO_FRAME_LAYERS:  # the 2019 model doubles time before every later layer
                x = x.repeat_interleave(2, dim=2)  # 2 -> 32 frames
            else:
                x = F.pad(x, TIME_PADDING)
            x = layer(x)
        return torch.tanh(self.to_gray(x).float())  # float32 under any autocast


class FrozenSmall(FadeIn):
    """Stage large of a 2019 network: the stage small network `self.small` stays frozen, its
    weights (whatever the trainer unfreezes) and its batch-norm statistics, as in 2019."""

    stage: str
    small: nn.Module

    def freeze_small(self) -> None:
        if self.stage == "large":
            self.small.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.stage == "large":
            self.small.eval()  # its batch-norm statistics stay those of stage small
        return self

    def requires_grad_(self, requires_grad: bool = True):
        super().requires_grad_(requires_grad)
        self.freeze_small()  # stays frozen when the trainer unfreezes the whole network
        return self


class Keras2019Generator(FrozenSmall):
    """The 2019 generator: `G(photo, z)` ignores z (noise_dim 0); it had no noise."""

    # `alpha` (FadeIn) is saved but unused: the 2019 blend is constant.

    def __init__(
        self,
        *,
        stage: str = "small",
        channels: list[int] | tuple[int, ...] = G_CHANNELS,
        blend_alpha: float = 0.75,
        clip_format: dict | None = None,
    ):
        super().__init__()
        self.stage = stage
        self.fmt, self.small_fmt, self.dataset_fmt = stage_formats(stage, clip_format)
        self.noise_dim, self.blend_alpha = 0, blend_alpha
        self.small = Keras2019Net(channels, self.fmt.channels)
        if stage == "large":
            self.full = Keras2019Net(channels, self.fmt.channels)
        self.freeze_small()  # the 2019 model froze its small model

    def forward(self, photo: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if self.stage == "small":
            return self.small(photo)
        size = self.fmt.volume
        coarse = self.small(F.interpolate(photo, size=self.small_fmt.frame_shape, mode="area"))
        coarse = F.interpolate(coarse, size=size, mode="nearest")
        return self.blend_alpha * self.full(photo) + (1 - self.blend_alpha) * coarse


class Keras2019Critic(nn.Module):
    """The 2019 D at one resolution: 3-D convs with stride 2, LeakyReLU, BN; flatten; dense."""

    def __init__(self, shape: tuple[int, int, int], channels=D_CHANNELS, n_channels: int = 1):
        super().__init__()
        layers: list[nn.Module] = []
        c_in = n_channels
        for c_out in channels:
            layers += [
                nn.Conv3d(c_in, c_out, 3, stride=2, padding=1),
                nn.LeakyReLU(0.2),
                nn.BatchNorm3d(c_out, momentum=0.2),  # Keras momentum 0.8
            ]
            c_in = c_out
        self.body = nn.Sequential(*layers)
        flat = c_in
        for n in shape:
            for _ in channels:
                n = (n + 1) // 2
            flat *= n
        self.head = nn.Linear(flat, 1)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(clip).flatten(1)).squeeze(1).float()


class Keras2019Discriminator(FrozenSmall):
    """Unconditional: clip (B, C, T, H, W) -> float32 score (B,); large blends in the frozen
    small D."""

    def __init__(
        self,
        *,
        stage: str = "small",
        channels: list[int] | tuple[int, ...] = D_CHANNELS,
        blend_alpha: float = 0.75,
        clip_format: dict | None = None,
    ):
        super().__init__()
        self.stage = stage
        self.fmt, self.small_fmt, self.dataset_fmt = stage_formats(stage, clip_format)
        self.blend_alpha = blend_alpha
        n_channels = self.fmt.channels
        self.small = Keras2019Critic(self.small_fmt.volume, channels, n_channels)
        if stage == "large":
            self.full = Keras2019Critic(self.fmt.volume, channels, n_channels)
        self.freeze_small()

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        if self.stage == "small":
            return self.small(clip)
        small = F.interpolate(clip, size=self.small_fmt.volume, mode="area")
        return self.blend_alpha * self.full(clip) + (1 - self.blend_alpha) * self.small(small)


# The registry entry `keras2019` (scenegan/archs.py) names this.
KERAS2019 = Networks(Keras2019Generator, Keras2019Discriminator, Keras2019Step)
