"""GAN losses shared by the families."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["gradient_penalty", "lsgan_loss", "patch_swd_loss", "wgan_d_loss", "wgan_g_loss"]


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
    fake_patches = F.unfold(fake, patch_size).transpose(1, 2).reshape(-1, fake.shape[1] * patch_size**2)
    real_patches = F.unfold(real.detach(), patch_size).transpose(1, 2).reshape(-1, real.shape[1] * patch_size**2)
    count = min(max_patches, fake_patches.shape[0], real_patches.shape[0])
    device = fake.device

    def pick(patches: Tensor) -> Tensor:
        if patches.shape[0] == count:
            return patches
        index = torch.randperm(patches.shape[0], generator=generator)[:count].to(device)
        return patches[index]

    directions = torch.randn(fake_patches.shape[1], num_projections, generator=generator).to(device, fake.dtype)
    directions = directions / directions.norm(dim=0, keepdim=True)
    fake_sorted = torch.sort(pick(fake_patches) @ directions, dim=0).values
    real_sorted = torch.sort(pick(real_patches) @ directions, dim=0).values
    return (fake_sorted - real_sorted).abs().mean()
