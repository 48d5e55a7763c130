"""Functional building blocks shared by every family. Images are (B, C, H, W) tensors unless stated."""

from patchdna.ops.losses import (
    axis_derivative_loss,
    gradient_penalty,
    lsgan_loss,
    patch_swd_loss,
    wgan_d_loss,
    wgan_g_loss,
)
from patchdna.ops.resize import pyramid, resize

__all__ = [
    "axis_derivative_loss",
    "gradient_penalty",
    "lsgan_loss",
    "patch_swd_loss",
    "pyramid",
    "resize",
    "wgan_d_loss",
    "wgan_g_loss",
]
