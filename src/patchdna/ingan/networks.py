"""InGAN's networks: a retargeting generator and a multi-scale patch discriminator.

Paper -> code: x -> image, T -> (size, forward homography), G(x; T) -> generator(image, size, forward),
D -> MultiScaleDiscriminator, w_k -> scale_weights(...).

Images inside the networks are in [-1, 1]. The geometric transform is applied to the feature map after the
entry convolution (not to the RGB image), as in the paper: the rest of the generator then runs at the output
size and turns stretched features into unstretched content. A plain resize is either the paper's bilinear one
or (`resize_mode="segments"`) a resize that keeps the local scale: unit-scale segments of the feature map,
repeated or skipped, with the cuts where the image's lines join best (`patchdna.ops.warp.segment_indices`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from patchdna.ops.resize import resize
from patchdna.ops.warp import homography_grid, resize_bilinear, segment_grid, segment_maps

__all__ = [
    "Generator",
    "SpectralConv2d",
    "MultiScaleDiscriminator",
    "PatchDiscriminator",
    "discriminator_scales",
    "scale_weights",
]

STRIDE = 8  # three 2x downscales: the body needs sides that are multiples of 8


class SpectralConv2d(nn.Conv2d):
    """Conv2d whose weight is divided by its largest singular value (one power iteration per training call).

    Written here instead of `torch.nn.utils.parametrizations.spectral_norm` because that version made a training
    step about 3x slower on CPU and blocks the channels-last fast path (measured, see docs/ingan.md). The
    weight is used in the layout of the input, so channels-last inputs stay on oneDNN's fast kernels.
    State: `weight` (unnormalised), `bias`, buffer `u` (left singular vector estimate).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.register_buffer("u", F.normalize(torch.randn(self.out_channels), dim=0))
        self.folded = False  # True once `fold()` replaced `weight` by the normalised weight

    def normalised_weight(self) -> Tensor:
        matrix = self.weight.flatten(1)
        u: Tensor = self.u  # type: ignore[assignment]
        if self.training:
            with torch.no_grad():
                v = F.normalize(matrix.t() @ u, dim=0)
                u = F.normalize(matrix @ v, dim=0)
                u_buffer: Tensor = self.u  # type: ignore[assignment]
                u_buffer.copy_(u)
        v = F.normalize(matrix.t().detach() @ u, dim=0)
        sigma = torch.dot(u, matrix @ v)
        return self.weight / sigma

    @torch.no_grad()
    def fold(self) -> None:
        """Store the normalised weight as the weight, for inference (no per-call normalisation)."""
        if not self.folded:
            self.weight.copy_(self.normalised_weight())
            self.folded = True

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight if self.folded else self.normalised_weight()
        if x.is_contiguous(memory_format=torch.channels_last):
            weight = weight.contiguous(memory_format=torch.channels_last)
        return self._conv_forward(x, weight, self.bias)


def _conv(in_channels: int, out_channels: int, kernel: int, *, spectral: bool, stride: int = 1) -> nn.Conv2d:
    conv = SpectralConv2d if spectral else nn.Conv2d
    return conv(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2)


def _unit(in_channels: int, out_channels: int, kernel: int, norm: str) -> nn.Sequential:
    """conv (spectral norm) -> optional BatchNorm -> ReLU."""
    layers: list[nn.Module] = [_conv(in_channels, out_channels, kernel, spectral=True)]
    if norm == "batch":
        layers.append(nn.BatchNorm2d(out_channels))
    layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class ResBlock(nn.Module):
    """Bottleneck residual block: 1x1 down to `inner` channels, 3x3, 1x1 back up, plus the input."""

    def __init__(self, channels: int, inner: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(_unit(channels, inner, 1, norm), _unit(inner, inner, 3, norm))
        self.out = _conv(inner, channels, 1, spectral=True)

    def forward(self, x: Tensor) -> Tensor:  # (B, C, h, w) -> (B, C, h, w)
        return x + self.out(self.body(x))


class Generator(nn.Module):
    """G(x; T): (B, 3, H, W) in [-1, 1] -> (B, 3, h, w) in [-1, 1] for an output size (h, w) and warp.

    1. entry conv at the input size (cheap);  2. T on the entry features (bilinear resize or homography);
    3. U-Net body at the output size: three max-pool + conv downscales, bottleneck res-blocks, three
    nearest-x2 upscales with a conv each and additive skips, exit conv + tanh. The `upsample_first_levels`
    finest upscales upsample before their conv (the paper's order: a nonlinear layer at the finer resolution,
    which is what can draw sharp detail there); the others convolve first and then upsample (4x cheaper: a
    1024x1024 retarget spends its time at the finest resolutions).

    `residual`: the exit conv's output is added to T applied to the input image (with the same sampling)
    instead of going through tanh, so G draws corrections (the seams of a segment resize, lost detail) and
    its identity output is the input from the first step. Outputs may then leave [-1, 1]; callers clamp.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (64, 128, 256, 512),
        bottleneck_blocks: int = 6,
        bottleneck_reduction: int = 4,
        entry_kernel: int = 7,
        exit_kernel: int = 7,
        norm: str = "batch",
        upsample_first_levels: int = 0,
        resize_mode: str = "bilinear",
        segment_length: int = 24,
        segment_slack: int = 6,
        segment_overlap: int = 8,
        residual: bool = False,
    ) -> None:
        super().__init__()
        self.resize_mode = resize_mode
        self.segment_length = segment_length
        self.segment_slack = segment_slack
        self.segment_overlap = segment_overlap
        self.residual = residual
        c0, c1, c2, c3 = widths
        # up[i] runs coarsest first; the last `upsample_first_levels` of them upsample before their conv.
        self.upsample_first = [i >= 3 - upsample_first_levels for i in range(3)]
        self.entry = _unit(3, c0, entry_kernel, norm)
        self.down = nn.ModuleList([_unit(a, b, 3, norm) for a, b in ((c0, c1), (c1, c2), (c2, c3))])
        self.bottleneck = nn.Sequential(
            *[ResBlock(c3, c3 // bottleneck_reduction, norm) for _ in range(bottleneck_blocks)]
        )
        self.up = nn.ModuleList([_unit(b, a, 3, norm) for a, b in ((c2, c3), (c1, c2), (c0, c1))])
        # The last conv has no spectral norm (as in the paper): it sets the output range freely.
        self.exit = nn.Conv2d(c0, 3, exit_kernel, padding=exit_kernel // 2)

    def features(self, image: Tensor) -> Tensor:
        """Entry features (B, widths[0], H, W) of an image (B, 3, H, W) in [-1, 1]."""
        return self.entry(image)

    def segment_maps(self, image: Tensor, size: tuple[int, int]) -> tuple[Tensor, Tensor]:
        """Source rows and columns (each (h, w)) of a segment resize of `image` (B, C, H, W) to `size`.

        The cuts are chosen on the first image of the batch (training and inference use batch 1).
        """
        return segment_maps(image[0], size, self.segment_length, self.segment_slack, self.segment_overlap)

    def sampling_grid(self, image: Tensor, size: tuple[int, int], forward: Tensor | None = None) -> Tensor:
        """The grid (1, h, w, 2) with which T samples `image`'s features (and the image itself, if residual).

        A warp samples through the inverse of `forward`; a plain resize is the identity homography (a bilinear
        resize without antialiasing) or, with `resize_mode="segments"`, a segment resize.
        """
        if forward is None and self.resize_mode == "segments":
            rows, columns = self.segment_maps(image, size)
            return segment_grid(rows, columns, (int(image.shape[-2]), int(image.shape[-1])))
        sampling = torch.eye(3) if forward is None else torch.linalg.inv(forward.double().cpu()).float()
        return homography_grid(sampling, size, device=image.device)

    @staticmethod
    def sample(tensor: Tensor, grid: Tensor) -> Tensor:
        """T: (B, C, H, W) sampled at `grid` (1 or B, h, w, 2) -> (B, C, h, w); border padding as in InGAN."""
        grid = grid.to(device=tensor.device, dtype=tensor.dtype)
        if grid.shape[0] != tensor.shape[0]:
            grid = grid.expand(tensor.shape[0], -1, -1, -1)
        return F.grid_sample(tensor, grid, mode="bilinear", padding_mode="border", align_corners=False)

    def unet(self, features: Tensor, base: Tensor | None = None) -> Tensor:
        """The body on features whose sides are multiples of 8: (B, widths[0], h, w) -> (B, 3, h, w).

        `base` (B, 3, h, w): the transformed input image, which a residual generator adds to its output.
        """
        assert features.shape[-2] % STRIDE == 0 and features.shape[-1] % STRIDE == 0, features.shape
        skips = []
        x = features.contiguous(memory_format=torch.channels_last)
        for block in self.down:
            skips.append(x)
            x = block(F.max_pool2d(x, 2))
        x = self.bottleneck(x)
        for block, skip, upsample_first in zip(self.up, reversed(skips), self.upsample_first):
            if upsample_first:
                x = block(F.interpolate(x, scale_factor=2.0, mode="nearest")) + skip
            else:
                x = F.interpolate(block(x), scale_factor=2.0, mode="nearest") + skip
        if self.residual:
            assert base is not None, "a residual generator needs the transformed image"
            return self.exit(x) + base
        return torch.tanh(self.exit(x))

    def body(self, features: Tensor, base: Tensor | None = None) -> Tensor:
        """The body on any size: replicate-pad up to multiples of 8, run, crop back."""
        height, width = features.shape[-2:]
        pad_h, pad_w = (-height) % STRIDE, (-width) % STRIDE
        if pad_h or pad_w:
            features = F.pad(features, (0, pad_w, 0, pad_h), mode="replicate")
            if base is not None:
                base = F.pad(base, (0, pad_w, 0, pad_h), mode="replicate")
        return self.unet(features, base)[..., :height, :width]

    def forward(
        self,
        image: Tensor,
        size: tuple[int, int] | None = None,
        forward: Tensor | None = None,
        grid: Tensor | None = None,
    ) -> Tensor:
        """G(x; T). T is a resize to `size` (default: the input's), a warp by the forward homography `forward`,
        or any precomputed sampling `grid` (1, h, w, 2), e.g. the way back of a segment resize."""
        size = tuple(image.shape[-2:]) if size is None else size  # type: ignore[assignment]
        features = self.features(image)
        if grid is None and forward is None and self.resize_mode == "bilinear":
            # The paper's plain resize, on the fast interpolate kernel (equal to sampling the identity grid).
            warped = resize_bilinear(features, size)  # type: ignore[arg-type]
            base = resize_bilinear(image, size) if self.residual else None  # type: ignore[arg-type]
            return self.body(warped, base)
        if grid is None:
            grid = self.sampling_grid(image, size, forward)  # type: ignore[arg-type]
        return self.body(self.sample(features, grid), self.sample(image, grid) if self.residual else None)


class PatchDiscriminator(nn.Module):
    """One scale of D: conv3 -> conv3 stride 2 -> conv3 -> conv1 -> sigmoid (a 9x9-ish receptive field).

    `spectral`: spectral norm on every conv (the paper). Without it D can saturate its sigmoid and actually
    tell real from fake patches within a short CPU schedule (with it, its LSGAN loss stayed near 0.25).
    """

    def __init__(self, width: int = 64, spectral: bool = True, gradient_gain: float = 0.0) -> None:
        super().__init__()
        self.gradient_gain = gradient_gain
        self.net = nn.Sequential(
            _conv(9 if gradient_gain > 0 else 3, width, 3, spectral=spectral),
            nn.LeakyReLU(0.2, inplace=True),
            _conv(width, 2 * width, 3, spectral=spectral, stride=2),
            nn.LeakyReLU(0.2, inplace=True),
            _conv(2 * width, 2 * width, 3, spectral=spectral),
            nn.LeakyReLU(0.2, inplace=True),
            _conv(2 * width, 1, 1, spectral=spectral),
        )

    def forward(self, image: Tensor) -> Tensor:  # (B, 3, h, w) -> (B, 1, ceil(h/2), ceil(w/2)) in (0, 1)
        if self.gradient_gain > 0:
            image = with_gradients(image, self.gradient_gain)
        return torch.sigmoid(self.net(image))


def with_gradients(image: Tensor, gain: float) -> Tensor:
    """(B, 3, h, w) -> (B, 9, h, w): the image, then gain x its horizontal and vertical forward differences.

    Why: a stretch shows as less gradient energy along one axis. Behind spectral norm (every layer's gain <= 1)
    that difference is a tiny signal in raw pixels: a D trained only to tell 64 px crops from 2x-wide bicubic
    stretches of them stayed at an LSGAN loss of 0.24 after 400 steps; with these channels (gain 16) it
    reached 0.12-0.15 (BENCHMARKS.md).
    """
    dx = F.pad(image[..., :, 1:] - image[..., :, :-1], (0, 1, 0, 0), mode="replicate")
    dy = F.pad(image[..., 1:, :] - image[..., :-1, :], (0, 0, 0, 1), mode="replicate")
    return torch.cat([image, gain * dx, gain * dy], dim=1)


def discriminator_scales(crop_side: int, min_side: int = 16, factor: float = 1.4) -> int:
    """Number of D scales for a crop: ceil(log(side / min_side) / log(factor)), at least 1 (9 for 256)."""
    return max(1, math.ceil(math.log(max(crop_side, min_side) / min_side) / math.log(factor)))


def scale_weights(count: int, progress: float, equal_at: float, factor: float = 1.4) -> list[float]:
    """Weights w_k proportional to f**k, f = factor**((equal_at - progress) / equal_at), summing to 1.

    `progress` in [0, 1] is the fraction of training done: coarse scales (large k) dominate at the start,
    all scales weigh the same at `equal_at`, and fine scales dominate after it.
    """
    exponent = (equal_at - progress) / equal_at if equal_at > 0 else -1.0
    f = factor**exponent
    raw = [f**k for k in range(count)]
    total = sum(raw)
    return [r / total for r in raw]


class MultiScaleDiscriminator(nn.Module):
    """D(y): weighted sum of per-scale patch maps; scale k sees y shrunk by factor**-k (antialiased)."""

    def __init__(
        self, scales: int, width: int = 64, factor: float = 1.4, spectral: bool = True, gradient_gain: float = 0.0
    ) -> None:
        super().__init__()
        self.factor = factor
        self.nets = nn.ModuleList([PatchDiscriminator(width, spectral, gradient_gain) for _ in range(scales)])

    def forward(self, image: Tensor, weights: list[float]) -> Tensor:
        """(B, 3, h, w) in [-1, 1] -> (B, 1, h', w') score map in (0, 1) at the finest map's size."""
        assert len(weights) == len(self.nets)
        height, width = image.shape[-2:]
        total: Tensor | None = None
        for k, (net, weight) in enumerate(zip(self.nets, weights)):
            shrink = self.factor**-k
            size = (max(4, round(height * shrink)), max(4, round(width * shrink)))
            scores = net(resize(image, size, mode="bilinear").contiguous(memory_format=torch.channels_last))
            if total is None:
                total = weight * scores
            else:
                total = total + weight * F.interpolate(scores, size=total.shape[-2:], mode="bilinear")
        assert total is not None
        return total
