"""patchdna.ops.warp: the geometric transforms InGAN applies to feature maps."""

import pytest
import torch
import torch.nn.functional as F

from patchdna.ops.warp import (
    affine_to_homography,
    homography_from_points,
    resize_bilinear,
    shift_homography,
    transform_points,
    warp,
    warp_mask,
)


@pytest.mark.parametrize("size", [(13, 29), (40, 17), (24, 24)])
def test_identity_homography_equals_plain_resize(size):
    image = torch.rand(2, 5, 16, 20, generator=torch.Generator().manual_seed(0))
    warped = warp(image, torch.eye(3), size)
    expected = F.interpolate(image, size=size, mode="bilinear", align_corners=False)
    assert warped.shape == (2, 5, *size)
    torch.testing.assert_close(warped, expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(resize_bilinear(image, size), expected)


def test_inverse_transform_round_trips_a_grid():
    forward = shift_homography(0.1, -0.15) @ affine_to_homography([0.9, 0.1, 0.05, -0.05, 1.1, 0.0])
    points = torch.stack(torch.meshgrid(torch.linspace(-1, 1, 7), torch.linspace(-1, 1, 5), indexing="ij"), -1)
    points = points.reshape(-1, 2)
    there = transform_points(forward, points)
    back = transform_points(torch.linalg.inv(forward), there)
    torch.testing.assert_close(back, points, atol=1e-5, rtol=0)
    assert (there - points).abs().max() > 0.05  # the transform really moved the grid


def test_warp_then_inverse_recovers_a_linear_image_inside():
    # Bilinear sampling reproduces a linear ramp exactly, so a round trip must too, away from the borders.
    ys, xs = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    image = torch.stack([xs, ys, xs + ys])[None]
    forward = affine_to_homography([0.9, 0.0, 0.02, 0.0, 0.95, -0.03])
    back = warp(warp(image, forward, (32, 32)), torch.linalg.inv(forward), (32, 32))
    torch.testing.assert_close(back[..., 4:-4, 4:-4], image[..., 4:-4, 4:-4], atol=1e-4, rtol=0)


def test_homography_from_points_maps_corners_and_shift_moves_top_corners():
    source = torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]])
    destination = source + torch.tensor([[0.2, 0.1], [-0.1, 0.0], [0.0, -0.2], [0.1, 0.1]])
    matrix = homography_from_points(source, destination)
    torch.testing.assert_close(transform_points(matrix, source), destination, atol=1e-5, rtol=0)
    shifted = transform_points(shift_homography(0.25, -0.25), source)
    torch.testing.assert_close(shifted[:, 0], torch.tensor([-0.5, 0.5, 1.0, -1.0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(shift_homography(0.0, 0.0), torch.eye(3), atol=1e-6, rtol=0)


def test_degenerate_points_raise():
    points = torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="degenerate"):
        homography_from_points(points, points)


def test_warp_mask_has_empty_corners_for_a_trapezoid():
    mask = warp_mask(shift_homography(0.3, -0.3), (20, 20), (20, 20))
    assert mask.shape == (1, 1, 20, 20)
    assert mask[0, 0, 0, 0] == 0 and mask[0, 0, 0, -1] == 0  # top corners moved inwards
    assert mask[0, 0, 10, 10] == 1 and mask[0, 0, -1, 0] > 0.4


def test_warp_rejects_bad_shapes():
    with pytest.raises(ValueError, match="homography"):
        warp(torch.rand(1, 3, 8, 8), torch.eye(2), (8, 8))
    with pytest.raises(ValueError, match="B, C, H, W"):
        warp(torch.rand(3, 8, 8), torch.eye(3), (8, 8))
