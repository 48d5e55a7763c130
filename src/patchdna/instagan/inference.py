"""Sequential inference: translate an image and any number of instance masks, `ins_per` masks per pass."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from patchdna.errors import ConfigError, InputImageError
from patchdna.instagan.data import to_signed, to_unit
from patchdna.instagan.model import InstaGAN
from patchdna.ops import resize

__all__ = ["Direction", "Translation", "translate"]

Direction = Literal["AtoB", "BtoA"]


@dataclass(frozen=True)
class Translation:
    """image (1, 3, H, W) and masks (1, N, H, W) in [0, 1], masks in the order they were given."""

    image: Tensor
    masks: Tensor


def _working_size(height: int, width: int, max_size: int | None) -> tuple[int, int]:
    """The input size, shrunk to `max_size` on the long side and rounded to a multiple of 4 (two stride-2 convs)."""
    scale = min(1.0, max_size / max(height, width)) if max_size else 1.0
    return max(4, round(height * scale / 4) * 4), max(4, round(width * scale / 4) * 4)


@torch.no_grad()
def translate(
    model: InstaGAN,
    image: Tensor,
    masks: Tensor,
    direction: Direction = "AtoB",
    ins_per: int = 2,
    *,
    max_size: int | None = None,
) -> Translation:
    """Translate `image` (1, 3, H, W) or (3, H, W) with its `masks` (1, N, H, W) or (N, H, W), all in [0, 1].

    Masks are taken largest first, `ins_per` per pass; each pass translates the previous pass's image with
    the next masks (the official sequential inference), so N may exceed the `ins_max` used in training.
    The networks run at the image size rounded to a multiple of 4 (or shrunk to `max_size` on the long side);
    results are resized back to the input size. Returns image and masks in [0, 1].
    """
    if direction not in ("AtoB", "BtoA"):
        raise ConfigError(f"direction must be 'AtoB' or 'BtoA', got {direction!r}")
    if ins_per < 1:
        raise ConfigError(f"ins_per must be >= 1, got {ins_per}")
    image = image[None] if image.dim() == 3 else image
    masks = masks[None] if masks.dim() == 3 else masks
    if image.dim() != 4 or image.shape[:2] != (1, 3):
        raise InputImageError(f"expected one RGB image (1, 3, H, W), got shape {tuple(image.shape)}")
    if masks.dim() != 4 or masks.shape[0] != 1:
        raise InputImageError(f"expected masks (1, N, H, W), got shape {tuple(masks.shape)}")
    if masks.shape[-2:] != image.shape[-2:]:
        raise InputImageError(
            f"masks are {masks.shape[-1]}x{masks.shape[-2]} but the image is {image.shape[-1]}x{image.shape[-2]}"
        )
    generator = model.generator_ab if direction == "AtoB" else model.generator_ba
    device = next(generator.parameters()).device
    height, width = image.shape[-2:]
    size = _working_size(height, width, max_size)
    current = to_signed(resize(image.to(device).float(), size).clamp(0, 1))
    work_masks = resize(masks.to(device).float(), size, mode="bilinear").clamp(0, 1) if masks.shape[1] else None
    count = masks.shape[1]
    out_masks = torch.full((1, count, *size), -1.0, device=device)
    areas = masks.flatten(2).sum(-1)[0]
    order = [int(i) for i in torch.argsort(areas.cpu(), descending=True, stable=True) if float(areas[i]) > 0]
    was_training = generator.training
    generator.eval()
    if not order:  # no instance: translate the image with an empty set
        empty = torch.full((1, 1, *size), -1.0, device=device)
        current, _ = generator(current, empty, torch.zeros((1, 1), dtype=torch.bool, device=device))
    for start in range(0, len(order), ins_per):
        chosen = order[start : start + ins_per]
        assert work_masks is not None
        window = to_signed(work_masks[:, chosen])
        valid = torch.ones((1, len(chosen)), dtype=torch.bool, device=device)
        current, fake_masks = generator(current, window, valid)
        out_masks[:, chosen] = fake_masks
    generator.train(was_training)
    return Translation(
        image=resize(to_unit(current), (height, width)).clamp(0, 1).cpu(),
        masks=resize(to_unit(out_masks), (height, width), mode="bilinear").clamp(0, 1).cpu()
        if count
        else torch.zeros((1, 0, height, width)),
    )
