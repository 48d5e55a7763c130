"""Geometric transforms of feature maps and images: resize, affine and homography warps via grid sampling.

Coordinate convention (the one of `torch.nn.functional.grid_sample` with `align_corners=False`): a point is
(x, y) in normalised units where -1 and +1 are the outer edges of the first and last pixel along each axis.
Because both the source and the destination frame span [-1, 1], a transform expressed in these units is
independent of the pixel sizes: the identity matrix between a (H, W) source and an (h, w) destination *is* a
plain bilinear resize, and a homography composes with any retarget size for free.

Matrices are (3, 3) or (B, 3, 3) homographies acting on column vectors (x, y, 1). `forward` matrices map
source points to destination points (where does the image go); `warp` samples, so it applies the inverse.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "affine_to_homography",
    "homography_from_points",
    "homography_grid",
    "resize_bilinear",
    "shift_homography",
    "transform_points",
    "warp",
    "warp_mask",
]

# The four corners of the normalised frame, clockwise from top-left: (x, y).
CORNERS = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))


def _batched(matrix: Tensor) -> Tensor:
    if matrix.dim() == 2:
        matrix = matrix[None]
    if matrix.dim() != 3 or tuple(matrix.shape[-2:]) != (3, 3):
        raise ValueError(f"expected a (3, 3) or (B, 3, 3) homography, got shape {tuple(matrix.shape)}")
    return matrix


def resize_bilinear(features: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of (B, C, H, W) to (B, C, h, w), without antialiasing.

    Without antialiasing this equals `warp` with the identity matrix, so the plain-resize and homography paths
    of InGAN's generator see the same features.
    """
    if tuple(features.shape[-2:]) == tuple(size):
        return features
    return F.interpolate(features, size=size, mode="bilinear", align_corners=False)


def homography_grid(matrix: Tensor, size: tuple[int, int], *, device: torch.device | None = None) -> Tensor:
    """Sampling grid (B, h, w, 2) for `grid_sample`: the centre of each destination pixel mapped by `matrix`.

    `matrix` (3, 3) or (B, 3, 3) maps *destination* normalised points to *source* points (the sampling
    direction; pass the inverse of a forward transform).
    """
    matrix = _batched(matrix).float()
    height, width = int(size[0]), int(size[1])
    device = device or matrix.device
    ys = (torch.arange(height, device=device, dtype=torch.float32) * 2 + 1) / height - 1
    xs = (torch.arange(width, device=device, dtype=torch.float32) * 2 + 1) / width - 1
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    points = torch.stack([grid_x, grid_y, torch.ones_like(grid_x)], dim=-1).reshape(-1, 3)  # (h*w, 3)
    mapped = points @ matrix.to(device).transpose(1, 2)  # (B, h*w, 3)
    # Points behind the camera (w <= 0) have no image; send them far outside so padding applies.
    w = mapped[..., 2:3]
    safe_w = torch.where(w.abs() < 1e-8, torch.full_like(w, 1e-8), w)
    xy = mapped[..., :2] / safe_w
    xy = torch.where(w > 0, xy, torch.full_like(xy, 4.0))
    return xy.reshape(matrix.shape[0], height, width, 2)


def warp(
    image: Tensor,
    forward: Tensor,
    size: tuple[int, int],
    *,
    padding_mode: str = "border",
) -> Tensor:
    """Warp (B, C, H, W) into a (B, C, h, w) frame by the forward homography `forward` (source -> destination).

    Bilinear sampling. `padding_mode` "border" (InGAN's choice for feature maps: the generator sees plausible
    values everywhere) or "zeros" (for masks).
    """
    if image.dim() != 4:
        raise ValueError(f"warp expects (B, C, H, W), got shape {tuple(image.shape)}")
    inverse = torch.linalg.inv(_batched(forward).double()).float()
    grid = homography_grid(inverse, size, device=image.device).to(image.dtype)
    if grid.shape[0] != image.shape[0]:
        grid = grid.expand(image.shape[0], -1, -1, -1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def warp_mask(forward: Tensor, source_size: tuple[int, int], size: tuple[int, int]) -> Tensor:
    """Soft mask (B, 1, h, w) in [0, 1] of the destination pixels covered by the warped source frame."""
    ones = torch.ones(1, 1, int(source_size[0]), int(source_size[1]), device=forward.device)
    return warp(ones, forward, size, padding_mode="zeros").clamp(0, 1)


def transform_points(matrix: Tensor, points: Tensor) -> Tensor:
    """Apply a (3, 3) homography to (N, 2) points (x, y); returns (N, 2)."""
    homogeneous = torch.cat([points, torch.ones_like(points[:, :1])], dim=1) @ matrix.transpose(0, 1)
    return homogeneous[:, :2] / homogeneous[:, 2:3]


def affine_to_homography(theta: Tensor | Sequence[float]) -> Tensor:
    """A (2, 3) affine matrix (or 6 numbers, row-major) -> (3, 3) homography with last row (0, 0, 1)."""
    theta = torch.as_tensor(theta, dtype=torch.float64).reshape(2, 3)
    return torch.cat([theta, torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)]).float()


def homography_from_points(source: Tensor, destination: Tensor) -> Tensor:
    """The (3, 3) homography mapping 4 source points (4, 2) onto 4 destination points (direct linear solve)."""
    source, destination = source.double(), destination.double()
    rows, rhs = [], []
    for (x, y), (u, v) in zip(source.tolist(), destination.tolist()):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    try:
        solution = torch.linalg.solve(torch.tensor(rows, dtype=torch.float64), torch.tensor(rhs, dtype=torch.float64))
    except RuntimeError as error:  # torch raises on a singular system (three collinear points)
        raise ValueError("the four points are degenerate (three of them on one line)") from error
    return torch.cat([solution, torch.ones(1, dtype=torch.float64)]).reshape(3, 3).float()


def shift_homography(left: float, right: float) -> Tensor:
    """InGAN's two-parameter homography: the top-left corner moves right by `left`, the top-right by `right`.

    Shifts are fractions of the frame width; the bottom corners stay. (0, 0) is the identity, (s, -s) narrows
    the top into a trapezoid (a perspective tilt), (s, s) is a horizontal shear.
    """
    source = torch.tensor(CORNERS)
    destination = source.clone()
    destination[0, 0] += 2 * left
    destination[1, 0] += 2 * right
    return homography_from_points(source, destination)
