"""The shared GAN losses (patchdna.ops.losses)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from images_fixtures import make_texture

from patchdna.ops import axis_derivative_loss, patch_swd_loss


def _texture(height: int, width: int) -> torch.Tensor:
    return torch.from_numpy(make_texture(height, width)).permute(2, 0, 1)[None].float() / 127.5 - 1


def test_patch_swd_loss_is_zero_on_itself_and_grows_with_blur_and_stretch():
    real = _texture(48, 48)
    generator = torch.Generator().manual_seed(0)
    same = patch_swd_loss(real, real, max_patches=10**6, generator=generator)
    assert same.item() == pytest.approx(0.0, abs=1e-6)
    blurred = F.avg_pool2d(F.pad(real, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    stretched = F.interpolate(real, size=(48, 96), mode="bicubic", align_corners=False)
    loss_blur = patch_swd_loss(blurred, real, generator=generator)
    loss_stretch = patch_swd_loss(stretched, real, generator=generator)
    assert loss_blur.item() > 0.01 and loss_stretch.item() > 0.01


def test_patch_swd_loss_gradient_pulls_a_fake_onto_the_real_patches():
    real = _texture(32, 32)
    fake = torch.zeros(1, 3, 24, 40, requires_grad=True)  # another size: only the distributions are compared
    optimizer = torch.optim.Adam([fake], lr=0.05)
    generator = torch.Generator().manual_seed(1)
    first = None
    for _ in range(60):
        optimizer.zero_grad()
        loss = patch_swd_loss(fake, real, patch_size=5, generator=generator)
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.5 * first


def test_patch_swd_loss_refuses_images_smaller_than_a_patch():
    with pytest.raises(ValueError, match="at least 7 px"):
        patch_swd_loss(torch.zeros(1, 3, 5, 20), torch.zeros(1, 3, 20, 20))


def _reference_patch_swd(fake, real, patch_size, num_projections, max_patches, generator):
    """The plain formulation (unfold every patch, torch.sort) that the gathered / NumPy-sorted one must match."""
    fake_rows = F.unfold(fake, patch_size).transpose(1, 2).reshape(-1, fake.shape[1] * patch_size**2)
    real_rows = F.unfold(real, patch_size).transpose(1, 2).reshape(-1, real.shape[1] * patch_size**2)
    count = min(max_patches, fake_rows.shape[0], real_rows.shape[0])
    directions = torch.randn(fake_rows.shape[1], num_projections, generator=generator)
    directions = directions / directions.norm(dim=0, keepdim=True)

    def pick(rows):
        return rows if rows.shape[0] == count else rows[torch.randperm(rows.shape[0], generator=generator)[:count]]

    fake_sorted = torch.sort(pick(fake_rows) @ directions, dim=0).values
    real_sorted = torch.sort(pick(real_rows) @ directions, dim=0).values
    return (fake_sorted - real_sorted).abs().mean()


@pytest.mark.parametrize(
    ("fake_shape", "real_shape", "max_patches"),
    [
        ((1, 3, 30, 26), (1, 3, 40, 52), 300),
        ((2, 3, 20, 24), (1, 3, 22, 22), 10**6),
        ((1, 1, 12, 12), (1, 1, 9, 15), 50),
    ],
)
def test_patch_swd_loss_matches_the_unfold_and_sort_formulation(fake_shape, real_shape, max_patches):
    real = torch.rand(real_shape)
    fake_value = torch.rand(fake_shape)
    results = []
    for loss_fn in (patch_swd_loss, _reference_patch_swd):
        fake = fake_value.clone().requires_grad_(True)
        loss = loss_fn(fake, real, 5, 16, max_patches, torch.Generator().manual_seed(7))
        loss.backward()
        results.append((loss.detach(), fake.grad))
    assert torch.allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-7)
    assert torch.allclose(results[0][1], results[1][1], rtol=1e-4, atol=1e-8)


def test_axis_derivative_loss_sees_stretches_and_squeezes_but_not_a_tiling():
    real = _texture(48, 48)
    assert axis_derivative_loss(real, real).item() == pytest.approx(0.0, abs=1e-7)
    tiled = torch.cat([real, real], dim=-1)  # the same local structure, twice as wide: not stretched
    stretched = F.interpolate(real, size=(48, 96), mode="bicubic", align_corners=False)
    squeezed = F.interpolate(real, size=(48, 24), mode="bicubic", align_corners=False, antialias=True)
    loss_tiled = axis_derivative_loss(tiled, real).item()
    assert axis_derivative_loss(stretched, real).item() > 3 * max(loss_tiled, 1e-3)
    assert axis_derivative_loss(squeezed, real).item() > 3 * max(loss_tiled, 1e-3)
    # in units of the real derivatives' spread: the same contrast change of both images leaves it unchanged
    assert axis_derivative_loss(0.5 * stretched, 0.5 * real).item() == pytest.approx(
        axis_derivative_loss(stretched, real).item(), rel=0.05
    )


def test_axis_derivative_loss_gradient_unstretches_a_fake():
    real = _texture(32, 32)
    fake = F.interpolate(real, size=(32, 64), mode="bilinear", align_corners=False).requires_grad_(True)
    optimizer = torch.optim.Adam([fake], lr=0.05)
    first = None
    for _ in range(100):
        optimizer.zero_grad()
        loss = axis_derivative_loss(fake, real, levels=2)
        loss.backward()
        optimizer.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.5 * first


def test_axis_derivative_loss_refuses_no_levels():
    with pytest.raises(ValueError, match="levels"):
        axis_derivative_loss(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8), levels=0)
