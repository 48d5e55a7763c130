"""Antialiased resizing and image pyramids, in torch (no 8-bit round trip as in the official numpy code)."""

from __future__ import annotations

from collections.abc import Sequence

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
    align = None if mode in ("nearest", "area") else False
    return F.interpolate(
        image,
        size=(height, width),
        mode=mode,
        align_corners=align,
        antialias=shrinking and mode in ("bilinear", "bicubic"),
    )


def pyramid(image: Tensor, sizes: Sequence[tuple[int, int]]) -> list[Tensor]:
    """Antialiased resizes of a (1, C, H, W) image to each (h, w) of `sizes`, in the order given.

    Every level is resized from the full image (not from the previous level) so errors do not accumulate.
    """
    return [resize(image, size) for size in sizes]
