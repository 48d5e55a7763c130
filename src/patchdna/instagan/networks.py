"""InstaGAN networks with batch-wise set operations.

Shapes: images (B, 3, H, W) and masks (B, N, H, W), both in [-1, 1]; `valid` (B, N) bool marks the mask slots
that hold an instance (an empty slot is all -1). Instead of looping over masks as the official code does
(which concatenates instances along the batch axis and so only works with batch 1), every valid mask of
every image is gathered into one (M, 1, H, W) batch, encoded once, and scattered back into (B, N, C, h, w);
the set feature is the sum over valid slots. So batch size > 1 works and shuffling the masks of an image
shuffles the generated masks (equivariance) and leaves the image and the discriminator score unchanged
(invariance).

Paper -> code: G_XY -> generator_ab, h_X (image encoder) -> image_encoder, h_A (mask encoder) -> mask_encoder,
sum_i h_A(a_i) -> set feature, g_X / g_A -> image_decoder / mask_decoder.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from patchdna.layers import instance_norm

__all__ = ["Discriminator", "Generator", "gather_masks", "scatter_features", "set_sum"]


def gather_masks(masks: Tensor, valid: Tensor) -> Tensor:
    """(B, N, H, W) masks and (B, N) valid -> (M, 1, H, W): the valid masks, batch-major order."""
    return masks[valid].unsqueeze(1)


def scatter_features(features: Tensor, valid: Tensor) -> Tensor:
    """(M, C, h, w) per-valid-mask features -> (B, N, C, h, w), zeros in empty slots."""
    batch, slots = valid.shape
    out = features.new_zeros((batch, slots, *features.shape[1:]))
    out[valid] = features
    return out


def set_sum(per_slot: Tensor) -> Tensor:
    """(B, N, C, h, w) features with zeros in empty slots -> (B, C, h, w): the permutation-invariant sum."""
    return per_slot.sum(dim=1)


def _instance_norm(channels: int) -> nn.Module:
    """CycleGAN's instance norm, without affine parameters (no state: model folders are unchanged)."""
    return instance_norm(channels, affine=False)


class ResidualBlock(nn.Module):
    """ReflPad-Conv3-IN-ReLU-ReflPad-Conv3-IN with a skip connection (the CycleGAN block)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _instance_norm(channels),
            nn.ReLU(True),
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels, channels, 3),
            _instance_norm(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


def _encoder(in_channels: int, width: int, residual_blocks: int) -> nn.Sequential:
    """(B, in, H, W) -> (B, 4 width, H/4, W/4): Conv7, two stride-2 convs, residual blocks."""
    layers: list[nn.Module] = [
        nn.ReflectionPad2d(3),
        nn.Conv2d(in_channels, width, 7),
        _instance_norm(width),
        nn.ReLU(True),
    ]
    for scale in (1, 2):
        layers += [
            nn.Conv2d(width * scale, width * scale * 2, 3, stride=2, padding=1),
            _instance_norm(width * scale * 2),
            nn.ReLU(True),
        ]
    layers += [ResidualBlock(width * 4) for _ in range(residual_blocks)]
    return nn.Sequential(*layers)


_UPSAMPLE = {"stride": 2, "padding": 1, "output_padding": 1}  # the decoders' ConvTranspose2d: x2 size


class NarrowConv2d(nn.Conv2d):
    """A stride-1 Conv2d without padding for few output channels (the decoders' last 7x7 layer: 3 or 1).

    oneDNN runs such a layer at 3-10 GMAC/s on a CPU (measured at 200x200; 3x3 layers with 256 channels
    reach ~70): here it is one matrix product with every kernel tap as a row, (C_out k k, C_in) @ (C_in, H W),
    and `F.fold` adding up each tap's shifted contribution (the kernel is flipped because fold scatters where
    a convolution gathers). Same parameters, the same sums in another order.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size)

    def forward(self, x: Tensor) -> Tensor:  # (B, C_in, H, W) -> (B, C_out, H - k + 1, W - k + 1)
        out_channels, in_channels, k, _ = self.weight.shape
        batch, _, height, width = x.shape
        taps = self.weight.flip(2, 3).permute(0, 2, 3, 1).reshape(out_channels * k * k, in_channels)
        columns = taps @ x.reshape(batch, in_channels, height * width)  # (B, C_out k k, H W)
        summed = F.fold(columns, (height + k - 1, width + k - 1), k)  # (B, C_out, H + k - 1, W + k - 1)
        out = summed[:, :, k - 1 : height, k - 1 : width]
        return out if self.bias is None else out + self.bias.view(1, -1, 1, 1)


def _decoder(in_channels: int, out_channels: int) -> nn.Sequential:
    """(B, in, h, w) -> (B, out, 4h, 4w) in [-1, 1]: two transposed convs (halving channels), Conv7, Tanh."""
    layers: list[nn.Module] = []
    channels = in_channels
    for _ in range(2):
        layers += [
            nn.ConvTranspose2d(channels, channels // 2, 3, stride=2, padding=1, output_padding=1),
            _instance_norm(channels // 2),
            nn.ReLU(True),
        ]
        channels //= 2
    layers += [nn.ReflectionPad2d(3), NarrowConv2d(channels, out_channels, 7), nn.Tanh()]
    return nn.Sequential(*layers)


class Generator(nn.Module):
    """Image + set of masks -> translated image + one translated mask per valid input mask.

    Image decoder input: [image feature, set feature]; mask decoder input per instance: [instance feature,
    image feature, set feature], as in the official ResnetSetGenerator (26.8 M parameters at width 64).
    """

    def __init__(self, width: int = 64, residual_blocks: int = 9) -> None:
        super().__init__()
        bottleneck = width * 4
        self.image_encoder = _encoder(3, width, residual_blocks)
        self.mask_encoder = _encoder(1, width, residual_blocks)  # shared by all instances
        self.image_decoder = _decoder(2 * bottleneck, 3)
        self.mask_decoder = _decoder(3 * bottleneck, 1)  # shared by all instances

    def forward(self, image: Tensor, masks: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 3, H, W), (B, N, H, W), (B, N) -> image (B, 3, H, W), masks (B, N, H, W); empty slots stay -1."""
        assert image.dim() == 4 and masks.dim() == 4 and valid.shape == masks.shape[:2], (
            f"bad shapes {tuple(image.shape)} {tuple(masks.shape)} {tuple(valid.shape)}"
        )
        image_feature = self.image_encoder(image)
        instance_features = self.mask_encoder(gather_masks(masks, valid))  # (M, C, h, w)
        # Images with no valid mask get a zero set feature (the official code encodes an empty mask instead).
        set_feature = set_sum(scatter_features(instance_features, valid))
        context = torch.cat([image_feature, set_feature], dim=1)  # (B, 2C, h, w)
        fake_image = self.image_decoder(context)
        fake_masks = torch.full_like(masks, -1.0)
        if instance_features.shape[0] > 0:
            owner = valid.nonzero()[:, 0]  # (M,) image index of each valid mask, ascending
            fake_masks = fake_masks.index_put((valid,), self._decode_masks(instance_features, context, owner)[:, 0])
        return fake_image, fake_masks

    def _decode_masks(self, instance_features: Tensor, context: Tensor, owner: Tensor) -> Tensor:
        """mask_decoder([instance feature, image feature, set feature]) per instance -> (M, 1, H, W).

        The decoder's first layer is linear, so W [f_i; g] = W_f f_i + W_g g, and W_g g (g = [image feature,
        set feature]) is the same for every instance of an image: it is computed once per image instead of
        once per instance. At 2 instances per pass that is a third of the decoder's largest layer; the
        weights (one ConvTranspose2d over all 3C channels) are the official ones.
        """
        first = self.mask_decoder[0]
        assert isinstance(first, nn.ConvTranspose2d)
        channels = instance_features.shape[1]
        images, index = torch.unique_consecutive(owner, return_inverse=True)  # owner is sorted
        shared = F.conv_transpose2d(context[images], first.weight[channels:], None, **_UPSAMPLE)
        own = F.conv_transpose2d(instance_features, first.weight[:channels], first.bias, **_UPSAMPLE)
        return self.mask_decoder[1:](own + shared[index])


def _feature_extractor(in_channels: int, width: int, layers: int) -> nn.Sequential:
    """(B, in, H, W) -> (B, width * min(2^(layers-1), 8), H / 2^layers, W / 2^layers), spectral-normed."""
    modules: list[nn.Module] = [spectral_norm(nn.Conv2d(in_channels, width, 4, stride=2, padding=1))]
    modules.append(nn.LeakyReLU(0.2, True))
    multiplier = 1
    for n in range(1, layers):
        previous, multiplier = multiplier, min(2**n, 8)
        modules += [
            spectral_norm(nn.Conv2d(width * previous, width * multiplier, 4, stride=2, padding=1)),
            _instance_norm(width * multiplier),
            nn.LeakyReLU(0.2, True),
        ]
    return nn.Sequential(*modules)


class Discriminator(nn.Module):
    """PatchGAN on [image feature, sum of mask features]: permutation-invariant in the masks (9.8 M at 64)."""

    def __init__(self, width: int = 64, layers: int = 3) -> None:
        super().__init__()
        self.image_features = _feature_extractor(3, width, layers)
        self.mask_features = _feature_extractor(1, width, layers)  # shared by all instances
        features = 2 * width * min(2 ** (layers - 1), 8)
        hidden = 2 * width * min(2**layers, 8)
        self.classifier = nn.Sequential(
            spectral_norm(nn.Conv2d(features, hidden, 4, stride=1, padding=1)),
            _instance_norm(hidden),
            nn.LeakyReLU(0.2, True),
            spectral_norm(nn.Conv2d(hidden, 1, 4, stride=1, padding=1)),
        )

    def forward(self, image: Tensor, masks: Tensor, valid: Tensor) -> Tensor:
        """(B, 3, H, W), (B, N, H, W), (B, N) -> patch scores (B, 1, h, w)."""
        image_feature = self.image_features(image)
        mask_feature = set_sum(scatter_features(self.mask_features(gather_masks(masks, valid)), valid))
        return self.classifier(torch.cat([image_feature, mask_feature], dim=1))
