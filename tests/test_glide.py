"""The camera's glide between sampled frames: the same ground shifted, seconds apart."""

from dataclasses import replace

import numpy as np
from media import moving_texture, smooth_texture

from scenegan.config import FilterConfig
from scenegan.pipeline.glide import Glide, glide
from scenegan.pipeline.scene_filters import judge_scene

DEFAULTS = FilterConfig()


def ground(step: int, seed: int = 4) -> list[np.ndarray]:
    """8 frames of a fine still texture, 320 x 180, the camera moved `step` pixels right
    between each two."""
    wide = smooth_texture(180, 320 + 7 * step + 1, seed=seed, scale=2).astype(np.uint8)
    return [wide[:, i * step : i * step + 320] for i in range(8)]


def parallax(near: int, far: int) -> list[np.ndarray]:
    """8 frames of a drone's view: far ground above, near ground below, the camera moving
    right, so the near ground shifts `near` pixels between each two frames and the far one
    `far`."""
    halves = zip(ground(far, seed=4), ground(near, seed=5), strict=True)
    return [np.vstack([far_half[:90], near_half[90:]]) for far_half, near_half in halves]


def test_a_gliding_camera_is_told_from_a_still_one_and_from_moving_content():
    assert abs(glide(ground(24)).close - 24) < 1 and abs(glide(ground(24)).loose - 24) < 1
    assert glide(ground(0)).close < 1 and glide(ground(0)).loose < 1  # a tripod
    assert glide(list(moving_texture(8 * 12, 180, 320, seed=3)[::12])) == Glide()  # waves
    assert glide([]) == Glide() and glide(ground(24)[:1]) == Glide()


def test_parallax_is_a_glide_fitted_loosely():
    flight = glide(parallax(30, 20))  # near ground 30 px a sample, far ground 20
    assert flight.close == 0.0  # half the matches follow each shift: no one motion closely
    assert 25 <= flight.loose <= 35
    verdict = judge_scene(parallax(30, 20), DEFAULTS)
    assert verdict.reason == "moving_camera" and "fitted loosely" in verdict.note
    assert judge_scene(parallax(12, 8), DEFAULTS).reason is None  # under the default 20 px
    allowed = replace(DEFAULTS, camera_max_flight=40.0)
    assert judge_scene(parallax(30, 20), allowed).reason is None


def test_a_gliding_camera_takes_the_video():
    verdict = judge_scene(ground(24), DEFAULTS)
    assert verdict.reason == "moving_camera" and "glided 24 px" in verdict.note
    assert abs(verdict.glide - 24) < 1
    assert judge_scene(ground(6), DEFAULTS).reason is None  # under the default 14 pixels
    allowed = replace(DEFAULTS, camera_max_glide=30.0, camera_max_flight=30.0)
    assert judge_scene(ground(24), allowed).reason is None
