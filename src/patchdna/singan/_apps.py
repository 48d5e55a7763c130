"""What the SinGAN applications share: input checks, the injection input, masks, and retraining one scale.

Images are (1, 3, H, W) tensors in [0, 1] at the API boundary and [-1, 1] inside (as in model.py);
masks are (1, 1, H, W) in [0, 1], 1 = the region to regenerate.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from patchdna.errors import ConfigError, InputImageError
from patchdna.io import load_image, load_mask
from patchdna.ops import resize
from patchdna.singan.model import SinGAN, load_singan
from patchdna.singan.networks import StageDiscriminator, StageGenerator

ModelLike = SinGAN | str | os.PathLike[str]
ImageLike = Tensor | str | os.PathLike[str]

# The paper's mask radii and blur were chosen for images of about this long side (max_size 250); they are
# scaled with the model's long side so that a 64 px model is not swallowed by a 20 px dilation.
PAPER_LONG_SIDE = 250


def as_model(model: ModelLike, device: str | torch.device = "cpu") -> SinGAN:
    """A trained SinGAN, loading it when given a model folder."""
    if isinstance(model, SinGAN):
        return model.eval()
    return load_singan(model, device=device)


def check_start_scale(model: SinGAN, start_scale: int, *, image_entry: bool = False) -> int:
    """Validate the start scale k (0 = coarsest) against the trained scales; returns it as an int.

    image_entry: an image is fed in at k (paint, harmonization, editing), which a cascade scale cannot take.
    """
    if isinstance(start_scale, bool) or int(start_scale) != start_scale:
        raise ConfigError(f"start scale must be an integer, got {start_scale!r}")
    last = model.num_trained - 1
    if not 0 <= int(start_scale) <= last:
        raise ConfigError(
            f"start scale must be in 0..{last} for this {model.num_trained}-scale model, got {start_scale}"
        )
    if image_entry:
        model.check_image_entry(int(start_scale))
    return int(start_scale)


def as_image(image: ImageLike, name: str) -> Tensor:
    """A (1, 3, H, W) float tensor in [0, 1] from a tensor ((3, H, W) and gray (1, 1, H, W) accepted) or a file."""
    if not isinstance(image, Tensor):
        return load_image(image)
    if image.dim() == 3:
        image = image[None]
    if image.dim() != 4 or image.shape[0] != 1 or image.shape[1] not in (1, 3, 4):
        raise InputImageError(f"{name} must be a (1, 3, H, W) tensor in [0, 1], got shape {tuple(image.shape)}")
    image = image.float()
    if image.shape[1] == 1:
        image = image.expand(1, 3, *image.shape[-2:])
    elif image.shape[1] == 4:
        image = image[:, :3]
    if not torch.isfinite(image).all():
        raise InputImageError(f"{name} contains NaN or infinite values")
    return image.clamp(0, 1)


def as_mask(mask: ImageLike, size: tuple[int, int]) -> Tensor:
    """A (1, 1, h, w) mask in [0, 1] resized to `size`; files may be 8-bit gray, RGB or alpha images."""
    if not isinstance(mask, Tensor):
        return load_mask(mask, size=size)
    if mask.dim() == 2:
        mask = mask[None, None]
    elif mask.dim() == 3:
        mask = mask[None]
    if mask.dim() != 4 or mask.shape[0] != 1:
        raise InputImageError(f"mask must be a (1, 1, H, W) tensor in [0, 1], got shape {tuple(mask.shape)}")
    mask = mask.float()
    if mask.shape[1] == 4 and mask[:, 3].min() < mask[:, 3].max():
        mask = mask[:, 3:]  # a cut-out's alpha channel is its mask
    mask = mask[:, :3].mean(dim=1, keepdim=True)
    if mask.max() > 1.0 + 1e-6:
        mask = mask / 255.0  # an 8-bit mask given as 0..255
    mask = F.interpolate(mask, size=size, mode="bilinear", align_corners=False, antialias=True)
    return mask.clamp(0, 1)


def reference_at(model: SinGAN, reference: Tensor) -> Tensor:
    """A reference image of any size resized to the model's finest scale, in [-1, 1] on the model's device."""
    return resize(reference.to(model.real.device) * 2 - 1, model.sizes[model.num_trained - 1])


def injection_input(model: SinGAN, reference: Tensor, start_scale: int) -> Tensor:
    """The official injection: the reference ([-1, 1], finest size) shrunk to scale k - 1 and enlarged to scale k.

    The round trip removes the detail that scale k and above are to supply. At k = 0 there is no coarser scale,
    so the reference is only shrunk to the coarsest size.
    """
    if start_scale == 0:
        return resize(reference, model.sizes[0])
    return resize(resize(reference, model.sizes[start_scale - 1]), model.sizes[start_scale])


def disk_dilate(mask: Tensor, radius: float) -> Tensor:
    """Binary dilation of a (1, 1, H, W) {0, 1} mask by a disk of `radius` px."""
    r = max(0, round(radius))
    if r == 0:
        return mask
    y, x = torch.meshgrid(torch.arange(-r, r + 1), torch.arange(-r, r + 1), indexing="ij")
    disk = ((y**2 + x**2) <= r * r).to(mask.dtype)[None, None]
    return (F.conv2d(F.pad(mask, (r, r, r, r)), disk.to(mask.device)) > 0.5).to(mask.dtype)


def gaussian_blur(mask: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of a (1, 1, H, W) map, zero outside (as skimage's default mode would not
    matter here: the dilated region rarely touches the border)."""
    if sigma <= 0:
        return mask
    radius = max(1, math.ceil(3 * sigma))
    taps = torch.exp(-(torch.arange(-radius, radius + 1, dtype=mask.dtype) ** 2) / (2 * sigma * sigma))
    taps = (taps / taps.sum()).to(mask.device)
    padded = F.pad(mask, (radius, radius, radius, radius), mode="replicate")
    blurred = F.conv2d(padded, taps.view(1, 1, 1, -1))
    return F.conv2d(blurred, taps.view(1, 1, -1, 1))


def soft_mask(mask: Tensor, radius: float, sigma: float) -> Tensor:
    """The paper's blending mask: threshold at 0.5, dilate by a disk, Gaussian-blur, stretch to [0, 1].

    Raises ConfigError for an empty mask; an all-ones mask stays all ones (the whole image is regenerated).
    """
    binary = (mask > 0.5).float()
    if binary.sum() == 0:
        raise ConfigError("the mask is empty (no pixel above 50%); paint the region to change in white")
    soft = gaussian_blur(disk_dilate(binary, radius), sigma)
    low, high = soft.min(), soft.max()
    if high - low < 1e-6:
        return torch.ones_like(soft)
    return ((soft - low) / (high - low)).clamp(0, 1)


def paper_radius(model: SinGAN, pixels: float) -> float:
    """A length given by the paper for ~250 px images, scaled to this model's finest long side."""
    return pixels * max(model.sizes[model.num_trained - 1]) / PAPER_LONG_SIDE


def retrain_scale(
    model: SinGAN,
    scale: int,
    *,
    iterations: int,
    seed: int = 0,
    input_transform: Callable[[Tensor], Tensor] | None = None,
    extra_inputs: Sequence[Tensor] = (),
    show_progress: bool = False,
    description: str = "retrain",
) -> SinGAN:
    """A copy of `model` whose scale `scale` was trained `iterations` more steps, starting from its weights.

    The lower scales stay frozen; the scale's noise amplitude is recomputed (it is the same: the lower
    reconstruction did not change). `input_transform` and `extra_inputs` are the hooks of
    `training._train_scale` (quantised inputs for paint-to-image, the naive image for harmonization).
    """
    from patchdna.singan.training import _train_scale  # training imports this package's model only

    if iterations < 1:
        raise ConfigError(f"retraining needs >= 1 iteration, got {iterations}")
    if model.is_cascade_scale(scale):
        raise ConfigError(f"scale {scale} belongs to this model's feature cascade; only image scales are retrained")
    work = copy.deepcopy(model)
    work.generators = nn.ModuleList(list(work.generators)[:scale])
    work.discriminators = nn.ModuleList(list(work.discriminators)[:scale])
    work.noise_amplitudes = work.noise_amplitudes[:scale].clone()
    generator: StageGenerator = copy.deepcopy(model.generators[scale]).train().requires_grad_(True)  # type: ignore[assignment]
    discriminator: StageDiscriminator = copy.deepcopy(model.discriminators[scale]).train().requires_grad_(True)  # type: ignore[assignment]
    rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    bar = tqdm(total=iterations, desc=f"{description} scale {scale}", disable=not show_progress, dynamic_ncols=True)

    def report(iteration: int, losses: dict[str, float]) -> None:
        bar.update(1)

    try:
        amplitude = _train_scale(
            work,
            scale,
            generator,
            discriminator,
            rng,
            iterations,
            report,
            None,
            input_transform=input_transform,
            extra_inputs=extra_inputs,
        )
    finally:
        bar.close()
    result = copy.deepcopy(model)
    result.generators[scale] = generator.eval().requires_grad_(False)
    result.discriminators[scale] = discriminator.eval().requires_grad_(False)
    amplitudes = result.noise_amplitudes.clone()
    amplitudes[scale] = amplitude
    result.noise_amplitudes = amplitudes
    return result.eval()
