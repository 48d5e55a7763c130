"""patchdna.ops.warp: the geometric transforms InGAN applies to feature maps."""

import pytest
import torch
import torch.nn.functional as F

from patchdna.ops.warp import (
    affine_to_homography,
    homography_from_points,
    resize_bilinear,
    segment_grid,
    segment_indices,
    segment_inverse,
    segment_maps,
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


def _runs(indices: torch.Tensor) -> list[torch.Tensor]:
    """Split a source-index map into its unit-step runs."""
    cuts = torch.nonzero(indices[1:] - indices[:-1] != 1).flatten() + 1
    return list(torch.tensor_split(indices, cuts.tolist()))


@pytest.mark.parametrize("length", [70, 35, 140, 101, 10, 3, 400])
def test_segment_resize_keeps_the_local_scale(length):
    lines = torch.rand(70, 12, generator=torch.Generator().manual_seed(1))
    indices = segment_indices(lines, length, segment=16, slack=4)
    assert indices.shape == (length,) and 0 <= indices.min() and indices.max() < 70
    if length == 70:
        assert torch.equal(indices, torch.arange(70))
    # Unit-scale runs of at least one segment (the last may be shorter): nothing is stretched or squeezed.
    runs = _runs(indices)
    assert all(len(run) >= min(16, length) for run in runs[:-1])
    if length >= 140:
        assert set(indices.tolist()) == set(range(70))  # growing repeats content and skips none
    # The layout is kept: each segment sits near where a plain resize would put it.
    centres = torch.tensor([run.float().mean() for run in runs])
    positions = torch.tensor([float(sum(len(r) for r in runs[:k]) + len(runs[k]) / 2) for k in range(len(runs))])
    assert (centres - positions * 70 / length).abs().max() <= 4 + 16


def test_segment_cuts_join_matching_lines():
    # A periodic signal (period 10): with slack >= period / 2 every cut can join lines that match exactly.
    lines = torch.sin(torch.arange(60.0) * 2 * torch.pi / 10)[:, None].repeat(1, 3)
    indices = segment_indices(lines, 150, segment=20, slack=5)
    following = lines[(indices[:-1] + 1).clamp(max=59)]
    assert (following - lines[indices[1:]]).abs().max() < 1e-5


def _smooth_field(height: int, width: int, seed: int) -> torch.Tensor:
    """(3, H, W) low-pass noise: structure at many positions, so cut choices matter."""
    noise = torch.rand(1, 3, height // 4 + 1, width // 4 + 1, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(noise, size=(height, width), mode="bicubic", align_corners=False)[0]


@pytest.mark.parametrize("size", [(40, 60), (40, 150), (40, 25), (90, 60), (17, 131)])
def test_segment_maps_pick_source_pixels_in_unit_steps(size):
    image = _smooth_field(40, 60, seed=4)
    rows, columns = segment_maps(image, size, segment=16, slack=4, overlap=6)
    assert rows.shape == columns.shape == size
    assert 0 <= rows.min() and rows.max() < 40 and 0 <= columns.min() and columns.max() < 60
    if size == (40, 60):
        assert torch.equal(rows, torch.arange(40)[:, None].expand(40, 60))
        assert torch.equal(columns, torch.arange(60)[None].expand(40, 60))
    # Neighbours in the output are source neighbours except at the joins: nothing is stretched or squeezed.
    unit_steps = (columns[:, 1:] - columns[:, :-1] == 1).float().mean()
    unit_steps_down = (rows[1:] - rows[:-1] == 1).float().mean()
    assert unit_steps >= 0.85 and unit_steps_down >= 0.85, (unit_steps, unit_steps_down)


def test_quilted_joins_differ_less_than_straight_ones():
    image = _smooth_field(48, 64, seed=5)
    energy = {}
    for overlap in (0, 8):
        rows, columns = segment_maps(image, (48, 160), segment=16, slack=0, overlap=overlap)
        out = image[:, rows, columns]
        energy[overlap] = (out[:, :, 1:] - out[:, :, :-1]).pow(2).sum().item()
    assert energy[8] < energy[0]


@pytest.mark.parametrize("size", [(48, 130), (30, 35), (70, 20)])
def test_segment_inverse_restores_what_was_kept(size):
    image = _smooth_field(48, 64, seed=6)
    rows, columns = segment_maps(image, size, segment=16, slack=4, overlap=6)
    back_rows, back_columns, exact = segment_inverse(rows, columns, (48, 64))
    assert back_rows.shape == back_columns.shape == exact.shape == (48, 64)
    assert back_rows.max() < size[0] and back_columns.max() < size[1]
    source_rows, source_columns = torch.meshgrid(torch.arange(48), torch.arange(64), indexing="ij")
    assert torch.equal(rows[back_rows, back_columns][exact], source_rows[exact])
    assert torch.equal(columns[back_rows, back_columns][exact], source_columns[exact])
    if size[0] >= 48 and size[1] >= 64:
        assert exact.all()  # growing repeats content and skips none
    else:
        assert 0 < exact.sum() <= size[0] * size[1]


def test_segment_grid_sampling_is_an_exact_gather():
    image = torch.rand(2, 5, 20, 30, generator=torch.Generator().manual_seed(3))
    rows = torch.randint(0, 20, (7, 11), generator=torch.Generator().manual_seed(4))
    columns = torch.randint(0, 30, (7, 11), generator=torch.Generator().manual_seed(5))
    grid = segment_grid(rows, columns, (20, 30)).expand(2, -1, -1, -1)
    sampled = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=False)
    torch.testing.assert_close(sampled, image[:, :, rows, columns], atol=1e-5, rtol=0)
