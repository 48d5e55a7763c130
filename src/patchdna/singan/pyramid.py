"""Scale sizes of a SinGAN pyramid for an image, coarsest first."""

from __future__ import annotations

import math

from patchdna.singan.config import SinGANConfig

__all__ = ["pyramid_sizes"]


def pyramid_sizes(height: int, width: int, config: SinGANConfig) -> list[tuple[int, int]]:
    """(h, w) of every scale, coarsest first, for an image already limited to `config.max_size`.

    uniform (SinGAN): N = ceil(log(min_size / short) / log(scale_factor)) + 1 downscalings, the factor re-fitted
    to r = (min_size / short)^(1/N), scale i = ceil(size x r^(N - i)) -> N + 1 scales (balloons 186x248: 9).
    With `num_scales` set, N = num_scales - 1 instead.
    dense_low (ConSinGAN): exponents e_i = (N - 1) / ln N x ln(N - i) + 1 for i < N, then the full image:
    scales bunch up at low resolution, where the global layout is decided.
    """
    short = min(height, width)
    if short <= config.min_size:
        return [(height, width)]
    if config.num_scales is not None:
        steps = config.num_scales - 1
    else:
        steps = math.ceil(math.log(config.min_size / short) / math.log(config.scale_factor)) + 1
    factor = (config.min_size / short) ** (1.0 / steps)
    if config.spacing == "dense_low" and steps >= 2:
        exponents = [(steps - 1) / math.log(steps) * math.log(steps - i) + 1 for i in range(steps)] + [0.0]
    else:
        exponents = [float(steps - i) for i in range(steps + 1)]
    sizes: list[tuple[int, int]] = []
    for exponent in exponents:
        scale = factor**exponent
        size = (max(1, math.ceil(height * scale - 1e-9)), max(1, math.ceil(width * scale - 1e-9)))
        if not sizes or size != sizes[-1]:
            sizes.append(size)
    sizes[-1] = (height, width)
    return sizes
