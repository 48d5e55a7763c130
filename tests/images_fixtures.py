"""Tiny synthetic images for the tests (the suite never needs ../shared)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_texture(height: int = 32, width: int = 40, seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8: smooth colour gradients plus blobs, so patches have structure at several scales."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    image = np.stack([0.5 + 0.4 * np.sin(6 * x + 2 * y), 0.5 + 0.4 * np.cos(5 * y), 0.3 + 0.3 * x], axis=2)
    for _ in range(6):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(2, 6)
        disk = (np.mgrid[0:height, 0:width][0] - cy) ** 2 + (np.mgrid[0:height, 0:width][1] - cx) ** 2 < r**2
        image[disk] = rng.uniform(0, 1, 3)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8)


def write_scene_with_box_masks(folder: Path) -> tuple[Path, list[Path]]:
    """A 24x24 texture `scene.png` and two square masks `mask_0.png`, `mask_1.png` (255 inside) in `folder`."""
    from PIL import Image

    image = folder / "scene.png"
    Image.fromarray(make_texture(24, 24)).save(image)
    masks = []
    for index, (low, high) in enumerate([(2, 10), (12, 22)]):
        array = np.zeros((24, 24), dtype=np.uint8)
        array[low:high, low:high] = 255
        masks.append(folder / f"mask_{index}.png")
        Image.fromarray(array).save(masks[-1])
    return image, masks


def save_tiny_instagan(folder: Path) -> None:
    """An untrained InstaGAN small enough for UI tests (20 px images, width 4), saved as a model folder."""
    from patchdna import instagan

    config = instagan.InstaGANConfig.preset(
        "fast",
        load_size=(20, 20),
        crop_size=(16, 16),
        generator_width=4,
        discriminator_width=4,
        residual_blocks=1,
        discriminator_layers=2,
    )
    instagan.save(instagan.build(config, seed=0), folder)
