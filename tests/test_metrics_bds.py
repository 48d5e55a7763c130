import pytest
import torch
from metrics_fixtures import blur, shuffle_tiles, textured

from patchdna.metrics import patch_swd
from patchdna.metrics.bds import bidirectional_similarity, nearest_patch_distances


def test_identical_images_score_zero():
    real = textured()
    result = bidirectional_similarity(real, real)
    assert result.completeness < 1e-5 and result.coherence < 1e-5
    assert result.bds == pytest.approx(result.completeness + result.coherence)


def test_blurred_image_scores_worse():
    real = textured()
    assert bidirectional_similarity(real, blur(real)).bds > 0.1


def test_shuffled_tiles_keep_patch_swd_low_but_hurt_coherence():
    real = textured()
    few_seams, many_seams, blurred = shuffle_tiles(real, 32), shuffle_tiles(real, 16), blur(real)
    # The patch distribution survives shuffling (lower SWD than a blur) ...
    assert patch_swd(real, few_seams) < patch_swd(real, blurred)
    assert patch_swd(real, many_seams) < patch_swd(real, blurred)
    # ... but the seams are patches the real image never had: coherence grows with the number of seams.
    few, many = bidirectional_similarity(real, few_seams), bidirectional_similarity(real, many_seams)
    assert 0.05 < few.coherence < many.coherence


def test_crop_is_coherent_but_incomplete():
    real = textured(64)
    crop = real[:, :, :40, :40]
    result = bidirectional_similarity(real, crop)
    assert result.coherence < 1e-5  # every patch of the crop exists in the real image
    assert result.completeness > 0.05  # but most of the real image is missing from it


def test_nearest_distances_exact_in_chunks():
    generator = torch.Generator().manual_seed(0)
    queries, keys = torch.randn(37, 12, generator=generator), torch.randn(101, 12, generator=generator)
    brute = (queries[:, None] - keys[None]).pow(2).mean(dim=2).min(dim=1).values
    torch.testing.assert_close(nearest_patch_distances(queries, keys, chunk=16), brute, atol=1e-5, rtol=1e-4)


def test_all_queries_and_grid_queries_agree_roughly():
    real, fake = textured(48), textured(48, seed=3)
    exact = bidirectional_similarity(real, fake, queries=None)
    sampled = bidirectional_similarity(real, fake, queries=256)
    assert sampled.bds == pytest.approx(exact.bds, rel=0.15)


def test_too_small_images_raise():
    with pytest.raises(ValueError, match="32"):
        bidirectional_similarity(torch.rand(1, 3, 20, 20), torch.rand(1, 3, 40, 40))
