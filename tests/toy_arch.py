"""A toy architecture, the whole of it in this one file: what adding an architecture takes besides
one `register(Arch(...))` (tests/test_archs.py registers it as `toy`).

G keeps the photo and brightens or dims it over time by an amount the noise chooses; D scores a
clip by its mean brightness per frame. Both follow the contract of scenegan.model.archs.Networks.
"""

from __future__ import annotations

import torch
from torch import nn

from scenegan.clip_format import stage_formats
from scenegan.model.archs import Networks
from scenegan.model.fade import FadeIn
from scenegan.model.steps import Keras2019Step


class ToyGenerator(FadeIn):
    """photo (B, C, H, W) + z (B, noise_dim) -> clip (B, C, T, H, W), frame 0 the photo."""

    def __init__(self, *, stage: str = "small", noise_dim: int = 4, clip_format=None):
        super().__init__()
        self.fmt, self.small_fmt, self.dataset_fmt = stage_formats(stage, clip_format)
        self.noise_dim = noise_dim
        self.to_change = nn.Linear(noise_dim, self.fmt.n_frames)  # brightness change per frame

    def forward(self, photo: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        change = self.to_change(z)  # (B, T)
        change = 0.1 * (change - change[:, :1])  # none at frame 0
        return (photo[:, :, None] + change[:, None, :, None, None]).clamp(-1, 1)


class ToyDiscriminator(FadeIn):
    """clip (B, C, T, H, W) -> score (B,) from its mean brightness per channel and frame."""

    def __init__(self, *, stage: str = "small", clip_format=None):
        super().__init__()
        self.fmt, _, _ = stage_formats(stage, clip_format)
        self.score = nn.Linear(self.fmt.channels * self.fmt.n_frames, 1)

    def forward(self, clip: torch.Tensor) -> torch.Tensor:
        return self.score(clip.mean(dim=(3, 4)).flatten(1)).squeeze(1)


TOY = Networks(ToyGenerator, ToyDiscriminator, Keras2019Step, G_args={"noise_dim": 4})
