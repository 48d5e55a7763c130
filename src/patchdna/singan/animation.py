"""Single-image animation (paper section 4.5): a random walk in noise space, decoded frame by frame.

Per scale n >= start_scale (official generate_gif), with z*_n the reconstruction noise
(`SinGAN.reconstruction_noise_at`: the coarsest scale's reconstruction input, zero above it, a feature cascade's
stored noise on its scales):
    z_{-1} = 0.95 z* + 0.05 z_rand,  z_{-2} = z*
    diff_t = beta (z_{t-1} - z_{t-2}) + (1 - beta) z_rand_t          (momentum: smooth motion)
    z_t    = alpha z* + (1 - alpha) (z_{t-1} + diff_t)                (a pull back to the reconstruction)
Scales below start_scale keep the reconstruction, so larger start scales move only finer detail.
The paper trains animation models with alpha_rec = 100 and noise padding (`animation_config`): the frame border
then moves like the interior instead of staying frozen. `train_for_animation` trains such a model; `animate`
works with any model and says nothing about how it was trained (the CLI warns).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch
from torch import Tensor

from patchdna.device import resolve_device
from patchdna.errors import ConfigError
from patchdna.singan._apps import ImageLike, ModelLike, as_image, as_model, check_start_scale
from patchdna.singan.config import SinGANConfig, preset
from patchdna.singan.model import SinGAN, to_unit
from patchdna.singan.sampling import auto_batch_size
from patchdna.video import write_video

__all__ = ["animate", "animation_config", "noise_walk", "train_for_animation"]

MAX_FRAMES = 2000
ANIMATION_MIN_SIZE = 20
ANIMATION_RECONSTRUCTION_WEIGHT = 100.0


def animation_config(base: SinGANConfig | None = None) -> SinGANConfig:
    """`base` (default: the `diverse` preset) with the paper's animation settings."""
    # `diverse`, not the default `fast`: the animation figures (BENCHMARKS.md, session 5) were measured on it,
    # and a walk that starts at any scale needs every scale to take an image.
    base = base or preset("diverse")
    return base.replace(
        noise_padding=True,
        reconstruction_weight=ANIMATION_RECONSTRUCTION_WEIGHT,
        min_size=min(ANIMATION_MIN_SIZE, base.max_size),
    )


def is_animation_model(model: SinGAN) -> bool:
    return bool(model.config.noise_padding)


def train_for_animation(
    image: ImageLike | SinGAN,
    out: str | os.PathLike[str] | None = None,
    *,
    config: SinGANConfig | None = None,
    device: str | torch.device = "auto",
    seed: int = 0,
    show_progress: bool = True,
) -> SinGAN:
    """Train a SinGAN with `animation_config(config)` on an image (or on a model's stored training image)."""
    from patchdna.singan.training import train

    if isinstance(image, SinGAN):
        picture = to_unit(image.real).cpu()
        config = config or image.config.replace(noise_padding=False)
    else:
        picture = as_image(image, "image")
    settings = animation_config(config)
    torch_device = device if isinstance(device, torch.device) else resolve_device(device)
    if out is None:
        with tempfile.TemporaryDirectory(prefix="patchdna-anim-") as folder:
            return train(
                picture,
                folder,
                config=settings,
                device=torch_device,
                seed=seed,
                preview=False,
                show_progress=show_progress,
            )
    return train(picture, out, config=settings, device=torch_device, seed=seed, show_progress=show_progress)


def noise_walk(
    model: SinGAN, frames: int, *, alpha: float, beta: float, start_scale: int, generator: torch.Generator
) -> list[Tensor | None]:
    """Per scale: None below start_scale, else the (frames, 3, h_n, w_n) noise of the walk (module docstring)."""
    noises: list[Tensor | None] = []
    for scale in range(model.num_trained):
        if scale < start_scale:
            noises.append(None)
            continue
        size = model.sizes[scale]
        optimal = model.reconstruction_noise_at(scale)
        previous = 0.95 * optimal + 0.05 * model.noise_like(scale, 1, size, generator)
        before = optimal
        walk = []
        for _ in range(frames):
            diff = beta * (previous - before) + (1 - beta) * model.noise_like(scale, 1, size, generator)
            current = alpha * optimal + (1 - alpha) * (previous + diff)
            before, previous = previous, current
            walk.append(current)
        noises.append(torch.cat(walk))
    return noises


@torch.no_grad()
def animate(
    model: ModelLike,
    path: str | os.PathLike[str] | None = None,
    *,
    frames: int = 100,
    fps: float = 10,
    alpha: float = 0.1,
    beta: float = 0.9,
    start_scale: int = 0,
    seed: int = 0,
    batch_size: int | None = None,
) -> Tensor:
    """(frames, 3, H, W) animation frames in [0, 1] at the model's size; also written to `path` (.mp4 or .gif).

    alpha in [0, 1]: pull towards the original image (higher = smaller motion). beta in [0, 1): momentum
    (higher = smoother, slower changes; the paper uses 0.80-0.95). start_scale: first scale that moves.
    batch_size: frames per forward pass (None: `auto_batch_size`); the noise is drawn up front, so it does not
    change the frames.
    """
    model = as_model(model)
    start_scale = check_start_scale(model, start_scale)
    if not 1 <= frames <= MAX_FRAMES:
        raise ConfigError(f"frames must be in 1..{MAX_FRAMES}, got {frames}")
    if not 0.0 <= alpha <= 1.0:
        raise ConfigError(f"alpha must be in [0, 1], got {alpha}")
    if not 0.0 <= beta < 1.0:
        raise ConfigError(f"beta must be in [0, 1), got {beta}")
    if fps <= 0:
        raise ConfigError(f"fps must be positive, got {fps}")
    if path is not None and Path(path).suffix.lower() not in (".mp4", ".gif"):
        raise ConfigError(f"animation output must end in .mp4 or .gif, got {Path(path).name!r}")
    generator = torch.Generator().manual_seed(seed)
    noises = noise_walk(model, frames, alpha=alpha, beta=beta, start_scale=start_scale, generator=generator)
    if batch_size is None:
        batch_size = auto_batch_size(*model.sizes[model.num_trained - 1], model.real.device)
    chunks = []
    for first in range(0, frames, batch_size):
        last = min(first + batch_size, frames)
        chunk_noises = [None if noise is None else noise[first:last] for noise in noises]
        output = model.generate(last - first, start_scale=start_scale, noises=chunk_noises)
        chunks.append(to_unit(output).cpu())
    video = torch.cat(chunks)
    if path is not None:
        write_video(video, path, fps=fps)
    return video
