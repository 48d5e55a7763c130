"""Scoring samples against their real image with several metrics at once: the API behind `patchdna eval`.

Per real image, each metric is computed for every sample and averaged over the samples; `diversity` is one
number per real image (it needs >= 2 samples). Over a folder, each metric is summarised over the real images
(mean, median, std). Metric names and what they return (see each module for the definition and range):
    swd        patch SWD x 10 (the project's ruler)            lower is better, 0 = same patch distribution
    diversity  SinGAN's diversity (std across samples / std)   higher = more varied; 0 = all samples equal
    sifid      SIFID, 64- or 192-channel Inception features    lower is better
    bds        completeness, coherence and bds (their sum)     lower is better
    psnr, ssim full-reference fidelity (same size required)    higher is better
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from patchdna.errors import ConfigError, InputImageError
from patchdna.io import load_image
from patchdna.metrics.bds import bidirectional_similarity
from patchdna.metrics.fidelity import psnr, ssim
from patchdna.metrics.folders import ImageGroup, pair_folders
from patchdna.metrics.patch import MIN_LEVEL_SIDE, diversity, patch_swd
from patchdna.metrics.sifid import SIFIDExtractor, frechet_distance, load_sifid_extractor, sifid_statistics

__all__ = [
    "DEFAULT_METRICS",
    "METRICS",
    "EvalOptions",
    "MethodReport",
    "evaluate_folder",
    "evaluate_group",
    "evaluate_samples",
    "summarise",
]

METRICS = ("swd", "diversity", "sifid", "bds", "psnr", "ssim")
DEFAULT_METRICS = ("swd", "diversity", "bds")
# Columns each metric produces, in table order.
COLUMNS = {
    "swd": ("swd",),
    "diversity": ("diversity",),
    "sifid": ("sifid",),
    "bds": ("completeness", "coherence", "bds"),
    "psnr": ("psnr",),
    "ssim": ("ssim",),
}


@dataclass(frozen=True)
class EvalOptions:
    metrics: tuple[str, ...] = DEFAULT_METRICS
    sifid_weights: str = "auto"  # "auto", "fid-helper", "torchvision" or a .safetensors path
    sifid_channels: Literal[64, 192] = 64
    bds_queries: int | None = 1024  # query patches per level and direction; None = all (exact, slow)
    fidelity_channel: Literal["rgb", "y"] = "rgb"  # PSNR/SSIM on RGB or on BT.601 luma
    crop: int = 0  # border pixels ignored by PSNR/SSIM
    max_size: int | None = None  # downscale images whose long side is larger (None = as they are)
    device: str = "cpu"

    def __post_init__(self) -> None:
        unknown = [name for name in self.metrics if name not in METRICS]
        if unknown or not self.metrics:
            raise ConfigError(
                f"unknown metric(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(METRICS)}"
            )
        if self.sifid_channels not in (64, 192):
            raise ConfigError(f"SIFID layer must be 64 or 192 channels, got {self.sifid_channels}")
        if self.bds_queries is not None and self.bds_queries < 1:
            raise ConfigError(f"bds queries must be >= 1, got {self.bds_queries}")
        if self.crop < 0:
            raise ConfigError(f"crop must be >= 0, got {self.crop}")
        if self.max_size is not None and self.max_size < MIN_LEVEL_SIDE:
            raise ConfigError(f"max size must be >= {MIN_LEVEL_SIDE} px, got {self.max_size}")

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(column for name in METRICS if name in self.metrics for column in COLUMNS[name])

    def extractor(self) -> SIFIDExtractor | None:
        if "sifid" not in self.metrics:
            return None
        extractor = load_sifid_extractor(self.sifid_weights, self.sifid_channels)
        extractor.network.to(torch.device(self.device))
        return extractor


def _mean(values: Sequence[float]) -> float:
    return math.inf if any(math.isinf(value) for value in values) else sum(values) / len(values)


def evaluate_samples(
    real: Tensor, samples: Sequence[Tensor], options: EvalOptions, extractor: SIFIDExtractor | None = None
) -> dict[str, float]:
    """Every requested metric for one (1, 3, H, W) real image and its samples (each a (1, 3, h, w) image)."""
    if not samples:
        raise ValueError("evaluate_samples needs at least one sample")
    for image in (real, *samples):
        if min(image.shape[2:]) < MIN_LEVEL_SIDE:
            raise InputImageError(
                f"patch metrics need images with a short side >= {MIN_LEVEL_SIDE} px, got {tuple(image.shape[2:])}"
            )
    metrics = options.metrics
    per_sample: dict[str, list[float]] = {column: [] for column in options.columns if column != "diversity"}
    if "sifid" in metrics:
        extractor = extractor or options.extractor()
        assert extractor is not None
        real_statistics = sifid_statistics(real, extractor)
    for sample in samples:
        if "swd" in metrics:
            per_sample["swd"].append(patch_swd(real, sample))
        if "sifid" in metrics:
            assert extractor is not None
            per_sample["sifid"].append(frechet_distance(*real_statistics, *sifid_statistics(sample, extractor)))
        if "bds" in metrics:
            result = bidirectional_similarity(real, sample, queries=options.bds_queries, device=options.device)
            for key, value in result.as_dict().items():
                per_sample[key].append(value)
        if "psnr" in metrics:
            per_sample["psnr"].append(psnr(real, sample, channel=options.fidelity_channel, crop=options.crop))
        if "ssim" in metrics:
            per_sample["ssim"].append(ssim(real, sample, channel=options.fidelity_channel, crop=options.crop))
    scores = {column: _mean(values) for column, values in per_sample.items()}
    if "diversity" in metrics and len(samples) >= 2:
        scores["diversity"] = diversity(samples, real)
    return {column: scores[column] for column in options.columns if column in scores}


def evaluate_group(
    group: ImageGroup, options: EvalOptions, extractor: SIFIDExtractor | None = None
) -> dict[str, float]:
    real = load_image(group.real, max_size=options.max_size)
    samples = [load_image(path, max_size=options.max_size) for path in group.samples]
    return evaluate_samples(real, samples, options, extractor)


def summarise(rows: Sequence[dict[str, float]], columns: Sequence[str]) -> dict[str, dict[str, float]]:
    """{column: {mean, median, std, n}} over the rows that have that column."""
    summary = {}
    for column in columns:
        values = [row[column] for row in rows if column in row]
        if not values:
            continue
        finite = all(math.isfinite(value) for value in values)
        summary[column] = {
            "mean": _mean(values),
            "median": statistics.median(values),
            "std": statistics.pstdev(values) if finite and len(values) > 1 else 0.0,
            "n": len(values),
        }
    return summary


@dataclass
class MethodReport:
    """Scores of one method folder: one row per real image (with `image` and `samples`) and a summary."""

    method: str
    folder: Path
    rows: list[dict[str, float | str | int]] = field(default_factory=list)
    summary: dict[str, dict[str, float]] = field(default_factory=dict)


def evaluate_folder(
    real_folder: str | Path,
    method_folder: str | Path,
    options: EvalOptions,
    *,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> MethodReport:
    """Pair the folders (see `patchdna.metrics.folders`) and score every real image's samples.

    `limit`: only the first N real images (for a quick look). `progress(done, total)` is called after each.
    """
    groups = pair_folders(real_folder, method_folder)[:limit]
    extractor = options.extractor()
    report = MethodReport(method=Path(method_folder).name, folder=Path(method_folder))
    plain_rows = []
    for index, group in enumerate(groups):
        scores = evaluate_group(group, options, extractor)
        plain_rows.append(scores)
        report.rows.append({"image": group.name, "samples": len(group.samples), **scores})
        if progress is not None:
            progress(index + 1, len(groups))
    report.summary = summarise(plain_rows, options.columns)
    return report
