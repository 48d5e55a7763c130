"""Super-resolution with SinGAN (paper section 4.1, the official SR procedure).

1. Train on the low-resolution image itself with the SR settings: reconstruction weight alpha = 100,
   coarsest short side 18 px, a uniform pyramid whose step r = s^(1/k), k = round(log_{2^(1/3)} s)
   (x4: k = 6, r = 1.26), so the finest generator has learned to add the detail lost between two scales r apart.
2. Upscale: k times, enlarge by r (bicubic) and apply the finest generator with zero noise (the
   reconstruction path), then the result is exactly round(s H) x round(s W).

patchdna adds two steps to the paper's loop, on by default (`detail=1, consistency=False` is the paper's):
- `detail` scales each step's change by the generator. Applied k times, the full change compounds into
  hallucinated strokes; 0.7 keeps most of the sharpening.
- `consistency` back-projects each step onto the input: the step's output is corrected by the upsampled
  difference between the input and the output shrunk back to the input's size. The generated detail then
  cannot move the colours or the layout the input already fixes (classic iterative back-projection).
Measured on Places50 x4 (BENCHMARKS.md), the paper's loop loses 2.5-5.5 dB PSNR to bicubic and scores 3x
bicubic's patch SWD; with both steps it stays within about 1.2 dB of bicubic's PSNR and scores below 0.8x its
patch SWD.
"""

from __future__ import annotations

import math
import os
import tempfile

import torch
from torch import Tensor

from patchdna.device import resolve_device
from patchdna.errors import ConfigError
from patchdna.ops import resize
from patchdna.singan._apps import ImageLike, ModelLike, as_image, as_model
from patchdna.singan.config import SinGANConfig, preset
from patchdna.singan.model import SinGAN, from_unit, to_unit

__all__ = ["DEFAULT_DETAIL", "sr_config", "sr_steps", "super_resolve", "upscale"]

SR_MIN_SIZE = 18
SR_RECONSTRUCTION_WEIGHT = 100.0
MAX_FACTOR = 16.0
DEFAULT_DETAIL = 0.7


def sr_steps(factor: float) -> tuple[int, float]:
    """(k, r) for an upscaling factor s >= 1: k = round(log_{2^(1/3)} s) (at least 1), r = s^(1/k)."""
    _check_factor(factor)
    steps = max(1, round(math.log(factor) / math.log(2 ** (1 / 3))))
    return steps, factor ** (1 / steps)


def sr_config(factor: float, base: SinGANConfig | None = None, long_side: int | None = None) -> SinGANConfig:
    """`base` (default: the `diverse` preset) with the paper's SR settings for `factor`.

    The image is trained at its own resolution: max_size is raised to `long_side` when given.
    """
    # `diverse`, not the default `fast`: the SR target was measured on it (BENCHMARKS.md, session 5), and SR
    # only uses the finest generator, which the feature cascade does not change.
    base = base or preset("diverse")
    _, step = sr_steps(max(factor, 1.0 + 1e-6))
    return base.replace(
        reconstruction_weight=SR_RECONSTRUCTION_WEIGHT,
        min_size=SR_MIN_SIZE,
        scale_factor=min(max(1.0 / step, 0.3), 0.99),
        num_scales=None,
        spacing="uniform",
        max_size=max(base.max_size, long_side or 0, SR_MIN_SIZE),
    )


@torch.no_grad()
def upscale(
    model: ModelLike,
    image: ImageLike | None,
    factor: float,
    *,
    detail: float = DEFAULT_DETAIL,
    consistency: bool = True,
) -> Tensor:
    """Enlarge `image` ((1, 3, h, w) in [0, 1]; default: the model's training image) by `factor` with the
    model's finest generator applied k times (see the module docstring). Returns (1, 3, round(s h), round(s w))
    in [0, 1]. factor 1 returns the image unchanged.

    detail in (0, 1]: the fraction of each step's generated change that is kept (1 = the paper's).
    consistency: back-project every step onto `image` (False = the paper's loop).
    """
    model = as_model(model)
    _check_factor(factor)
    if not isinstance(detail, (int, float)) or not 0.0 < detail <= 1.0:
        raise ConfigError(f"detail must be in (0, 1], got {detail!r}")
    device = model.real.device
    picture = model.real if image is None else from_unit(as_image(image, "image")).to(device)
    if factor == 1.0:
        return to_unit(picture).cpu()
    steps, _ = sr_steps(factor)
    height, width = picture.shape[-2:]
    finest = model.num_trained - 1
    output = picture
    for step in range(1, steps + 1):
        # Sizes from the input size each time, so rounding does not accumulate and the last one is exact.
        size = (round(height * factor ** (step / steps)), round(width * factor ** (step / steps)))
        enlarged = resize(output, size)
        generated = model.stage(finest, enlarged, torch.zeros_like(enlarged))
        output = enlarged + detail * (generated - enlarged)
        if consistency:
            output = output + resize(picture - resize(output, (height, width)), size)
    return to_unit(output).cpu()


def super_resolve(
    image: ImageLike,
    factor: float,
    *,
    device: str | torch.device = "auto",
    seed: int = 0,
    config: SinGANConfig | None = None,
    out: str | os.PathLike[str] | None = None,
    model: ModelLike | None = None,
    show_progress: bool = False,
    detail: float = DEFAULT_DETAIL,
    consistency: bool = True,
) -> Tensor:
    """Super-resolve `image` (path or (1, 3, h, w) in [0, 1]) by `factor` >= 1 -> (1, 3, round(s h), round(s w)).

    Trains a SinGAN on the image with the SR settings (`config` is the base, default the `diverse` preset; the SR
    fields are set by `sr_config`) into `out` (a temporary folder when None) unless `model` (a trained model
    or model folder) is given, then calls `upscale` with `detail` and `consistency`.
    """
    from patchdna.singan.training import train

    _check_factor(factor)
    picture = as_image(image, "image")
    if factor == 1.0:
        return picture.clone()
    if model is None:
        sr = sr_config(factor, config, long_side=max(picture.shape[-2:]))
        torch_device = device if isinstance(device, torch.device) else resolve_device(device)
        if out is None:
            with tempfile.TemporaryDirectory(prefix="patchdna-sr-") as folder:
                trained: SinGAN = train(
                    picture,
                    folder,
                    config=sr,
                    device=torch_device,
                    seed=seed,
                    preview=False,
                    show_progress=show_progress,
                )
        else:
            trained = train(picture, out, config=sr, device=torch_device, seed=seed, show_progress=show_progress)
    else:
        trained = as_model(model, device if isinstance(device, torch.device) else resolve_device(device))
    return upscale(trained, picture, factor, detail=detail, consistency=consistency)


def _check_factor(factor: float) -> None:
    if not isinstance(factor, (int, float)) or not math.isfinite(factor) or not 1.0 <= factor <= MAX_FACTOR:
        raise ConfigError(f"super-resolution factor must be a number in 1..{MAX_FACTOR:g}, got {factor!r}")
