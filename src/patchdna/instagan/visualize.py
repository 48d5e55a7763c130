"""Pictures of images with their instance masks (previews, galleries)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from patchdna.video import image_grid

__all__ = ["comparison_sheet", "mask_colors", "overlay"]


def mask_colors(count: int) -> Tensor:
    """(count, 3) distinct colours in [0, 1] (golden-angle hues)."""
    hues = (torch.arange(count, dtype=torch.float32) * 0.618034) % 1.0
    k = (torch.tensor([5.0, 3.0, 1.0]) + hues[:, None] * 6) % 6
    return 1 - (torch.minimum(k, 4 - k).clamp(0, 1))


def overlay(image: Tensor, masks: Tensor, alpha: float = 0.55) -> Tensor:
    """(3, H, W) image and (N, H, W) masks in [0, 1] -> (3, H, W) with each mask tinted in its own colour."""
    out = image.clone()
    for mask, colour in zip(masks, mask_colors(masks.shape[0])):
        weight = alpha * mask.clamp(0, 1)[None]
        out = out * (1 - weight) + colour[:, None, None] * weight
    return out


def masks_image(masks: Tensor) -> Tensor:
    """(N, H, W) masks in [0, 1] -> (3, H, W) colour-coded on black (the official *_seg.png look, in colour)."""
    canvas = torch.zeros((3, *masks.shape[-2:]))
    return overlay(canvas, masks, alpha=1.0)


def comparison_sheet(rows: Sequence[tuple[Tensor, Tensor, Tensor, Tensor]]) -> Tensor:
    """Rows of (image, masks, fake, fake masks), batched (B, ...) in [0, 1] -> one (1, 3, H', W') sheet.

    Columns: source, source masks, translation, translated masks.
    """
    tiles = []
    for image, masks, fake, fake_masks in rows:
        for i in range(image.shape[0]):
            tiles += [
                image[i : i + 1].cpu(),
                overlay(image[i].cpu(), masks[i].cpu())[None],
                fake[i : i + 1].cpu(),
                overlay(fake[i].cpu(), fake_masks[i].cpu())[None],
            ]
    return image_grid([t.clamp(0, 1) for t in tiles], columns=4)
