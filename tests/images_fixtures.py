"""Tiny synthetic images for the tests (the suite never needs ../shared)."""

from __future__ import annotations

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
