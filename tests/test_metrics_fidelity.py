import math

import pytest
import torch
from metrics_fixtures import blur, textured

from patchdna.errors import InputImageError
from patchdna.metrics.fidelity import psnr, ssim, to_luma


def smooth_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A deterministic 40x48 image and a contrast-reduced copy (the pair behind the reference value below)."""
    y, x = torch.meshgrid(torch.arange(40, dtype=torch.float64), torch.arange(48, dtype=torch.float64), indexing="ij")
    image = torch.stack([torch.sin(x / 5.0) * 0.5 + 0.5, torch.cos(y / 7.0) * 0.5 + 0.5, (x + y) / 86.0])[None]
    return image, (image * 0.8 + 0.05).clamp(0, 1)


def test_ssim_matches_reference_value():
    # skimage 0.25 structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    # data_range=1.0, channel_axis=0) on this pair gives 0.9375942363726759; PSNR 21.76823800785341 dB.
    real, fake = smooth_pair()
    assert ssim(real, fake) == pytest.approx(0.9375942363726759, abs=1e-5)
    assert psnr(real, fake) == pytest.approx(21.76823800785341, abs=1e-4)


def test_ssim_of_constant_images_has_closed_form():
    real, fake = torch.full((1, 3, 16, 16), 0.5), torch.full((1, 3, 16, 16), 0.25)
    c1 = 0.01**2
    assert ssim(real, fake) == pytest.approx((2 * 0.5 * 0.25 + c1) / (0.5**2 + 0.25**2 + c1), abs=1e-6)


def test_identical_images():
    image = textured(32)
    assert psnr(image, image) == math.inf
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-6)


def test_blurred_image_scores_worse():
    image = textured(32)
    assert psnr(image, blur(image)) < 30
    assert ssim(image, blur(image)) < 0.9


def test_known_psnr():
    real = torch.zeros(1, 3, 8, 8)
    assert psnr(real, real + 0.1) == pytest.approx(20.0, abs=1e-4)  # MSE 0.01 -> 20 dB


def test_luma_and_crop():
    image = textured(32)
    assert to_luma(torch.ones(1, 3, 2, 2)).flatten()[0].item() == pytest.approx(235 / 255, abs=1e-4)
    noisy = image.clone()
    noisy[..., :2, :] = 0  # damage only the border
    assert psnr(image, noisy, crop=2) == math.inf
    assert psnr(image, noisy, channel="y") < math.inf


def test_size_mismatch_is_a_user_error():
    with pytest.raises(InputImageError, match="same size"):
        psnr(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 18))
    with pytest.raises(InputImageError, match="crop"):
        ssim(torch.rand(1, 3, 16, 16), torch.rand(1, 3, 16, 16), crop=8)
