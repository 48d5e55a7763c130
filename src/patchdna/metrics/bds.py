"""Bidirectional patch similarity (Simakov et al., "Summarizing visual data using bidirectional similarity",
CVPR 2008), the retargeting measure InGAN and GPNN report.

Definition, for (1, 3, H, W) images in [0, 1] whose sizes may differ:
- completeness(real -> fake): mean over the real image's 7x7 patches of the distance to the nearest fake
  patch. High when content of the real image is missing from the fake.
- coherence(fake -> real): mean over the fake's patches of the distance to the nearest real patch. High when
  the fake contains patches (seams, artefacts, smeared structure) that the real image does not have.
- bds = completeness + coherence (Simakov's d_BDS).
A patch distance is the mean squared difference per value after normalising both images by the real image's
per-channel mean and std (the ruler's normalisation, so images of low and high contrast are comparable).
Multi-scale: the ruler's 5-tap binomial Gaussian pyramid, halving while both short sides are >= 32 px; each
number is the mean over levels. Range: [0, inf), 0 = every patch has an exact match both ways; lower is better.

Cost: nearest neighbours are exact over every patch of the other image (stride 1), but only `queries` patches
on a regular grid ask (all of them with `queries=None`); distances are computed in chunks of at most
`chunk` x `chunk` pairs, so a 512 px pair needs well under 1 GB.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from patchdna.metrics.patch import MIN_LEVEL_SIDE, _downsample

__all__ = ["BidirectionalSimilarity", "bidirectional_similarity", "nearest_patch_distances"]


@dataclass(frozen=True)
class BidirectionalSimilarity:
    completeness: float  # real -> fake: is everything of the real image in the fake?
    coherence: float  # fake -> real: is everything in the fake from the real image?
    bds: float  # completeness + coherence

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _grid_patches(image: Tensor, patch_size: int, queries: int | None) -> Tensor:
    """(N, C*p*p) patches on a regular grid with N <= `queries`, as close as a square grid allows (None: all).

    With queries=None the result is a transposed view of unfold's (C*p*p, N) output, not a copy: that layout is
    what the matrix product in `nearest_patch_distances` reads keys in, so no (N, C*p*p) copy is made."""
    height, width = image.shape[2] - patch_size + 1, image.shape[3] - patch_size + 1
    stride = 1 if queries is None else max(1, math.ceil(math.sqrt(height * width / queries)))
    return F.unfold(image, patch_size, stride=stride)[0].T


def nearest_patch_distances(queries: Tensor, keys: Tensor, chunk: int = 2048) -> Tensor:
    """For each row of `queries` (M, D), the mean squared difference per value to its nearest row of `keys`
    (N, D); exact, computed in chunks of `chunk` x `chunk` so memory stays bounded. Returns (M,)."""
    key_norms = keys.pow(2).sum(dim=1)
    keys_by_column = keys.T  # (D, N): contiguous when `keys` came from _grid_patches(..., None)
    best = []
    for start in range(0, queries.shape[0], chunk):
        query = queries[start : start + chunk]
        nearest = torch.full((query.shape[0],), float("inf"), device=queries.device, dtype=queries.dtype)
        for key_start in range(0, keys.shape[0], chunk):
            block = slice(key_start, key_start + chunk)
            # ||q - k||^2 = ||q||^2 - 2 q.k + ||k||^2: one matrix product instead of an (M, N, D) difference.
            # ||q||^2 is the same for every key, so it is added once, after the minimum.
            squared = torch.addmm(key_norms[block], query, keys_by_column[:, block], alpha=-2)
            nearest = torch.minimum(nearest, squared.amin(dim=1))  # amin: no argmin is needed
        best.append((nearest + query.pow(2).sum(dim=1)).clamp(min=0) / queries.shape[1])
    return torch.cat(best)


@torch.no_grad()
def bidirectional_similarity(
    real: Tensor,
    fake: Tensor,
    *,
    patch_size: int = 7,
    queries: int | None = 1024,
    chunk: int = 2048,
    device: torch.device | str | None = None,
) -> BidirectionalSimilarity:
    """Completeness, coherence and their sum between (1, 3, H, W) images in [0, 1] (see the module docstring)."""
    if real.dim() != 4 or fake.dim() != 4 or real.shape[:2] != fake.shape[:2]:
        raise ValueError(f"expected two (1, C, H, W) images, got {tuple(real.shape)} and {tuple(fake.shape)}")
    device = device if device is not None else real.device
    real, fake = real.detach().float().to(device), fake.detach().float().to(device)
    mean = real.mean(dim=(2, 3), keepdim=True)
    std = real.std(dim=(2, 3), keepdim=True) + 1e-6
    real, fake = (real - mean) / std, (fake - mean) / std
    completeness, coherence = [], []
    while min(real.shape[2:]) >= MIN_LEVEL_SIDE and min(fake.shape[2:]) >= MIN_LEVEL_SIDE:
        all_real = _grid_patches(real, patch_size, None)
        all_fake = _grid_patches(fake, patch_size, None)
        asking_real = _grid_patches(real, patch_size, queries)
        asking_fake = _grid_patches(fake, patch_size, queries)
        completeness.append(nearest_patch_distances(asking_real, all_fake, chunk).mean().item())
        coherence.append(nearest_patch_distances(asking_fake, all_real, chunk).mean().item())
        real, fake = _downsample(real.cpu()).to(device), _downsample(fake.cpu()).to(device)
    if not completeness:
        raise ValueError(f"bidirectional similarity needs both images to have a short side >= {MIN_LEVEL_SIDE} px")
    complete = sum(completeness) / len(completeness)
    coherent = sum(coherence) / len(coherence)
    return BidirectionalSimilarity(completeness=complete, coherence=coherent, bds=complete + coherent)
