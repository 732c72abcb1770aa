"""Warm start across clip formats: a generator trained at one colour and size gives its weights
to a new one at another.

The generators are fully convolutional and their flow is in normalised units, so every weight
but the few that touch colour fits any size as it is. The colour layers are converted the way
I3D inflates 2D filters into 3D: a photo's first layers take gray -> rgb by splitting each
gray filter over R, G and B in the luma proportions (so a gray photo given as rgb gives the same
features), and the field heads keep their two flow rows and give every colour the gray
residual; rgb -> gray sums the input filters and averages the residual rows. Buffers that
depend on the size (the noise basis) stay the new model's own.
"""

from __future__ import annotations

import torch
from torch import nn

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, what cv2's gray conversion uses
FLOW_ROWS = 2  # the field heads' first two outputs are flow x, y; the rest one residual each


def _convert(value: torch.Tensor, shape: torch.Size) -> torch.Tensor | None:
    """`value` reshaped to `shape` where only a colour dimension differs, else None."""
    if value.dim() != len(shape):
        return None
    differ = [d for d in range(value.dim()) if value.shape[d] != shape[d]]
    if differ == [1] and value.dim() == 4 and {value.shape[1], shape[1]} == {1, 3}:
        if shape[1] == 3:  # a gray input filter split over R, G, B
            return value * value.new_tensor(LUMA)[None, :, None, None]
        return value.sum(dim=1, keepdim=True)  # gray is R = G = B: the filters add up
    heads = {FLOW_ROWS + 1, FLOW_ROWS + 3}
    if differ == [0] and {value.shape[0], shape[0]} == heads:
        flow, residual = value[:FLOW_ROWS], value[FLOW_ROWS:]
        if shape[0] == FLOW_ROWS + 3:
            residual = residual.expand(3, *residual.shape[1:])
        else:
            residual = residual.mean(dim=0, keepdim=True)
        return torch.cat([flow, residual])
    return None


def load_matching(module: nn.Module, source: dict[str, torch.Tensor], convert=None) -> list[str]:
    """Copy every tensor of `source` whose name and shape match into `module` (and, with
    `convert`, those it can reshape to fit); return the names left new."""
    own = module.state_dict()
    taken = {}
    for name, value in source.items():
        if name not in own:
            continue
        if value.shape == own[name].shape:
            taken[name] = value
        elif convert is not None and (converted := convert(value, own[name].shape)) is not None:
            taken[name] = converted
    module.load_state_dict(taken, strict=False)
    return sorted(set(own) - set(taken))


def inflate_into(module: nn.Module, source: dict[str, torch.Tensor]) -> list[str]:
    """Load `source` (a generator's state dict of another format) into `module`: tensors of
    the same shape as they are, colour layers converted; return the names left new."""
    return load_matching(module, source, _convert)
