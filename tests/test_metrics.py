"""Clip metrics and baselines on hand-made clips with known answers."""

import numpy as np
import pytest
import torch
from media import textured_photo

from scenegan.clip_format import CLIP, SMALL, from_unit, to_unit
from scenegan.evaluation import metrics
from scenegan.model.baselines import CopiedPhoto, DriftingPhoto


def static_clips(n=3, n_frames=32) -> tuple[np.ndarray, np.ndarray]:
    photos = np.stack([textured_photo(seed=s) for s in range(n)])
    return np.repeat(photos[:, None], n_frames, axis=1), photos


def test_static_clip_scores():
    clips, photos = static_clips()
    assert metrics.motion_energy(clips) == 0
    assert metrics.flicker(clips) == 0
    assert metrics.scene_correlation(clips, photos) == pytest.approx(1.0)
    assert metrics.contrast_ratio(clips, photos) == pytest.approx(1.0)
    assert metrics.frame0_error(clips, photos) == 0
    assert metrics.flow_stats(clips.astype(np.uint8))["mean"] < 0.01


def test_linear_fade_moves_but_does_not_flicker():
    clips, photos = static_clips()
    clips = clips + 2.0 * np.arange(32)[None, :, None, None]  # +2 grey levels per frame
    assert metrics.motion_energy(clips) == pytest.approx(2.0)
    assert metrics.flicker(clips) == pytest.approx(0.0, abs=1e-4)
    assert metrics.motion_energy_curve(clips).shape == (3, 31)


def test_alternating_frames_flicker():
    clips = np.zeros((2, 32, 45, 80), np.uint8)
    clips[:, 1::2] = 255
    assert metrics.motion_energy(clips) == pytest.approx(255.0)
    assert metrics.flicker(clips) == pytest.approx(510.0)


def test_inverted_clip_and_halved_contrast():
    clips, photos = static_clips()
    inverted = 255.0 - clips
    assert metrics.scene_correlation(inverted, photos) == pytest.approx(-1.0)
    halved = 0.5 * (clips - 127.5) + 127.5
    assert metrics.contrast_ratio(halved, photos) == pytest.approx(0.5)
    assert metrics.scene_correlation(halved, photos) == pytest.approx(1.0)


def test_flat_frames_are_left_out_of_correlation():
    clips, photos = static_clips(n=1)
    clips = clips.copy()
    clips[:, 5] = 100.0  # one flat frame: undefined correlation, ignored by the mean
    assert np.isnan(metrics.frame_correlation(clips, photos)[0, 5])
    assert metrics.scene_correlation(clips, photos) == pytest.approx(1.0)


def test_frame0_error_and_diversity():
    clips, photos = static_clips()
    assert metrics.frame0_error(clips + 7.0, photos) == pytest.approx(7.0)
    same = np.repeat(clips[:, None], 3, axis=1)  # (P, K, T, H, W), identical animations
    assert metrics.diversity(same) == 0
    apart = np.stack([clips, clips + 10.0], axis=1)
    assert metrics.diversity(apart) == pytest.approx(10.0)


def test_flow_of_a_one_pixel_per_frame_shift():
    photo = textured_photo(height=45, width=120)
    clip = np.stack([photo[:, 32 - t : 32 - t + 80] for t in range(32)])  # moves right 1 px/frame
    stats = metrics.flow_stats(clip[None].round().astype(np.uint8))
    assert stats["p50"] == pytest.approx(1.0, abs=0.15)
    assert stats["p50"] <= stats["p90"] <= stats["p99"]


def test_copied_photo_baseline():
    photo = torch.from_numpy(to_unit(textured_photo().round().astype(np.uint8)))[None, None]
    clips = CopiedPhoto()(photo, torch.zeros(1, 0))
    assert clips.shape == (1, 1, *CLIP.shape)
    assert torch.equal(clips[0, 0, 31], photo[0, 0])


def test_drifting_photo_baseline():
    photo8 = textured_photo().round().astype(np.uint8)
    photo = torch.from_numpy(to_unit(photo8))[None, None].repeat(2, 1, 1, 1)
    G = DriftingPhoto()
    z = torch.randn(2, G.noise_dim, generator=torch.Generator().manual_seed(0))
    clips = G(photo, z)
    assert clips.shape == (2, 1, *CLIP.shape)
    assert torch.equal(clips[:, :, 0], photo)  # frame 0 is the photo
    assert torch.equal(G(photo, z), clips)  # same noise, same clip
    assert not torch.equal(clips[0], clips[1])  # each clip its own velocity
    # With a velocity of exactly one pixel per frame to the right and no noise, frame t is the
    # photo shifted by t pixels (away from the border).
    exact = DriftingPhoto(speed=1.0, noise=0.0)
    frames = from_unit(exact(photo[:1], torch.tensor([[1.0, 0.0, 0.5]]))[0, 0].numpy())
    np.testing.assert_array_equal(frames[5][:, 10:], photo8[:, 5:75])
    small = DriftingPhoto(fmt=SMALL)(torch.zeros(1, 1, 23, 40), z[:1])
    assert small.shape == (1, 1, *SMALL.shape)
