"""Motion annotations (pipeline/motion_fields.py) against procedural clips of known motion."""

import numpy as np
import pytest
from media import moving_window, write_video

from scenegan.pipeline.decode import decode_video
from scenegan.pipeline.motion_fields import (
    ClipMotion,
    annotate_clip,
    clip_flows,
    summarize_flows,
    window_flows,
)

T = 32


def _pan(speed_x: float, speed_y: float = 0.0, **kind) -> np.ndarray:
    return moving_window([(speed_x * t, speed_y * t) for t in range(T)], **kind)


def test_pan_reads_its_speed_and_direction():
    motion = annotate_clip(_pan(-1.5))  # content moves left 1.5 px a frame
    assert isinstance(motion, ClipMotion)
    assert motion.mean_flow.shape == (45, 80, 2) and motion.mean_flow.dtype == np.float16
    assert motion.motion_map.shape == (45, 80) and motion.motion_map.dtype == np.float16
    assert motion.motion == pytest.approx(1.5, abs=0.15)
    dx, dy = motion.mean_flow[..., 0].mean(), motion.mean_flow[..., 1].mean()
    assert dx == pytest.approx(-1.5, abs=0.15) and abs(dy) < 0.1
    assert motion.motion == pytest.approx(float(motion.motion_map.astype(np.float32).mean()), 1e-3)
    assert motion.flow_std < 0.1  # the same speed at every step

    down = annotate_clip(_pan(0.0, 1.0, seed=3))
    assert down.mean_flow[..., 1].mean() == pytest.approx(1.0, abs=0.1)
    assert down.motion == pytest.approx(1.0, abs=0.1)


def test_pan_through_an_h264_video_and_the_decoder(tmp_path):
    """3 px a frame at 160 x 90, encoded and decoded to 80 x 45: 1.5 px a frame."""
    frames = _pan(3.0, height=90, width=160)
    clip = decode_video(write_video(tmp_path / "pan.mp4", frames, fps=12), 12)
    motion = annotate_clip(clip)
    assert motion.motion == pytest.approx(1.5, abs=0.15)
    assert motion.mean_flow[..., 0].mean() == pytest.approx(1.5, abs=0.15)


def test_oscillation_averages_out_but_its_speed_does_not():
    positions = [(2.0 * np.sin(2 * np.pi * t / 8), 0.0) for t in range(T + 1)]
    motion = annotate_clip(moving_window(positions[:T]))
    # 2 sin(pi t / 4) px: steps alternate 1.41, 0.59 px (mean 1.0), and the average cancels
    steps = np.abs(np.diff([p[0] for p in positions[:T]]))
    assert motion.motion == pytest.approx(steps.mean(), rel=0.1)
    assert np.abs(motion.mean_flow.astype(np.float32)).mean() < 0.25 * motion.motion
    assert motion.flow_std > 0.3  # the speed swings between 0.6 and 1.4


def test_still_clip_reads_near_zero():
    still = _pan(0.0)
    assert annotate_clip(still).motion < 0.05
    rng = np.random.default_rng(0)
    grainy = np.clip(still + rng.normal(0, 1.0, still.shape), 0, 255).astype(np.uint8)
    assert annotate_clip(grainy).motion < 0.05


def test_rgb_is_taken_as_luma_and_bad_input_is_refused():
    gray = _pan(1.0)
    rgb = np.repeat(gray[..., None], 3, axis=3)
    a, b = annotate_clip(gray), annotate_clip(rgb)
    assert np.array_equal(a.mean_flow, b.mean_flow) and a.motion == b.motion
    with pytest.raises(ValueError):
        annotate_clip(gray.astype(np.float32))
    with pytest.raises(ValueError):
        annotate_clip(gray[:1])


def test_local_motion_stays_where_it_is():
    moving = _pan(2.0)
    still = _pan(0.0)
    clip = still.copy()
    clip[:, 25:] = moving[:, 25:]  # the lower rows move, the upper rows stand
    motion_map = annotate_clip(clip).motion_map.astype(np.float32)
    assert motion_map[:18].mean() < 0.15
    assert motion_map[30:].mean() == pytest.approx(2.0, abs=0.2)


def test_a_window_of_the_flow_is_the_flow_of_the_window():
    """A crop window's flow cut from the whole frame's: the same motion in the window's pixels
    (a window of half the frame's side doubles every vector), read where it is."""
    clip = _pan(0.0)
    clip[:, 25:] = _pan(1.0)[:, 25:]  # the lower rows move 1 px a frame
    flows = clip_flows(clip)
    lower = summarize_flows(window_flows(flows, (0.5, 0.25, 0.5, 0.5)))  # rows 22..44
    upper = summarize_flows(window_flows(flows, (0.0, 0.0, 0.25, 0.25)))
    assert lower.motion_map[14:].astype(np.float32).mean() == pytest.approx(2.0, abs=0.2)
    assert lower.mean_flow[14:, :, 0].astype(np.float32).mean() == pytest.approx(2.0, abs=0.2)
    assert upper.motion < 0.05
    whole = window_flows(flows, (0.0, 0.0, 1.0, 1.0))
    assert np.allclose(whole, flows, atol=1e-4)
