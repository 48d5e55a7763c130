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
    "segment_grid",
    "segment_indices",
    "segment_inverse",
    "segment_maps",
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


def segment_indices(lines: Tensor, length: int, segment: int = 24, slack: int = 6) -> Tensor:
    """Source index (length,) of every output line for a resize that keeps the local scale.

    `lines` (N, D): the N lines (rows or columns) of an image along one axis, each flattened to D values.
    The output is made of consecutive segments of `segment` source lines taken at unit scale: a resize to a
    larger `length` repeats content, a smaller one skips content, and nothing is stretched or squeezed, so local
    structure keeps its shape (a bilinear resize stretches it). Segment k is centred where a plain resize would
    put it; its start may move by up to `slack` lines, chosen by dynamic programming to make every cut join
    similar lines (sum over cuts of the mean |line after segment k's end - first line of segment k + 1|).
    `length == N` gives the identity.
    """
    count = int(lines.shape[0])
    if length < 1 or count < 1:
        raise ValueError(f"need positive lengths, got {count} -> {length}")
    if length == count:
        return torch.arange(count, device=lines.device)
    segment = max(1, min(segment, count, length))
    spans = [min(segment, length - start) for start in range(0, length, segment)]
    outputs = [k * segment for k in range(len(spans))]
    offsets = torch.arange(-slack, slack + 1, device=lines.device)
    candidates = []
    for start, span in zip(outputs, spans):
        nominal = round((start + span / 2) * count / length - span / 2)
        candidates.append(torch.unique((nominal + offsets).clamp(0, count - span)))
    lines = lines.float()
    cost = torch.zeros(len(candidates[0]), device=lines.device)
    choices = []
    for k in range(1, len(spans)):
        previous, current = candidates[k - 1], candidates[k]
        follower = (previous + spans[k - 1]).clamp(max=count - 1)  # the line that continues segment k-1
        seam = torch.cdist(lines[follower], lines[current], p=1) / lines.shape[1]  # (P, C)
        seam = seam.masked_fill((previous + spans[k - 1])[:, None] == current[None, :], 0.0)  # no cut at all
        total = cost[:, None] + seam
        cost, best = total.min(dim=0)
        choices.append(best)
    pick = int(cost.argmin())
    starts = [0] * len(spans)
    for k in range(len(spans) - 1, -1, -1):
        starts[k] = int(candidates[k][pick])
        if k > 0:
            pick = int(choices[k - 1][pick])
    return torch.cat([torch.arange(s, s + n, device=lines.device) for s, n in zip(starts, spans)])


def _boundary_paths(errors: Tensor) -> Tensor:
    """Minimum-error boundaries (K, H) through K error surfaces (K, H, n), one column per row.

    Image quilting's cut: a path from the top row to the bottom one that moves at most one column per row and
    has the least summed error; `errors[k, r, t]` is the cost of the boundary passing row r at column t.
    """
    count, height, width = errors.shape
    cost = errors[:, 0].clone()
    steps = []
    inf = torch.full((count, 1), float("inf"), device=errors.device)
    for row in range(1, height):
        padded = torch.cat([inf, cost, inf], dim=1)
        options = torch.stack([padded[:, :-2], padded[:, 1:-1], padded[:, 2:]])  # from t-1, t, t+1
        best, move = options.min(dim=0)
        steps.append(move - 1)
        cost = best + errors[:, row]
    path = torch.empty(count, height, dtype=torch.long, device=errors.device)
    path[:, -1] = cost.argmin(dim=1)
    for row in range(height - 1, 0, -1):
        path[:, row - 1] = path[:, row] + steps[row - 1].gather(1, path[:, row : row + 1]).squeeze(1)
    return path


def _segment_columns(image: Tensor, length: int, segment: int, slack: int, overlap: int) -> Tensor:
    """Source column (H, length) of every output pixel of a segment resize of (C, H, W) along its width."""
    channels, height, width = image.shape
    straight = segment_indices(image.permute(2, 0, 1).reshape(width, -1), length, segment, slack)
    columns = straight[None].repeat(height, 1)
    cuts = (torch.nonzero(straight[1:] - straight[:-1] != 1).flatten() + 1).tolist()
    half = overlap // 2
    cuts = [c for c in cuts if min(length, c + overlap - half) - max(0, c - half) >= 2]
    if overlap < 2 or not cuts:
        return columns
    # Around each cut the two neighbouring segments both continue for `overlap` columns; every row switches
    # from the left one to the right one where they differ least (the boundary path through their difference).
    starts = torch.tensor([max(0, c - half) for c in cuts])
    stops = torch.tensor([min(length, c + overlap - half) for c in cuts])
    span = int((stops - starts).max())
    positions = starts[:, None] + torch.arange(span)[None]  # (K, span) output columns
    valid = positions < stops[:, None]
    positions = torch.minimum(positions, stops[:, None] - 1)
    cut = torch.tensor(cuts)
    left = (straight[cut - 1][:, None] + positions - (cut[:, None] - 1)).clamp(0, width - 1)
    right = (straight[cut][:, None] + positions - cut[:, None]).clamp(0, width - 1)
    difference = image[:, :, left] - image[:, :, right]  # (C, H, K, span)
    errors = difference.float().pow(2).sum(0).permute(1, 0, 2)  # (K, H, span)
    errors = errors.masked_fill(~valid[:, None, :], float("inf"))
    paths = _boundary_paths(errors)  # (K, H)
    take_right = torch.arange(span)[None, None, :] >= paths[:, :, None]  # (K, H, span)
    chosen = torch.where(take_right, right[:, None, :], left[:, None, :])  # (K, H, span)
    for k in range(len(cuts)):
        n = int(stops[k] - starts[k])
        columns[:, int(starts[k]) : int(starts[k]) + n] = chosen[k, :, :n]
    return columns


def segment_maps(
    image: Tensor, size: tuple[int, int], segment: int = 24, slack: int = 6, overlap: int = 8
) -> tuple[Tensor, Tensor]:
    """Source row and column (each (h, w), long) of every output pixel of a segment resize of (C, H, W).

    Width first, then height, each with `segment_indices` (unit-scale segments, cut points where whole lines
    join best); then, within `overlap` pixels around every cut, each line crosses from one segment to the next
    along the minimum-error boundary (image quilting's cut), so a join follows the content instead of a
    straight line. `overlap` < 2 keeps straight cuts. Every output pixel is one source pixel: no stretch.
    """
    image = image.detach().float()
    columns = _segment_columns(image, int(size[1]), segment, slack, overlap)  # (H, w)
    middle = image.gather(2, columns[None].expand(image.shape[0], -1, -1))  # (C, H, w)
    rows_in_middle = _segment_columns(middle.transpose(1, 2), int(size[0]), segment, slack, overlap).t()  # (h, w)
    return rows_in_middle, columns.gather(0, rows_in_middle)


def segment_inverse(rows: Tensor, columns: Tensor, source_size: tuple[int, int]) -> tuple[Tensor, Tensor, Tensor]:
    """The way back from `segment_maps`: for each source pixel, an output pixel showing it.

    Returns (back_rows, back_columns, exact), each (H, W). A source pixel shown several times maps to its first
    copy (in reading order); one that was skipped maps to its proportional position and `exact` is False
    there (its content cannot come back, so a reconstruction loss should not ask for it).
    """
    height, width = source_size
    out_h, out_w = rows.shape
    source = (rows * width + columns).flatten()
    first = torch.full((height * width,), out_h * out_w, dtype=torch.long, device=rows.device)
    first = first.scatter_reduce(0, source, torch.arange(out_h * out_w, device=rows.device), reduce="amin")
    exact = (first < out_h * out_w).reshape(height, width)
    proportional_rows = ((torch.arange(height, device=rows.device) + 0.5) * out_h / height).long().clamp(max=out_h - 1)
    proportional_columns = ((torch.arange(width, device=rows.device) + 0.5) * out_w / width).long().clamp(max=out_w - 1)
    first = first.reshape(height, width)
    back_rows = torch.where(exact, first // out_w, proportional_rows[:, None].expand(height, width))
    back_columns = torch.where(exact, first % out_w, proportional_columns[None, :].expand(height, width))
    return back_rows, back_columns, exact


def segment_grid(rows: Tensor, columns: Tensor, source_size: tuple[int, int]) -> Tensor:
    """Sampling grid (1, h, w, 2) for `grid_sample` picking source pixel (rows[i, j], columns[i, j]) at (i, j).

    Points sit on pixel centres, so bilinear sampling with this grid is an exact gather (any channels, any
    feature map of the source's size), and the tiled retarget path can slice it like a homography grid.
    """
    height, width = source_size
    ys = (rows.float() * 2 + 1) / height - 1
    xs = (columns.float() * 2 + 1) / width - 1
    return torch.stack([xs, ys], dim=-1)[None]


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
