"""The Kinetics-400 I3D's first layers as a 2-D network of one still photo.

A still clip is the same frame at every time step, so each of I3D's 3-D convolutions acts on it
as a 2-D convolution whose kernel is the 3-D kernel summed over time, and its max pools as 2-D
pools (exactly so away from the clip's first and last frames, where I3D pads time with zeros).
The motion generator's scene prior reads these features of the photo: pretrained on 240k
videos, they tell water, fire, foliage and sky apart where a few hundred training videos
cannot teach it (benchmarks/where_predictable.py). The weights come from the I3D of
`scenegan.evaluation.i3d` (`collapse_i3d`) and travel inside the exported generator.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

# I3D's mixed modules up to the last one a scene prior may read: output channels of the six
# branch convolutions (as scenegan.evaluation.i3d.MIXED).
MIXED = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
}
POOL_BEFORE = ("Mixed_3b", "Mixed_4b")  # 3 x 3 max pools of stride 2 run before these


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TF 'SAME' padding of one dimension: output ceil(size / stride), the extra at the end."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def pad_same(x: torch.Tensor, kernel: int, stride: int, value: float = 0.0) -> torch.Tensor:
    rows = _same_pad(x.shape[-2], kernel, stride)
    cols = _same_pad(x.shape[-1], kernel, stride)
    return F.pad(x, (*cols, *rows), value=value)


def max_pool_same(x: torch.Tensor, stride: int) -> torch.Tensor:
    """3 x 3 max pool, TF 'SAME' (padded cells never win)."""
    return F.max_pool2d(pad_same(x, 3, stride, -math.inf), 3, stride)


class Unit2D(nn.Module):
    """Conv2d (TF 'SAME', its batch norm folded in as the bias) -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1):
        super().__init__()
        self.kernel, self.stride = kernel, stride
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(pad_same(x, self.kernel, self.stride)))


class Mixed2D(nn.Module):
    """Four branches concatenated: 1x1 | 1x1->3x3 | 1x1->3x3 | maxpool3->1x1."""

    def __init__(self, in_channels: int, out: tuple[int, ...]) -> None:
        super().__init__()
        self.branch_0 = Unit2D(in_channels, out[0])
        self.branch_1a = Unit2D(in_channels, out[1])
        self.branch_1b = Unit2D(out[1], out[2], 3)
        self.branch_2a = Unit2D(in_channels, out[3])
        self.branch_2b = Unit2D(out[3], out[4], 3)
        self.branch_3b = Unit2D(in_channels, out[5])
        self.out_channels = out[0] + out[2] + out[4] + out[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch_0(x),
                self.branch_1b(self.branch_1a(x)),
                self.branch_2b(self.branch_2a(x)),
                self.branch_3b(max_pool_same(x, 1)),
            ],
            dim=1,
        )


class StillInception(nn.Module):
    """RGB photo (B, 3, H, W) in [-1, 1] -> features (B, C, H', W') after mixed module `end`:
    stride 8 up to Mixed_3c, 16 from Mixed_4b (Mixed_4c: 512 channels)."""

    def __init__(self, *, end: str = "Mixed_4c") -> None:
        super().__init__()
        if end not in MIXED:
            raise ValueError(f"no end point {end!r}; one of {', '.join(MIXED)}")
        self.end = end
        self.Conv3d_1a_7x7 = Unit2D(3, 64, 7, 2)
        self.Conv3d_2b_1x1 = Unit2D(64, 64)
        self.Conv3d_2c_3x3 = Unit2D(64, 192, 3)
        channels = 192
        self.mixed = nn.ModuleDict()
        for name, out in MIXED.items():
            self.mixed[name] = Mixed2D(channels, out)
            channels = self.mixed[name].out_channels
            if name == end:
                break
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = max_pool_same(self.Conv3d_1a_7x7(x), 2)  # (B, 64, H/4, W/4)
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x))  # (B, 192, H/4, W/4)
        for name, module in self.mixed.items():
            if name in POOL_BEFORE:
                x = max_pool_same(x, 2)
            x = module(x)
        return x


def collapse_i3d(i3d_state: dict[str, torch.Tensor], end: str) -> dict[str, torch.Tensor]:
    """StillInception's state dict from a batch-norm-folded RGB I3D's: every 3-D kernel
    (O, I, T, kh, kw) summed over T; biases as they are; layers past `end` left out."""
    names = set(StillInception(end=end).state_dict())
    state = {}
    for name in names:
        value = i3d_state[name]
        state[name] = value.sum(dim=2) if value.ndim == 5 else value.clone()
    return state
