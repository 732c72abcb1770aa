"""Progressive GAN's fade-in weight of a network: a saved buffer, and a flag that says whether
the fade is on without reading the buffer back from the device."""

from __future__ import annotations

import torch
from torch import nn


class FadeIn(nn.Module):
    """A network whose new layers are blended in by `alpha` (0 -> 1), saved with its weights.

    Forward passes branch on `fading` (a Python bool) and blend with the `alpha` tensor, so a
    step never reads a GPU value on the host (a sync) and torch.compile sees one graph while
    fading and one after, not one per value of alpha. Set it with `set_alpha`; loading a state
    dict sets `fading` from the loaded alpha.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer("alpha", torch.tensor(1.0))
        self.fading = False
        self.register_load_state_dict_post_hook(_fading_from_alpha)

    def set_alpha(self, alpha: float) -> None:
        self.alpha.fill_(alpha)
        self.fading = alpha < 1

    def blend(self, old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        """lerp(old, new, alpha) in float32, whatever dtypes autocast gave the two paths."""
        return torch.lerp(old.float(), new.float(), self.alpha.float())


def _fading_from_alpha(module: nn.Module, incompatible_keys) -> None:
    if isinstance(module, FadeIn):
        module.fading = bool(module.alpha < 1)
