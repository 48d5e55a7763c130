"""GAN losses shared by the families."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from patchdna.ops.resize import resize

__all__ = [
    "axis_derivative_loss",
    "gradient_penalty",
    "lsgan_loss",
    "patch_swd_loss",
    "wgan_d_loss",
    "wgan_g_loss",
]


def wgan_d_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """WGAN critic loss: minimise E[D(fake)] - E[D(real)]."""
    return fake_scores.mean() - real_scores.mean()


def wgan_g_loss(fake_scores: Tensor) -> Tensor:
    """WGAN generator loss: maximise E[D(fake)]."""
    return -fake_scores.mean()


def gradient_penalty(
    discriminator: nn.Module, real: Tensor, fake: Tensor, generator: torch.Generator | None = None
) -> Tensor:
    """WGAN-GP on random interpolates of (B, C, H, W) real and fake, with SinGAN's per-pixel norm.

    The gradient norm is taken over channels at each pixel (not over the whole image), as in the official
    SinGAN code: a patch critic is Lipschitz per patch, so each output position is penalised on its own.
    Returns mean((||grad||_2 - 1)^2).
    """
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype, generator=generator)
    interpolates = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    scores = discriminator(interpolates)
    (gradients,) = torch.autograd.grad(scores.sum(), interpolates, create_graph=True)
    return ((gradients.norm(2, dim=1) - 1) ** 2).mean()


def lsgan_loss(scores: Tensor, target_is_real: bool) -> Tensor:
    """Least-squares GAN loss against a constant target of 1 (real) or 0 (fake)."""
    target = torch.ones_like(scores) if target_is_real else torch.zeros_like(scores)
    return ((scores - target) ** 2).mean()


def patch_swd_loss(
    fake: Tensor,
    real: Tensor,
    patch_size: int = 7,
    num_projections: int = 64,
    max_patches: int = 4096,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Sliced Wasserstein distance between the patch distributions of `fake` and `real`, differentiable in `fake`.

    fake (B, C, H, W), real (1 or B, C, h, w); sizes may differ, each side >= `patch_size`. Every
    `patch_size` x `patch_size` patch (stride 1) is a point in C*k*k dimensions; up to `max_patches` random
    patches of each image are projected on `num_projections` random unit directions, and the sorted
    projections are compared (L1): the 1-D optimal transport along each direction (GPDM, Elnekave & Weiss,
    CVPR 2022). Unlike a critic it needs no training, so a few hundred steps already pull a generator's
    patches onto the real image's; unlike a nearest-neighbour loss it penalises missing patches too.
    Returns a scalar (mean absolute difference of sorted projections, in the images' units).
    """
    if min(fake.shape[-2:]) < patch_size or min(real.shape[-2:]) < patch_size:
        raise ValueError(f"images must be at least {patch_size} px per side for {patch_size}x{patch_size} patches")
    count = min(max_patches, _patch_count(fake, patch_size), _patch_count(real, patch_size))
    device = fake.device
    dimension = fake.shape[1] * patch_size**2
    directions = torch.randn(dimension, num_projections, generator=generator).to(device, fake.dtype)
    directions = directions / directions.norm(dim=0, keepdim=True)
    fake_patches = _random_patches(fake, patch_size, count, generator)
    real_patches = _random_patches(real.detach(), patch_size, count, generator)
    fake_sorted = _sort_columns(fake_patches @ directions)
    real_sorted = _sort_columns(real_patches @ directions)
    return (fake_sorted - real_sorted).abs().mean()


def axis_derivative_loss(fake: Tensor, real: Tensor, levels: int = 3) -> Tensor:
    """1-D Wasserstein distance between the horizontal (and, separately, the vertical) derivatives of `fake` and
    `real`, per channel, over `levels` pyramid levels; differentiable in `fake`.

    fake (B, C, H, W), real (1 or B, C, h, w); the sizes may differ (a retarget against its source). At each level
    the forward differences along x of every pixel and channel are sorted and compared quantile by quantile (L1),
    and the same along y; level l is the images shrunk by 2**l (antialiased), while both short sides are >= 8.

    Why: stretching an image along x spreads every edge over more pixels, so its x-derivatives shrink towards 0
    while its y-derivatives keep their distribution; squeezing does the opposite. Matching the two marginal
    distributions separately is a direct prior against that anisotropy (gradient-histogram preservation, as in
    texture synthesis and denoising), exact and cheap (a sort, no random projections, so no sampling noise),
    which a patch critic trained for a few thousand steps does not give (docs/ingan.md).
    Returns a scalar: the mean absolute difference of sorted derivatives, in units of the real derivatives'
    standard deviation (per channel, level and axis).
    """
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    real = real.detach()
    losses = []
    for level in range(levels):
        if level > 0:
            if min(*fake.shape[-2:], *real.shape[-2:]) < 16:
                break
            fake = resize(fake, (fake.shape[-2] // 2, fake.shape[-1] // 2), mode="bilinear")
            real = resize(real, (real.shape[-2] // 2, real.shape[-1] // 2), mode="bilinear")
        for axis in (-1, -2):
            fake_d = fake.diff(dim=axis).transpose(0, 1).reshape(fake.shape[1], -1).t()  # (N_fake, C)
            real_d = real.diff(dim=axis).transpose(0, 1).reshape(real.shape[1], -1).t()  # (N_real, C)
            fake_sorted, real_sorted = _sort_columns(fake_d), _sort_columns(real_d)
            count = min(fake_sorted.shape[0], real_sorted.shape[0])  # compare at `count` matching quantiles
            fake_q = fake_sorted.index_select(0, _quantile_rows(fake_sorted.shape[0], count, fake.device))
            real_q = real_sorted.index_select(0, _quantile_rows(real_sorted.shape[0], count, real.device))
            # In units of the real derivatives' spread, so that one weight suits flat and busy images alike.
            spread = real_q.std(dim=0, keepdim=True) + 1e-3
            losses.append(((fake_q - real_q) / spread).abs().mean())
    return torch.stack(losses).mean()


def _quantile_rows(length: int, count: int, device: torch.device) -> Tensor:
    """`count` row indices spread evenly over 0..length-1 (the nearest ranks of `count` matching quantiles)."""
    return torch.linspace(0, length - 1, count, device=device).round().long()


def _patch_count(image: Tensor, patch_size: int) -> int:
    batch, _, height, width = image.shape
    return batch * (height - patch_size + 1) * (width - patch_size + 1)


def _random_patches(image: Tensor, patch_size: int, count: int, generator: torch.Generator | None) -> Tensor:
    """`count` distinct random k x k patches of (B, C, H, W) `image`, as rows (count, C*k*k) in F.unfold's order.

    Gathering only the chosen patches instead of unfolding the whole image saves most of the work when the
    image is large (a 250 px real image has ~45,000 patches, of which 4,096 are used).
    """
    batch, channels, height, width = image.shape
    rows, cols = height - patch_size + 1, width - patch_size + 1
    total = batch * rows * cols
    chosen = torch.arange(total) if count == total else torch.randperm(total, generator=generator)[:count]
    chosen = chosen.to(image.device)
    index_b, rest = chosen // (rows * cols), chosen % (rows * cols)
    corner = index_b * (height * width) + (rest // cols) * width + rest % cols  # (count,) top-left pixels
    offsets = torch.arange(patch_size, device=image.device)
    offsets = (offsets[:, None] * width + offsets[None, :]).reshape(-1)  # (k*k,) in row-major order
    pixels = image.transpose(0, 1).reshape(channels, batch * height * width)
    # index_select (backward: index_add_) is ~4x faster on the CPU than advanced indexing (backward: a sorting
    # index_put_), which cost more than the rest of this loss.
    patches = pixels.index_select(1, (corner[:, None] + offsets[None, :]).reshape(-1))
    return patches.reshape(channels, count, patch_size**2).transpose(0, 1).reshape(count, channels * patch_size**2)


def _sort_columns(values: Tensor) -> Tensor:
    """Sort (N, P) `values` along N, keeping the gradient.

    On the CPU, torch.sort of a (4096, 64) float matrix takes ~18 ms against ~3 ms for NumPy's SIMD argsort
    (~0.7 ms for a plain sort), which made this loss half the cost of a SinGAN generator step (BENCHMARKS.md).
    """
    if values.device.type != "cpu" or values.dtype not in (torch.float32, torch.float64):
        return torch.sort(values, dim=0).values
    columns = values.detach().t().contiguous().numpy()
    if not values.requires_grad:
        return torch.from_numpy(np.sort(columns, axis=1)).t()
    order = torch.from_numpy(np.argsort(columns, axis=1)).t()
    return values.gather(0, order)
