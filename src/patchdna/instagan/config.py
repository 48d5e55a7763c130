"""InstaGAN configuration: one frozen dataclass, validated on creation, with presets `paper` and `fast`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

from patchdna.errors import ConfigError

__all__ = ["PRESETS", "InstaGANConfig", "Preset"]

Preset = Literal["paper", "fast"]


@dataclass(frozen=True)
class InstaGANConfig:
    """Everything that defines an InstaGAN model and its training (defaults = the official COCO setting).

    Sizes are (height, width) in pixels. Images are resized to `load_size`, then randomly cropped to `crop_size`
    (image and masks share one crop and one flip). Learning rate is constant for `steps` iterations, then decays
    linearly to zero over `decay_steps` more (the paper: 100 + 100 epochs, i.e. steps = 100 x dataset size).
    """

    load_size: tuple[int, int] = (220, 220)
    crop_size: tuple[int, int] = (200, 200)
    generator_width: int = 64  # ngf: channels after the first conv; the bottleneck has 4x this
    discriminator_width: int = 64  # ndf
    residual_blocks: int = 9  # per encoder (image and mask encoders each have this many)
    discriminator_layers: int = 3  # stride-2 convs per feature extractor
    ins_max: int = 4  # masks per image used in training (largest first)
    ins_per: int = 2  # masks translated per sequential pass
    batch_size: int = 1  # per process
    steps: int = 100_000  # iterations at constant learning rate
    decay_steps: int = 100_000  # iterations of linear decay to zero
    learning_rate: float = 2e-4
    beta1: float = 0.5
    lambda_gan: float = 1.0
    lambda_cycle: float = 10.0  # L1 on image + masks after A -> B -> A
    lambda_identity: float = 10.0  # L1 of G_BA(a) against a (official: lambda_A x lambda_idt = 10 x 1)
    lambda_context: float = 10.0  # L1 of the image outside the union of source and generated masks
    pool_size: int = 50  # fakes shown to D come from a pool of this many past fakes (0 = no pool)
    flip: bool = True  # random horizontal flip (image and masks together)

    def __post_init__(self) -> None:
        for name in ("load_size", "crop_size"):
            value = tuple(int(v) for v in getattr(self, name))
            if len(value) != 2 or min(value) < 8:
                raise ConfigError(f"{name} must be (height, width) with both >= 8, got {getattr(self, name)}")
            object.__setattr__(self, name, value)
        if self.crop_size[0] > self.load_size[0] or self.crop_size[1] > self.load_size[1]:
            raise ConfigError(f"crop_size {self.crop_size} must fit inside load_size {self.load_size}")
        down = 2**2  # two stride-2 convs in the generator
        if self.crop_size[0] % down or self.crop_size[1] % down:
            raise ConfigError(f"crop_size must be divisible by {down} (two stride-2 convs), got {self.crop_size}")
        smallest = 3 * 2**self.discriminator_layers  # the PatchGAN needs a 3x3 map after its stride-2 convs
        if min(self.crop_size) < smallest:
            raise ConfigError(
                f"crop_size {self.crop_size} is too small for a {self.discriminator_layers}-layer discriminator; "
                f"use at least {smallest}x{smallest}"
            )
        positive = (
            "generator_width",
            "discriminator_width",
            "ins_max",
            "ins_per",
            "batch_size",
            "discriminator_layers",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.residual_blocks < 0 or self.steps < 0 or self.decay_steps < 0 or self.pool_size < 0:
            raise ConfigError("residual_blocks, steps, decay_steps and pool_size must be >= 0")
        if self.steps + self.decay_steps < 1:
            raise ConfigError("steps + decay_steps must be at least 1")
        if self.ins_per > self.ins_max:
            raise ConfigError(f"ins_per ({self.ins_per}) must be <= ins_max ({self.ins_max})")
        if not 0 < self.learning_rate < 1:
            raise ConfigError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if not 0 <= self.beta1 < 1:
            raise ConfigError(f"beta1 must be in [0, 1), got {self.beta1}")
        for name in ("lambda_gan", "lambda_cycle", "lambda_identity", "lambda_context"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def passes(self) -> int:
        """Sequential passes per iteration: ceil(ins_max / ins_per)."""
        return -(-self.ins_max // self.ins_per)

    @property
    def total_steps(self) -> int:
        return self.steps + self.decay_steps

    @classmethod
    def preset(cls, name: Preset, **overrides: Any) -> InstaGANConfig:
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
        return cls(**{**PRESETS[name], **overrides})

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstaGANConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown InstaGAN config keys: {', '.join(unknown)}")
        values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)


PRESETS: dict[str, dict[str, Any]] = {
    # The official COCO setting (sangwoomo/instagan): ngf = ndf = 64, 9 res-blocks, 220 -> 200 crops.
    "paper": {},
    # A CPU-sized model: 1/8 generator and 1/4 discriminator widths, 3 res-blocks, 64 px images in 48 px crops,
    # batch 2 (0.2 M parameters per generator); the losses and their weights are the official ones. 1400 + 600
    # iterations (~22 single-thread CPU minutes) reach 98.6% rectangles on the shapes benchmark (BENCHMARKS.md).
    "fast": {
        "load_size": (64, 64),
        "crop_size": (48, 48),
        "generator_width": 8,
        "discriminator_width": 16,
        "residual_blocks": 3,
        "batch_size": 2,
        "steps": 1400,
        "decay_steps": 600,
    },
}
