"""Antialiased resizing and image pyramids, in torch (no 8-bit round trip as in the official numpy code)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["pyramid", "resize"]


def resize(image: Tensor, size: tuple[int, int], *, mode: str = "bicubic") -> Tensor:
    """Resize a (B, C, H, W) tensor to `size` = (h, w).

    Bicubic with antialiasing when shrinking (a MATLAB `imresize`-like low-pass, which the SinGAN pyramid
    relies on to avoid aliasing at coarse scales); plain bicubic when enlarging. Values are not clamped.
    """
    if image.dim() != 4:
        raise ValueError(f"resize expects (B, C, H, W), got shape {tuple(image.shape)}")
    height, width = int(size[0]), int(size[1])
    if height < 1 or width < 1:
        raise ValueError(f"resize target must be positive, got {size}")
    if (height, width) == tuple(image.shape[-2:]):
        return image
    shrinking = height < image.shape[-2] or width < image.shape[-1]
    if mode == "bicubic" and not shrinking and image.is_floating_point():
        # The same bicubic weights as F.interpolate, applied as two matrix products: on a CPU its backward
        # is 4-10x faster for the small feature maps of SinGAN's coarse scales (upsample_bicubic2d_backward
        # was a fifth of a cascade step), and the result differs by float rounding only (~1e-5 in float32).
        rows = _enlarge_matrix(image.shape[-2], height, image.device, image.dtype)
        columns = _enlarge_matrix(image.shape[-1], width, image.device, image.dtype)
        return rows @ image @ columns.T
    align = None if mode in ("nearest", "area") else False
    return F.interpolate(
        image,
        size=(height, width),
        mode=mode,
        align_corners=align,
        antialias=shrinking and mode in ("bilinear", "bicubic"),
    )


@lru_cache(maxsize=256)
def _enlarge_matrix(size_in: int, size_out: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    """(size_out, size_in) matrix of F.interpolate's 1-D bicubic enlargement (align_corners False).

    Built by enlarging the identity: along an axis whose size does not change, bicubic weights are exactly
    (0, 1, 0, 0), so column i is the enlargement of the i-th unit vector.
    """
    eye = torch.eye(size_in, dtype=torch.float64).reshape(size_in, 1, size_in, 1)
    columns = F.interpolate(eye, size=(size_out, 1), mode="bicubic", align_corners=False)
    return columns.reshape(size_in, size_out).T.contiguous().to(device=device, dtype=dtype)


def pyramid(image: Tensor, sizes: Sequence[tuple[int, int]]) -> list[Tensor]:
    """Antialiased resizes of a (1, C, H, W) image to each (h, w) of `sizes`, in the order given.

    Every level is resized from the full image (not from the previous level) so errors do not accumulate.
    """
    return [resize(image, size) for size in sizes]
