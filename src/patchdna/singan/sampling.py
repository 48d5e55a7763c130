"""Random samples and the reconstruction of a trained SinGAN, in [0, 1]."""

from __future__ import annotations

import torch
from torch import Tensor

from patchdna.errors import ConfigError
from patchdna.singan.model import SinGAN, to_unit

__all__ = ["auto_batch_size", "reconstruction", "sample"]

MAX_OUTPUT_PIXELS = 16_000_000  # 4000 x 4000; beyond this a CPU run takes minutes per sample and GBs of RAM
# On a CPU, batches of about this many output pixels run fastest: larger batches spill the 32-channel
# activations out of cache (measured at 250 px on a 2-core CPU: 4 per batch 22-32 samples/s, 16 per batch
# 12-16 samples/s; at 125 px, 16 per batch was best). GPUs keep the old fixed batch of 16.
CPU_BATCH_PIXELS = 200_000
GPU_BATCH_SIZE = 16


def auto_batch_size(height: int, width: int, device: torch.device) -> int:
    """Samples per forward pass for outputs of height x width on `device`."""
    if device.type != "cpu":
        return GPU_BATCH_SIZE
    return max(1, min(64, CPU_BATCH_PIXELS // (height * width)))


def sample(
    model: SinGAN,
    num: int = 1,
    *,
    scale_h: float = 1.0,
    scale_w: float = 1.0,
    size: tuple[int, int] | None = None,
    start_scale: int = 0,
    seed: int | None = 0,
    batch_size: int | None = None,
    variation: float = 1.0,
) -> Tensor:
    """`num` random samples as (num, 3, H, W) in [0, 1].

    Size: `scale_h` x `scale_w` times the training size (noise maps of every scale are scaled), or exactly
    `size` = (H, W). start_scale k: the layout up to scale k - 1 is the reconstruction, variation starts at k
    (the paper's gen_start_scale). The same seed, model, device and batch size give bit-identical samples.
    batch_size: samples per forward pass; None picks the fastest for the output size (`auto_batch_size`).
    variation: 1 (default) = the paper's free samples; lower keeps more of the training image's global layout
    (the coarsest noise is pulled towards the reconstruction's, see `SinGAN.generate`); needs the training size.
    """
    if num < 1:
        raise ConfigError(f"number of samples must be >= 1, got {num}")
    if batch_size is not None and batch_size < 1:
        raise ConfigError(f"batch size must be >= 1, got {batch_size}")
    sizes = model.scaled_sizes(scale_h, scale_w, size)
    height, width = sizes[-1]
    if height * width > MAX_OUTPUT_PIXELS:
        raise ConfigError(f"output {height}x{width} is too large (limit {MAX_OUTPUT_PIXELS / 1e6:.0f} MP)")
    if batch_size is None:
        batch_size = auto_batch_size(height, width, model.real.device)
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    chunks = []
    for first in range(0, num, batch_size):
        count = min(batch_size, num - first)
        chunks.append(
            model.generate(count, sizes=sizes, start_scale=start_scale, generator=generator, variation=variation).cpu()
        )
    return to_unit(torch.cat(chunks))


@torch.no_grad()
def reconstruction(model: SinGAN) -> Tensor:
    """The model's reconstruction of its training image from the fixed noise, (1, 3, H, W) in [0, 1]."""
    return to_unit(model.reconstruct()[-1]).cpu()
