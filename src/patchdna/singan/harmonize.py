"""Harmonization and editing (paper sections 4.3 and 4.4): regenerate a pasted region in the image's style.

Procedure (official harmonization.py / editing.py):
  1. the reference (a naive paste, or the image with a region moved) of any size is resized to the model's
     finest size; the mask (any size; gray, RGB or alpha) likewise;
  2. the mask is thresholded, dilated by a disk (radius 7 px for harmonization, 20 px for editing) and blurred
     (Gaussian sigma 5 px), radii given for ~250 px images and scaled with the model's long side;
  3. the reference is injected at scale k (shrunk to scale k - 1, enlarged to scale k) and generated upwards
     with random noise -> `raw`;
  4. `blended` = (1 - mask) x reference + mask x raw: outside the dilated mask the output is the reference.
Optional (ConSinGAN's idea): fine-tune the finest scale on inputs made from the naive image
(half of its lower-scale inputs are the naive image pushed through scales k..N-1), against the real image's
critic, so that generator learns to turn this very paste into the image's texture.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from patchdna.ops import resize
from patchdna.singan._apps import (
    ImageLike,
    ModelLike,
    as_image,
    as_mask,
    as_model,
    check_start_scale,
    injection_input,
    paper_radius,
    reference_at,
    retrain_scale,
    soft_mask,
)
from patchdna.singan.model import SinGAN, to_unit

__all__ = ["AppResult", "edit", "harmonize"]

HARMONIZATION_RADIUS = 7.0  # px at 250 px, official dilate_mask
EDITING_RADIUS = 20.0
BLUR_SIGMA = 5.0


@dataclass(frozen=True)
class AppResult:
    """Output of harmonize/edit, all at the model's finest size (h, w), in [0, 1] on the CPU.

    blended: (1, 3, h, w) the reference outside the dilated mask, the generation inside (the paper's output).
    raw: (1, 3, h, w) the whole generation from the injected reference.
    mask: (1, 1, h, w) the dilated, blurred blending mask (1 = generated).
    """

    blended: Tensor
    raw: Tensor
    mask: Tensor


def harmonize(
    model: ModelLike,
    naive: ImageLike,
    mask: ImageLike,
    *,
    start_scale: int,
    fine_tune: bool = False,
    seed: int = 0,
    fine_tune_iterations: int | None = None,
    show_progress: bool = False,
) -> AppResult:
    """Blend a naively pasted object into the model's image style.

    naive: (1, 3, H, W) in [0, 1] or a file, any size (resized to the model's size). mask: (1, 1, H', W') in
    [0, 1] or a file (8-bit, RGB or alpha), 1 on the pasted object, any size. start_scale k in
    0..num_scales-1: lower k changes the object more (colours and shape), higher k only its texture.
    fine_tune: first retrain the finest scale for `fine_tune_iterations` steps (default: the model's
    iterations per scale) on this naive image (see the module docstring).
    An empty mask raises ConfigError; an all-ones mask regenerates the whole image (blended == raw).
    """
    return _inject_and_blend(
        model, naive, mask, start_scale, seed, HARMONIZATION_RADIUS, fine_tune, fine_tune_iterations, show_progress
    )


def edit(
    model: ModelLike,
    edited: ImageLike,
    mask: ImageLike,
    *,
    start_scale: int,
    fine_tune: bool = False,
    seed: int = 0,
    fine_tune_iterations: int | None = None,
    show_progress: bool = False,
) -> AppResult:
    """Make an edit of the training image (a region copied, moved or recoloured) look seamless.

    Same inputs, options and result as `harmonize`, with the paper's larger editing dilation (radius 20 px at
    250 px); fine_tune retrains the finest scale on this edited image.
    """
    return _inject_and_blend(
        model, edited, mask, start_scale, seed, EDITING_RADIUS, fine_tune, fine_tune_iterations, show_progress
    )


def _inject_and_blend(
    model_like: ModelLike,
    reference_like: ImageLike,
    mask_like: ImageLike,
    start_scale: int,
    seed: int,
    radius: float,
    fine_tune: bool,
    fine_tune_iterations: int | None,
    show_progress: bool,
) -> AppResult:
    model = as_model(model_like)
    start_scale = check_start_scale(model, start_scale, image_entry=True)
    reference = reference_at(model, as_image(reference_like, "reference image"))  # [-1, 1], finest size
    size = model.sizes[model.num_trained - 1]
    mask = soft_mask(
        as_mask(mask_like, size).to(reference.device), paper_radius(model, radius), paper_radius(model, BLUR_SIGMA)
    )
    start = injection_input(model, reference, start_scale)
    if fine_tune:
        last = model.num_trained - 1
        naive_inputs = _inputs_at_finest(model, start, start_scale, seed, count=4)
        model = retrain_scale(
            model,
            last,
            iterations=model.config.iterations if fine_tune_iterations is None else fine_tune_iterations,
            seed=seed,
            extra_inputs=naive_inputs,
            description="fine-tune",
            show_progress=show_progress,
        )
    with torch.no_grad():
        raw = model.generate(
            1, start_scale=start_scale, start_image=start, generator=torch.Generator().manual_seed(seed)
        )
    raw_unit, reference_unit = to_unit(raw).cpu(), to_unit(reference).cpu()
    mask = mask.cpu()
    blended = (1 - mask) * reference_unit + mask * raw_unit
    return AppResult(blended=blended, raw=raw_unit, mask=mask)


@torch.no_grad()
def _inputs_at_finest(model: SinGAN, start: Tensor, start_scale: int, seed: int, count: int) -> list[Tensor]:
    """The finest scale's input (upsampled output of scale N-1) when generating from `start` at scale k."""
    last = model.num_trained - 1
    if start_scale == last:
        return [start]
    inputs = []
    for index in range(count):
        generator = torch.Generator().manual_seed(seed + index)
        previous, output = start, start
        for scale in range(start_scale, last):
            if scale > start_scale:
                previous = resize(output, model.sizes[scale])
            output = model.stage(scale, previous, model.noise_like(scale, 1, model.sizes[scale], generator))
        inputs.append(resize(output, model.sizes[last]))
    return inputs
