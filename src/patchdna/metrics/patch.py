"""Weight-free patch metrics, identical in definition to the project's shared ruler (patchmetrics.py).

Images are float (1, 3, H, W) in [0, 1].
- patch_swd(real, fake): multi-scale sliced Wasserstein distance between 7x7 RGB patch distributions
  (5-tap binomial Gaussian pyramid, halving while both short sides are >= 32); patches normalised by the real
  image's per-channel mean/std; 16384 patches and 256 random unit directions per level; mean over levels x 10.
  0 = same distribution; lower is better.
- blur_baseline(real): patch_swd of the real image against its 3x3 binomial blur: an image-specific scale.
- anisotropy_distortion(real, out): |log((Gx^2/Gy^2)_out / (Gx^2/Gy^2)_real)| on luminance; 0 = no stretch.
- diversity(samples, real): mean over pixels of the std across samples (resized to real's size, bicubic),
  divided by the std of the real image (SinGAN's measure); 0 = all samples identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["anisotropy_distortion", "blur_baseline", "diversity", "patch_swd"]

PATCH_SIZE = 7
MIN_LEVEL_SIDE = 32


def _downsample(image: Tensor) -> Tensor:
    """One Gaussian-pyramid step: 5-tap binomial blur with reflect padding, then keep every second pixel."""
    taps = torch.tensor([1, 4, 6, 4, 1], dtype=image.dtype) / 16
    kernel = (taps[:, None] * taps[None, :]).expand(image.shape[1], 1, 5, 5)
    blurred = F.conv2d(F.pad(image, (2, 2, 2, 2), mode="reflect"), kernel, groups=image.shape[1])
    return blurred[:, :, ::2, ::2]


def _patches(image: Tensor, mean: Tensor, std: Tensor, count: int, generator: torch.Generator) -> Tensor:
    """(N, C*49) normalised 7x7 patches, a random subset of `count` when there are more.

    The ruler's `unfold(...).transpose(1, 2).reshape(-1, C*49)[randperm(L)[:count]]`, gathered directly: only
    the chosen patches are read, in the same row-major layout (so the matmul below gives the same bits)."""
    channels, height, width = image.shape[1:]
    rows, columns = height - PATCH_SIZE + 1, width - PATCH_SIZE + 1
    if rows * columns > count:
        chosen = torch.randperm(rows * columns, generator=generator)[:count]
        corners = chosen // columns * width + chosen % columns  # flat index of each patch's top-left pixel
    else:
        corners = (torch.arange(rows)[:, None] * width + torch.arange(columns)).reshape(-1)
    # unfold's value order within a patch: channel, then row, then column.
    offsets = torch.arange(channels)[:, None, None] * (height * width)
    offsets = (offsets + torch.arange(PATCH_SIZE)[:, None] * width + torch.arange(PATCH_SIZE)).reshape(-1)
    return torch.take((image - mean) / std, corners[:, None] + offsets)


def _sorted_projections(patches: Tensor, projections: Tensor) -> np.ndarray:
    """(D, N) array: the ruler's `sort(patches @ projections, dim=0)`, transposed.

    Sorting each direction along a contiguous last axis with numpy gives the same values as torch.sort along
    dim 0 (a sort's values do not depend on the algorithm), about 10x faster: numpy sorts float32 with SIMD and
    returns no indices."""
    projected = (patches @ projections).T.contiguous().numpy()
    projected.sort(axis=-1)
    return projected


def _quantiles(sorted_values: np.ndarray, count: int) -> np.ndarray:
    """`count` evenly spaced columns of (D, N) sorted values, picked as the ruler picks them."""
    if count == sorted_values.shape[1]:
        return sorted_values  # linspace(0, N - 1, N) is exactly 0, 1, ..., N - 1
    return sorted_values[:, torch.linspace(0, sorted_values.shape[1] - 1, count).long().numpy()]


def _sliced_wasserstein(a: Tensor, b: Tensor, generator: torch.Generator, directions: int = 256) -> float:
    projections = torch.randn(a.shape[1], directions, generator=generator)
    projections /= projections.norm(dim=0, keepdim=True)
    sorted_a, sorted_b = _sorted_projections(a, projections), _sorted_projections(b, projections)
    # Compare quantiles at a common count so images of different sizes (retargets) are comparable.
    count = min(sorted_a.shape[1], sorted_b.shape[1])
    difference = torch.from_numpy(np.abs(_quantiles(sorted_a, count) - _quantiles(sorted_b, count)))
    # Back to the ruler's (count, D) layout before the mean, so the float32 sum runs in the ruler's order.
    return difference.T.contiguous().mean().item()


def patch_swd(real: Tensor, fake: Tensor, seed: int = 0, patches: int = 16384) -> float:
    """Multi-scale patch SWD x 10 between (1, 3, H, W) images in [0, 1] (see the module docstring)."""
    real, fake = real.detach().float().cpu(), fake.detach().float().cpu()
    generator = torch.Generator().manual_seed(seed)
    mean = real.mean(dim=(2, 3), keepdim=True)
    std = real.std(dim=(2, 3), keepdim=True) + 1e-6
    values = []
    while min(real.shape[2:]) >= MIN_LEVEL_SIDE and min(fake.shape[2:]) >= MIN_LEVEL_SIDE:
        real_patches = _patches(real, mean, std, patches, generator)
        fake_patches = _patches(fake, mean, std, patches, generator)
        values.append(_sliced_wasserstein(real_patches, fake_patches, generator))
        real, fake = _downsample(real), _downsample(fake)
    if not values:
        raise ValueError(f"patch_swd needs both images to have a short side >= {MIN_LEVEL_SIDE} px")
    return 10.0 * sum(values) / len(values)


def blur_baseline(real: Tensor) -> float:
    """patch_swd of `real` against its 3x3 binomial blur: the image's own reference level."""
    taps = torch.tensor([1.0, 2.0, 1.0])
    kernel = (taps[:, None] * taps[None, :] / 16).expand(real.shape[1], 1, 3, 3)
    real = real.detach().float().cpu()
    return patch_swd(real, F.conv2d(F.pad(real, (1, 1, 1, 1), mode="replicate"), kernel, groups=real.shape[1]))


def anisotropy_distortion(real: Tensor, out: Tensor) -> float:
    """How much a retarget stretched local structure: |log of the change in the Gx^2/Gy^2 energy ratio|."""

    def log_ratio(image: Tensor) -> Tensor:
        luminance = image.detach().float().cpu().mean(dim=1)
        gx = (luminance[..., :, 1:] - luminance[..., :, :-1]).pow(2).mean()
        gy = (luminance[..., 1:, :] - luminance[..., :-1, :]).pow(2).mean()
        return torch.log(gx / gy)

    return abs((log_ratio(out) - log_ratio(real)).item())


def diversity(samples: Sequence[Tensor], real: Tensor) -> float:
    """SinGAN's diversity: mean per-pixel std across samples / std of the real image."""
    real = real.detach().float().cpu()
    stack = torch.cat(
        [
            F.interpolate(s.detach().float().cpu(), size=real.shape[2:], mode="bicubic", align_corners=False)
            for s in samples
        ]
    )
    return (stack.std(dim=0).mean() / real.std()).item()
