"""Exponential moving average of the generator's weights, used for sampling."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, step: int, beta: float = 0.999) -> None:
    """G_ema <- lerp(G, G_ema, beta'); beta' warms up from 0 so early snapshots are not stale."""
    beta = min(beta, (1 + step) / (10 + step))
    for p_ema, p in zip(G_ema.parameters(), G.parameters(), strict=True):
        p_ema.lerp_(p.detach(), 1 - beta)
    for b_ema, b in zip(G_ema.buffers(), G.buffers(), strict=True):
        b_ema.copy_(b)
