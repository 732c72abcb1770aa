"""Exponential moving average of the generator's weights, used for sampling."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def update_ema(G_ema: nn.Module, G: nn.Module, step: int, beta: float = 0.999) -> None:
    """G_ema <- lerp(G, G_ema, beta'); beta' warms up from 0 so early snapshots are not stale.

    One multi-tensor lerp and copy (a few kernel launches on a GPU, not two per tensor), in
    G_ema's dtype whatever G's weights are; buffers (alpha, the noise basis) are copied."""
    beta = min(beta, (1 + step) / (10 + step))
    ema_params = list(G_ema.parameters())
    params = [p.detach().to(e.dtype) for e, p in zip(ema_params, G.parameters(), strict=True)]
    torch._foreach_lerp_(ema_params, params, 1 - beta)
    ema_buffers = list(G_ema.buffers())
    buffers = [b.to(e.dtype) for e, b in zip(ema_buffers, G.buffers(), strict=True)]
    if ema_buffers:
        torch._foreach_copy_(ema_buffers, buffers)
    if hasattr(G, "fading"):  # the fade-in flag follows the alpha buffer just copied
        G_ema.fading = G.fading
