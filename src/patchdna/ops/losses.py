"""GAN losses shared by the families."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["gradient_penalty", "lsgan_loss", "wgan_d_loss", "wgan_g_loss"]


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
