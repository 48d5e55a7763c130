"""Paint-to-image (paper section 4.2): a rough colour sketch becomes a photo-realistic image of the model.

1. The paint (any size) is resized to the model's finest size, then shrunk to scale k - 1 and enlarged to
   scale k (the official injection), and generation runs from scale k with random noise.
2. Optional quantisation (the official `--quantization_flag`): k-means with `colors` centres on the real
   image at scale k, the injected paint mapped to the nearest centre, and scale k retrained (from its
   weights) on lower-scale inputs mapped the same way, so that generator learns to turn flat colour regions
   into texture.
"""

from __future__ import annotations

import torch
from torch import Tensor

from patchdna.errors import ConfigError
from patchdna.singan._apps import (
    ImageLike,
    ModelLike,
    as_image,
    as_model,
    check_start_scale,
    injection_input,
    reference_at,
    retrain_scale,
)
from patchdna.singan.model import SinGAN, to_unit

__all__ = ["kmeans_colors", "paint_to_image", "quantize_to_centers", "quantized_model"]


def kmeans_colors(image: Tensor, colors: int, *, seed: int = 0, iterations: int = 30) -> Tensor:
    """(colors, 3) k-means centres of the pixels of a (1, 3, H, W) image (any value range)."""
    pixels = image[0].reshape(3, -1).T.float()
    colors = min(colors, pixels.shape[0])
    generator = torch.Generator().manual_seed(seed)
    centers = pixels[torch.randperm(pixels.shape[0], generator=generator)[:colors].to(pixels.device)].clone()
    for _ in range(iterations):
        labels = torch.cdist(pixels, centers).argmin(dim=1)
        for index in range(colors):
            members = pixels[labels == index]
            if len(members):
                centers[index] = members.mean(dim=0)
    return centers


def quantize_to_centers(image: Tensor, centers: Tensor) -> Tensor:
    """Every pixel of a (B, 3, H, W) image replaced by its nearest centre (centres in the image's range)."""
    batch, channels, height, width = image.shape
    pixels = image.permute(0, 2, 3, 1).reshape(-1, channels)
    nearest = centers.to(image.device)[torch.cdist(pixels, centers.to(image.device)).argmin(dim=1)]
    return nearest.reshape(batch, height, width, channels).permute(0, 3, 1, 2).contiguous()


def quantized_model(
    model: SinGAN,
    start_scale: int,
    colors: int = 5,
    *,
    seed: int = 0,
    iterations: int | None = None,
    show_progress: bool = False,
) -> tuple[SinGAN, Tensor]:
    """(a copy of `model` with scale k retrained on quantised inputs, the (colors, 3) centres in [-1, 1])."""
    if start_scale < 1:
        raise ConfigError("quantisation needs start scale >= 1 (the coarsest scale has no image input to quantise)")
    centers = kmeans_colors(model.reals()[start_scale], colors, seed=seed)
    retrained = retrain_scale(
        model,
        start_scale,
        iterations=iterations or model.config.iterations,
        seed=seed,
        input_transform=lambda image: quantize_to_centers(image, centers),
        description="quantised",
        show_progress=show_progress,
    )
    return retrained, centers


@torch.no_grad()
def _generate_from(model: SinGAN, start: Tensor, start_scale: int, seed: int) -> Tensor:
    return model.generate(
        1, start_scale=start_scale, start_image=start, generator=torch.Generator().manual_seed(seed)
    ).cpu()


def paint_to_image(
    model: ModelLike,
    paint: ImageLike,
    *,
    start_scale: int,
    quantize: bool = False,
    colors: int = 5,
    seed: int = 0,
    iterations: int | None = None,
    show_progress: bool = False,
) -> Tensor:
    """Turn `paint` ((1, 3, H, W) in [0, 1] or a file, any size and aspect; it is resized to the model's
    finest size) into an image of the model: (1, 3, h, w) in [0, 1] at the model's size.

    start_scale k: 0..num_scales-1; 1-2 levels above the coarsest follow the paint's layout and colours best
    (k = 0 feeds the paint to a generator that only ever saw noise: usable, but it follows the paint loosely).
    quantize: map the paint to `colors` k-means colours of the real image at scale k and retrain that scale on
    quantised inputs first (`iterations` steps, default the model's iterations per scale; needs k >= 1).
    """
    model = as_model(model)
    start_scale = check_start_scale(model, start_scale, image_entry=True)
    if not 2 <= colors <= 64:
        raise ConfigError(f"colors must be in 2..64, got {colors}")
    reference = reference_at(model, as_image(paint, "paint"))
    start = injection_input(model, reference, start_scale)
    if quantize:
        model, centers = quantized_model(
            model, start_scale, colors, seed=seed, iterations=iterations, show_progress=show_progress
        )
        # Quantised after the injection's resizes, exactly like the retraining inputs (flat colour regions).
        start = quantize_to_centers(start, centers)
    return to_unit(_generate_from(model, start, start_scale, seed))
