"""Tiny synthetic images shared by the tests of patchdna.metrics (no files from ../shared)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from safetensors.torch import save_file


def textured(size: int = 64, seed: int = 0) -> torch.Tensor:
    """(1, 3, size, size) in [0, 1]: smooth colour waves plus fine random texture."""
    generator = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    base = torch.stack([0.5 + 0.3 * torch.sin(9 * x + 3 * y), 0.5 + 0.3 * torch.cos(8 * y), 0.3 + 0.4 * x * y])
    return (0.6 * base[None] + 0.4 * torch.rand(1, 3, size, size, generator=generator)).clamp(0, 1)


def blur(image: torch.Tensor, passes: int = 2) -> torch.Tensor:
    taps = torch.tensor([1.0, 4, 6, 4, 1])
    kernel = (taps[:, None] * taps[None]) / 256
    for _ in range(passes):
        image = F.conv2d(F.pad(image, (2, 2, 2, 2), mode="reflect"), kernel.expand(3, 1, 5, 5), groups=3)
    return image


def shuffle_tiles(image: torch.Tensor, tile: int, seed: int = 1) -> torch.Tensor:
    """The image cut into tile x tile squares, put back in a random order (same patches, new seams)."""
    generator = torch.Generator().manual_seed(seed)
    n = image.shape[2] // tile
    tiles = image.unfold(2, tile, tile).unfold(3, tile, tile).reshape(1, 3, n * n, tile, tile)
    tiles = tiles[:, :, torch.randperm(n * n, generator=generator)]
    return tiles.reshape(1, 3, n, n, tile, tile).permute(0, 1, 2, 4, 3, 5).reshape(1, 3, n * tile, n * tile)


# torchvision names, kernel sizes and tiny widths standing in for 32, 32, 64, 80, 192.
LAYERS = (
    ("Conv2d_1a_3x3", 3, 4),
    ("Conv2d_2a_3x3", 3, 4),
    ("Conv2d_2b_3x3", 3, 6),
    ("Conv2d_3b_1x1", 1, 6),
    ("Conv2d_4a_3x3", 3, 8),
)


def tiny_weights(path, with_bn_scale=True, drop=None, metadata=None):
    """A .safetensors Inception-v3 stem with torchvision names and tiny random widths."""
    generator = torch.Generator().manual_seed(0)
    tensors, in_channels = {}, 3
    for name, kernel, width in LAYERS:
        tensors[f"{name}.conv.weight"] = torch.randn(width, in_channels, kernel, kernel, generator=generator) * 0.5
        if with_bn_scale:
            tensors[f"{name}.bn.weight"] = torch.rand(width, generator=generator) + 0.5
        tensors[f"{name}.bn.bias"] = torch.randn(width, generator=generator) * 0.1
        tensors[f"{name}.bn.running_mean"] = torch.randn(width, generator=generator) * 0.1
        tensors[f"{name}.bn.running_var"] = torch.rand(width, generator=generator) + 0.5
        in_channels = width
    tensors["fc.weight"] = torch.zeros(2, 2)  # unrelated keys of a full network are ignored
    if drop:
        del tensors[drop]
    save_file(tensors, str(path), metadata=metadata)
    return path
