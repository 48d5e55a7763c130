"""Per-scale SinGAN networks: a residual generator and a patch critic, both fully convolutional.

Shapes: images (B, 3, H, W) in [-1, 1]. Both networks use valid 3x3 convolutions, so each removes
`num_layers` pixels per side; the generator pads its input by that much first, the critic does not
(its score map is smaller than its input).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from patchdna.layers import ConvBlock, Norm, init_gan_weights

__all__ = ["StageDiscriminator", "StageGenerator"]


def _body(in_channels: int, width: int, num_layers: int, norm: Norm, negative_slope: float) -> nn.Sequential:
    """num_layers - 1 ConvBlocks (3x3, valid): the shared trunk of both networks."""
    blocks = [ConvBlock(in_channels, width, norm=norm, negative_slope=negative_slope)]
    blocks += [ConvBlock(width, width, norm=norm, negative_slope=negative_slope) for _ in range(num_layers - 2)]
    return nn.Sequential(*blocks)


class StageGenerator(nn.Module):
    """G_n: x_n = up(x_{n+1}) + G_n(z_n * sigma_n + up(x_{n+1})), with a Tanh-bounded residual."""

    def __init__(self, width: int = 32, num_layers: int = 5, norm: Norm = "batch", negative_slope: float = 0.2):
        super().__init__()
        self.padding = num_layers
        self.body = _body(3, width, num_layers, norm, negative_slope)
        self.tail = nn.Sequential(nn.Conv2d(width, 3, 3), nn.Tanh())
        init_gan_weights(self)

    def residual(self, window: Tensor) -> Tensor:
        """(B, 3, H + 2p, W + 2p) noisy input window -> (B, 3, H, W) residual, p = `self.padding`."""
        return self.tail(self.body(window))

    def forward(self, noisy: Tensor, previous: Tensor, pad_mode: str = "constant") -> Tensor:
        """(B, 3, H, W) noisy input and upsampled previous scale -> (B, 3, H, W) image of this scale."""
        p = self.padding
        return self.residual(F.pad(noisy, (p, p, p, p), mode=pad_mode)) + previous


class StageDiscriminator(nn.Module):
    """D_n: a Markovian critic; (B, 3, H, W) -> (B, 1, H - 2L, W - 2L) scores, receptive field 2L+1 px."""

    def __init__(self, width: int = 32, num_layers: int = 5, norm: Norm = "batch", negative_slope: float = 0.2):
        super().__init__()
        self.body = _body(3, width, num_layers, norm, negative_slope)
        self.tail = nn.Conv2d(width, 1, 3)
        init_gan_weights(self)

    def forward(self, image: Tensor) -> Tensor:
        return self.tail(self.body(image))
