"""The one way a stored frame becomes a stage-small frame (45 x 80 -> 23 x 40 by default):
torch area pooling.

Training, evaluation and sampling all go through `downsample`, so a small model sees photos and
real clips made exactly as the clips it was trained on.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from scenegan.clip_format import ClipFormat


def downsample(frames, fmt: ClipFormat, chunk: int = 256):
    """uint8 (..., H, W) gray or (..., H, W, 3) rgb frames -> the same at fmt's rows and
    columns, by area averaging; `fmt.color` says which layout `frames` has.

    Takes and returns a torch tensor or a numpy array; frames already at `fmt` come back as
    they are.
    """
    rgb = fmt.color == "rgb"
    spatial = tuple(frames.shape[-3:-1] if rgb else frames.shape[-2:])
    if spatial == fmt.frame_shape:
        return frames
    is_numpy = isinstance(frames, np.ndarray)
    tensor = torch.from_numpy(np.ascontiguousarray(frames)) if is_numpy else frames
    if rgb:  # (..., H, W, 3) -> (..., 3, H, W): the pooling runs over the last two dims
        tensor = tensor.movedim(-1, -3)
    lead = tensor.shape[:-2]
    flat = tensor.reshape(-1, 1, *tensor.shape[-2:])
    out = torch.empty((flat.shape[0], 1, *fmt.frame_shape), dtype=torch.uint8, device=flat.device)
    for start in range(0, flat.shape[0], chunk):
        small = F.interpolate(
            flat[start : start + chunk].float(), size=fmt.frame_shape, mode="area"
        )
        out[start : start + chunk] = small.round_().clamp_(0, 255).to(torch.uint8)
    out = out.reshape(*lead, *fmt.frame_shape)
    if rgb:
        out = out.movedim(-3, -1).contiguous()
    return out.numpy() if is_numpy else out
