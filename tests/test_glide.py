"""The camera's glide between sampled frames: the same ground shifted, seconds apart."""

from dataclasses import replace

import numpy as np
from media import moving_texture, smooth_texture

from scenegan.config import FilterConfig
from scenegan.pipeline.glide import glide
from scenegan.pipeline.scene_filters import judge_scene

DEFAULTS = FilterConfig()


def ground(step: int, seed: int = 4) -> list[np.ndarray]:
    """8 frames of a fine still texture, 320 x 180, the camera moved `step` pixels right
    between each two."""
    wide = smooth_texture(180, 320 + 7 * step + 1, seed=seed, scale=2).astype(np.uint8)
    return [wide[:, i * step : i * step + 320] for i in range(8)]


def test_a_gliding_camera_is_told_from_a_still_one_and_from_moving_content():
    assert abs(glide(ground(24)) - 24) < 1
    assert glide(ground(0)) < 1  # a tripod
    assert glide(list(moving_texture(8 * 12, 180, 320, seed=3)[::12])) == 0.0  # waves
    assert glide([]) == 0.0 and glide(ground(24)[:1]) == 0.0


def test_a_gliding_camera_takes_the_video():
    verdict = judge_scene(ground(24), DEFAULTS)
    assert verdict.reason == "moving_camera" and "glided 24 px" in verdict.note
    assert abs(verdict.glide - 24) < 1
    assert judge_scene(ground(6), DEFAULTS).reason is None  # under the default 14 pixels
    allowed = replace(DEFAULTS, camera_max_glide=30.0)
    assert judge_scene(ground(24), allowed).reason is None
