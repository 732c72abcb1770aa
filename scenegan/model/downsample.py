"""The one way a stored 45 x 80 frame becomes a stage-small 23 x 40 frame: torch area pooling.

Training, evaluation and sampling all go through `downsample`, so a small model sees photos and
real clips made exactly as the clips it was trained on.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from scenegan.clip_format import ClipFormat


def downsample(frames, fmt: ClipFormat, chunk: int = 256):
    """uint8 (..., H, W) -> uint8 (..., fmt.height, fmt.width) by area averaging.

    Takes and returns a torch tensor or a numpy array; frames already at `fmt` come back as
    they are.
    """
    if tuple(frames.shape[-2:]) == fmt.frame_shape:
        return frames
    is_numpy = isinstance(frames, np.ndarray)
    tensor = torch.from_numpy(np.ascontiguousarray(frames)) if is_numpy else frames
    lead = tensor.shape[:-2]
    flat = tensor.reshape(-1, 1, *tensor.shape[-2:])
    out = torch.empty((flat.shape[0], 1, *fmt.frame_shape), dtype=torch.uint8)
    for start in range(0, flat.shape[0], chunk):
        small = F.interpolate(
            flat[start : start + chunk].float(), size=fmt.frame_shape, mode="area"
        )
        out[start : start + chunk] = small.round_().clamp_(0, 255).to(torch.uint8)
    out = out.reshape(*lead, *fmt.frame_shape)
    return out.numpy() if is_numpy else out
