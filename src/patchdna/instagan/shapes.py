"""A measurable InstaGAN task: ellipses (domain A) <-> rectangles (domain B) on textured backgrounds.

Each image has 1-6 non-overlapping instances, axis-aligned, with one mask file per instance (official layout).
Ellipses are warm-coloured, rectangles cool-coloured, so a translation must change both shape and appearance;
backgrounds come from one distribution for both domains, so a good translation leaves them untouched.
A simple geometric rule scores the result: a mask filling >= 90% of its bounding box is a rectangle (an
axis-aligned ellipse fills pi/4 = 79%).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch
from PIL import Image, ImageDraw
from torch import Tensor

from patchdna.errors import ConfigError

__all__ = ["RECTANGLE_FILL", "classify_shape", "make_shapes", "render_scene"]

RECTANGLE_FILL = 0.9  # fill ratio (area / bounding-box area) from which a mask counts as a rectangle


def _background(size: int, generator: torch.Generator) -> Tensor:
    """(3, H, W) in [0, 1]: two random sinusoidal gratings plus smooth noise, in a random muted palette."""
    y, x = torch.meshgrid(
        torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij"
    )
    r = torch.rand(8, generator=generator)
    texture = torch.zeros(size, size)
    for j in range(2):
        angle, frequency, phase = r[j] * math.pi, 0.15 + 0.35 * r[2 + j], r[4 + j] * 6.283
        texture += torch.sin(frequency * (x * torch.cos(angle) + y * torch.sin(angle)) + phase)
    coarse = torch.rand((1, 1, 6, 6), generator=generator)
    smooth = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)[0, 0]
    texture = 0.5 + 0.12 * texture + 0.3 * (smooth - 0.5)
    tint = 0.35 + 0.3 * torch.rand(3, generator=generator)  # muted grey-ish colours, neither warm nor cool
    return (texture[None] * 0.6 + tint[:, None, None] * 0.4).clamp(0, 1)


def render_scene(size: int, kind: str, count: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """An image (3, H, W) and its masks (N, H, W) in [0, 1], N <= count (placement may give up on crowding).

    `kind` is 'ellipse' (warm colours) or 'rectangle' (cool colours).
    """
    if kind not in ("ellipse", "rectangle"):
        raise ConfigError(f"kind must be 'ellipse' or 'rectangle', got {kind!r}")
    image = _background(size, generator)
    occupied = torch.zeros(size, size, dtype=torch.bool)
    masks = []
    low, high = max(3, size // 13), max(5, size // 6)  # half-extents: 4..10 px at 64 px
    for _ in range(count):
        for _attempt in range(30):
            half_w, half_h = (int(v) for v in torch.randint(low, high + 1, (2,), generator=generator))
            cx = int(torch.randint(half_w + 1, size - half_w - 1, (1,), generator=generator))
            cy = int(torch.randint(half_h + 1, size - half_h - 1, (1,), generator=generator))
            box = (cx - half_w, cy - half_h, cx + half_w, cy + half_h)
            canvas = Image.new("L", (size, size), 0)
            draw = ImageDraw.Draw(canvas)
            (draw.ellipse if kind == "ellipse" else draw.rectangle)(box, fill=255)
            mask = torch.frombuffer(bytearray(canvas.tobytes()), dtype=torch.uint8).view(size, size) > 0
            grown = torch.nn.functional.max_pool2d(mask[None, None].float(), 5, 1, 2)[0, 0] > 0  # keep a gap
            if not (grown & occupied).any():
                break
        else:
            continue
        occupied |= mask
        hue = torch.rand(3, generator=generator)
        if kind == "ellipse":  # warm: red-orange-yellow
            colour = torch.stack([0.85 + 0.15 * hue[0], 0.25 + 0.45 * hue[1], 0.1 * hue[2]])
        else:  # cool: blue-cyan
            colour = torch.stack([0.1 * hue[0], 0.3 + 0.4 * hue[1], 0.8 + 0.2 * hue[2]])
        shade = 0.85 + 0.15 * torch.rand((1, size, size), generator=generator)  # a little texture inside
        image = torch.where(mask[None], (colour[:, None, None] * shade).clamp(0, 1), image)
        masks.append(mask.float())
    return image, torch.stack(masks) if masks else torch.zeros((0, size, size))


def _write(image: Tensor, masks: Tensor, folder: Path, stem: str) -> None:
    from patchdna.io import save_image

    save_image(image[None], folder / f"{stem}.png")
    for k, mask in enumerate(masks):
        save_image(mask[None, None], folder.with_name(folder.name + "_seg") / f"{stem}_{k}.png")


def make_shapes(
    out: str | os.PathLike[str], n: int = 500, *, size: int = 64, test_fraction: float = 0.2, seed: int = 0
) -> Path:
    """Write `n` images per domain in the official layout: OUT/{train,test}{A,B}[_seg]/ (A ellipses, B rectangles)."""
    if n < 2:
        raise ConfigError(f"--n must be >= 2 (at least one train and one test image), got {n}")
    if size < 32:
        raise ConfigError(f"--size must be >= 32 px to fit the shapes, got {size}")
    if not 0 < test_fraction < 1:
        raise ConfigError(f"test fraction must be in (0, 1), got {test_fraction}")
    out = Path(out)
    test_count = max(1, round(n * test_fraction))
    for domain, kind, offset in (("A", "ellipse", 0), ("B", "rectangle", 1)):
        generator = torch.Generator().manual_seed(seed * 2 + offset)
        for i in range(n):
            phase = "test" if i < test_count else "train"
            count = int(torch.randint(1, 7, (1,), generator=generator))
            image, masks = render_scene(size, kind, count, generator)
            _write(image, masks, out / f"{phase}{domain}", f"{i:05d}")
    return out


def classify_shape(mask: Tensor, threshold: float = 0.5) -> str:
    """(H, W) mask in [0, 1] -> 'rectangle', 'ellipse' or 'empty' (fewer than 4 pixels) by its fill ratio."""
    inside = mask > threshold
    area = int(inside.sum())
    if area < 4:
        return "empty"
    rows = inside.any(1).nonzero()
    cols = inside.any(0).nonzero()
    box = (int(rows.max() - rows.min()) + 1) * (int(cols.max() - cols.min()) + 1)
    return "rectangle" if area / box >= RECTANGLE_FILL else "ellipse"
