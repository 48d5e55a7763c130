"""Per-scale SinGAN networks: a residual generator and a patch critic, both fully convolutional.

Shapes: images (B, 3, H, W) in [-1, 1]. Both networks use valid 3x3 convolutions, so each removes
`num_layers` pixels per side; the generator pads its input by that much first, the critic does not
(its score map is smaller than its input).

`CascadeBlock` and `CascadeTail` are ConSinGAN's generator (Hinz et al. 2021) for the coarse scales when
`SinGANConfig.cascade_max_size` is set: C-channel *features* flow up those scales, each scale's block refines
the upsampled features of the scale below with C-channel noise added, and one shared tail turns the features
of any scale into an image.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from patchdna.layers import ConvBlock, Norm, init_gan_weights
from patchdna.ops import resize

__all__ = ["CascadeBlock", "CascadeTail", "StageDiscriminator", "StageGenerator", "cascade_features"]


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


class CascadeBlock(nn.Module):
    """One coarse scale of the feature cascade: L valid 3x3 ConvBlocks of C channels (plus the head at scale 0).

    Scale 0 maps a (B, 3, h, w) noise (or the real coarsest image, for the reconstruction) to (B, C, h, w)
    features through the head; scale n > 0 maps the features of scale n - 1 and a (B, C, h + 2L, w + 2L) noise
    to features of (h, w): F_n = block(up_{h+2L}(F_{n-1}) + sigma_n z_n) + up_h(F_{n-1}).
    """

    def __init__(self, channels: int, num_layers: int, norm: Norm, negative_slope: float, *, head: bool):
        super().__init__()
        self.padding = num_layers
        self.head = ConvBlock(3, channels, norm=norm, negative_slope=negative_slope) if head else None
        self.body = nn.Sequential(
            *[ConvBlock(channels, channels, norm=norm, negative_slope=negative_slope) for _ in range(num_layers)]
        )
        init_gan_weights(self)

    def first(self, noise: Tensor, pad_mode: str = "constant") -> Tensor:
        """Scale 0: (B, 3, h, w) -> (B, C, h, w)."""
        assert self.head is not None, "only the block of scale 0 has the head"
        height, width, p = noise.shape[-2], noise.shape[-1], self.padding
        features = self.head(F.pad(noise, (1, 1, 1, 1), mode=pad_mode))
        # ConSinGAN enlarges the head's output by one pixel per side rather than padding it with zeros.
        features = resize(features, (height + 2, width + 2))
        return self.body(F.pad(features, (p - 1,) * 4, mode=pad_mode))

    def refine(self, features: Tensor, noise: Tensor, amplitude: float | Tensor) -> Tensor:
        """(B, C, h', w') lower features and (B, C, h + 2L, w + 2L) noise -> (B, C, h, w) features."""
        p = self.padding
        height, width = noise.shape[-2] - 2 * p, noise.shape[-1] - 2 * p
        enlarged = resize(features, (height + 2 * p, width + 2 * p))
        return self.body(enlarged + amplitude * noise) + resize(features, (height, width))


class CascadeTail(nn.Module):
    """The cascade's shared tail: (B, C, h, w) features -> (B, 3, h, w) image in [-1, 1] (3x3 conv, Tanh)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, 3, 3)
        init_gan_weights(self)

    def forward(self, features: Tensor, pad_mode: str = "constant") -> Tensor:
        return self.conv(F.pad(features, (1, 1, 1, 1), mode=pad_mode)).tanh()


def cascade_features(
    blocks: Sequence[nn.Module],
    noises: Sequence[Tensor | None],
    amplitudes: Sequence[float | Tensor],
    *,
    start: int = 0,
    features: Tensor | None = None,
    pad_mode: str = "constant",
) -> Tensor:
    """Run the cascade from scale `start` to scale len(blocks) - 1.

    start 0: `noises[0]` is scale 0's (B, 3, h_0, w_0) input; start k > 0: `features` are the (B, C, h, w)
    features of scale k - 1. noises[n] for n >= max(start, 1): (B, C, h_n + 2L, w_n + 2L); entries below
    `start` are ignored (None is fine).
    """
    if start == 0:
        first_noise = noises[0]
        assert first_noise is not None
        features = blocks[0].first(first_noise, pad_mode)  # type: ignore[operator]
        start = 1
    assert features is not None, "a start above scale 0 needs the features of the scale below"
    for scale in range(start, len(blocks)):
        noise = noises[scale]
        assert noise is not None
        features = blocks[scale].refine(features, noise, amplitudes[scale])  # type: ignore[operator]
    return features
