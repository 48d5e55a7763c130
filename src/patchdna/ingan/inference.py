"""Using a trained InGAN: retarget to any size, scale lists, collages, videos, non-rectangular warps, textures.

Every function takes an `InGANModel` and returns images as float (1, C, H, W) in [0, 1] on the CPU.
Sizes are (height, width) in pixels; scales are (height factor, width factor) relative to the training image.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from patchdna.errors import ConfigError
from patchdna.ingan.model import InGANModel
from patchdna.ingan.networks import STRIDE
from patchdna.ops.warp import affine_to_homography, shift_homography, warp_mask
from patchdna.video import image_grid, write_video

__all__ = [
    "COLLAGE_SCALES",
    "MAX_OUTPUT_PIXELS",
    "affine_matrix",
    "check_size",
    "collage",
    "homography_matrix",
    "retarget",
    "retarget_scales",
    "shift_matrix",
    "tile_margin",
    "video",
    "video_frames",
    "warp_output",
]

MAX_OUTPUT_PIXELS = 64_000_000  # the same ceiling as input images: beyond it a size is almost surely a typo
AUTO_TILE_PIXELS = 4_000_000  # above this many output pixels the body runs in tiles (bounded memory)
DEFAULT_TILE = 1024
COLLAGE_SCALES = (2.0, 1.25, 1.0, 0.66, 0.33)  # rows: height factors, columns: width factors; 1.0 in the centre

Color = tuple[float, float, float]


def check_size(size: Sequence[int]) -> tuple[int, int]:
    """Validate an output (height, width): positive integers, at most `MAX_OUTPUT_PIXELS` pixels."""
    if len(size) != 2:
        raise ConfigError(f"size must be (height, width), got {tuple(size)}")
    height, width = size
    if int(height) != height or int(width) != width:
        raise ConfigError(f"size must be whole pixels, got {height}x{width}")
    height, width = int(height), int(width)
    if height < 1 or width < 1:
        raise ConfigError(f"output size must be positive, got {height}x{width}")
    if height * width > MAX_OUTPUT_PIXELS:
        raise ConfigError(
            f"output size {height}x{width} is {height * width / 1e6:.0f} MP, over the {MAX_OUTPUT_PIXELS // 10**6} MP "
            "limit; ask for a smaller size"
        )
    return height, width


def _scaled_size(model: InGANModel, scale: tuple[float, float]) -> tuple[int, int]:
    if not all(math.isfinite(s) and s > 0 for s in scale):
        raise ConfigError(f"scales must be positive numbers, got {scale}")
    height, width = model.image_size
    return check_size((max(1, round(height * scale[0])), max(1, round(width * scale[1]))))


def tile_margin(model: InGANModel) -> int:
    """Pixels of context each tile needs so tiled and whole outputs agree (the body's receptive radius)."""
    config = model.config
    # down convs at 1/2, 1/4, 1/8 and up convs at 1/8, 1/4, 1/2 (radius 1 each, times the stride), the
    # bottleneck's 3x3 convs at 1/8, the exit conv, plus one pooling cell of slack.
    radius = 2 * (2 + 4 + 8) + 8 * config.bottleneck_blocks + config.exit_kernel // 2 + STRIDE
    return int(math.ceil(radius / STRIDE) * STRIDE)


@torch.no_grad()
def _generate(model: InGANModel, size: tuple[int, int], forward: Tensor | None, tile: int | None) -> Tensor:
    """G(x; T) for the model's image: (1, 3, h, w) in [0, 1] on the CPU."""
    generator = model.generator
    image = (model.image * 2 - 1).contiguous(memory_format=torch.channels_last)
    height, width = size
    if tile is None and height * width > AUTO_TILE_PIXELS:
        tile = DEFAULT_TILE
    if tile is None or (height <= tile and width <= tile):
        out = generator(image, size, forward)
        return ((out + 1) / 2).clamp(0, 1).float().cpu()
    if tile < STRIDE:
        raise ConfigError(f"tile must be at least {STRIDE} px, got {tile}")
    # Tiles sample their features straight from the sampling grid, so the full-resolution feature map is never
    # held. Tile origins and margins sit on the 8-pixel grid, so pooling cells match those of a whole pass.
    features = generator.features(image)
    tile = tile // STRIDE * STRIDE
    margin = tile_margin(model)
    grid = generator.sampling_grid(image, size, forward)  # (1, h, w, 2)
    pad_h, pad_w = (-height) % STRIDE, (-width) % STRIDE
    grid = F.pad(grid.permute(0, 3, 1, 2), (0, pad_w, 0, pad_h), mode="replicate").permute(0, 2, 3, 1)
    full_h, full_w = grid.shape[1:3]
    out = torch.empty(1, 3, full_h, full_w)
    for top in range(0, full_h, tile):
        for left in range(0, full_w, tile):
            y0, x0 = max(0, top - margin), max(0, left - margin)
            y1, x1 = min(full_h, top + tile + margin), min(full_w, left + tile + margin)
            tile_grid = grid[:, y0:y1, x0:x1]
            tile_features = generator.sample(features, tile_grid).contiguous(memory_format=torch.channels_last)
            base = generator.sample(image, tile_grid) if generator.residual else None
            result = generator.unet(tile_features, base)
            bottom, right = min(full_h, top + tile), min(full_w, left + tile)
            out[..., top:bottom, left:right] = result[..., top - y0 : bottom - y0, left - x0 : right - x0].float().cpu()
    return ((out[..., :height, :width] + 1) / 2).clamp(0, 1)


def retarget(
    model: InGANModel,
    size: tuple[int, int] | None = None,
    *,
    scale: tuple[float, float] | None = None,
    tile: int | None = None,
) -> Tensor:
    """The model's image retargeted to `size` = (h, w) (any positive size) or `scale` = (h factor, w factor).

    One forward pass. `tile` (pixels) processes the output in tiles of that side with enough overlap to match
    a whole pass; it is chosen automatically above 4 MP (texture synthesis at many times the input size).
    Returns (1, 3, h, w) in [0, 1].
    """
    if (size is None) == (scale is None):
        raise ConfigError("give exactly one of size=(h, w) or scale=(h factor, w factor)")
    target = check_size(size) if size is not None else _scaled_size(model, scale)  # type: ignore[arg-type]
    return _generate(model, target, None, tile)


def retarget_scales(model: InGANModel, scales: Sequence[tuple[float, float]]) -> list[Tensor]:
    """One retarget per (height factor, width factor) pair."""
    return [retarget(model, scale=s) for s in scales]


def collage(model: InGANModel, scales: Sequence[float] = COLLAGE_SCALES, pad: int = 4) -> Tensor:
    """A grid of retargets: row r has height factor scales[r], column c width factor scales[c].

    With the default 5 scales the input size (1.0, 1.0) sits in the centre. Returns (1, 3, H, W) in [0, 1].
    """
    images = [retarget(model, scale=(sh, sw)) for sh in scales for sw in scales]
    return image_grid(images, columns=len(scales), pad=pad)


def _video_path(frames: int, amplitude: float) -> list[tuple[float, float]]:
    """A closed loop through scale pairs: height and width factors swing in log space at different rates."""
    path = []
    for index in range(frames):
        phase = 2 * math.pi * index / frames
        path.append((2 ** (amplitude * math.sin(phase)), 2 ** (amplitude * math.sin(2 * phase))))
    return path


def video_frames(
    model: InGANModel,
    frames: int = 96,
    amplitude: float = 1.0,
    background: Color = (1.0, 1.0, 1.0),
    scales: Sequence[tuple[float, float]] | None = None,
) -> list[Tensor]:
    """Retargets along a continuous path of scale pairs, each centred on one canvas of the largest size.

    The default path swings each factor between 2**-amplitude and 2**amplitude. Returns (1, 3, H, W) frames.
    """
    if scales is None:
        if frames < 2:
            raise ConfigError(f"a video needs at least 2 frames, got {frames}")
        if not 0 < amplitude <= 2:
            raise ConfigError(f"amplitude must lie in (0, 2], got {amplitude}")
        scales = _video_path(frames, amplitude)
    images = retarget_scales(model, scales)
    height = max(int(i.shape[-2]) for i in images)
    width = max(int(i.shape[-1]) for i in images)
    canvas = torch.tensor(background, dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, height, width)
    result = []
    for image in images:
        frame = canvas.clone()
        top, left = (height - image.shape[-2]) // 2, (width - image.shape[-1]) // 2
        frame[..., top : top + image.shape[-2], left : left + image.shape[-1]] = image
        result.append(frame)
    return result


def video(
    model: InGANModel,
    path: str | os.PathLike[str],
    frames: int = 96,
    fps: float = 24.0,
    amplitude: float = 1.0,
) -> Path:
    """Write a continuous-retargeting video (.mp4 or .gif) and return its path."""
    return write_video(video_frames(model, frames, amplitude), path, fps=fps)


def shift_matrix(left: float, right: float) -> Tensor:
    """Forward homography moving the top-left / top-right corners right by fractions of the width."""
    for value in (left, right):
        if not math.isfinite(value) or abs(value) > 1.0:
            raise ConfigError(f"shifts must lie in [-1, 1] (fractions of the width), got {left}, {right}")
    return shift_homography(left, right)


def affine_matrix(values: Sequence[float]) -> Tensor:
    """Forward homography from 6 affine numbers a,b,c,d,e,f: x' = a x + b y + c, y' = d x + e y + f."""
    if len(values) != 6:
        raise ConfigError(f"--affine needs 6 numbers a,b,c,d,e,f, got {len(values)}")
    return homography_matrix([*values, 0.0, 0.0, 1.0])


def homography_matrix(values: Sequence[float]) -> Tensor:
    """Forward homography from 9 numbers (row-major 3x3); refuses singular or non-finite matrices."""
    if len(values) == 6:
        return affine_to_homography(values)
    if len(values) != 9:
        raise ConfigError(f"--homography needs 9 numbers (a row-major 3x3 matrix), got {len(values)}")
    matrix = torch.tensor(list(values), dtype=torch.float64).reshape(3, 3)
    if not torch.isfinite(matrix).all() or abs(torch.linalg.det(matrix).item()) < 1e-9:
        raise ConfigError("the homography must be finite and invertible (non-zero determinant)")
    return matrix.float()


def warp_output(
    model: InGANModel,
    forward: Tensor,
    size: tuple[int, int] | None = None,
    *,
    background: Color | None = (1.0, 1.0, 1.0),
) -> Tensor:
    """A non-rectangular retarget: the image's shape warped by `forward`, composited through the warped mask.

    `forward` (3, 3) maps normalised input coordinates to output coordinates (see `patchdna.ops.warp`); the
    output canvas has `size` (default: the input size). G runs on the warped features everywhere, then pixels
    outside the warped input frame get `background` (RGB in [0, 1]) or, with `background=None`, alpha 0:
    the result is then (1, 4, h, w) RGBA instead of (1, 3, h, w).
    """
    target = check_size(size) if size is not None else model.image_size
    if tuple(forward.shape) != (3, 3) or abs(torch.linalg.det(forward.double()).item()) < 1e-9:
        raise ConfigError("the warp must be an invertible 3x3 homography")
    out = _generate(model, target, forward.to(model.device), None)
    mask = warp_mask(forward.cpu(), model.image_size, target)
    if background is None:
        return torch.cat([out, mask], dim=1)
    canvas = torch.tensor(background, dtype=torch.float32).view(1, 3, 1, 1)
    return out * mask + canvas * (1 - mask)
