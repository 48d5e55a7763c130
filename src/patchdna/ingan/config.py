"""InGAN configuration: one frozen dataclass, validated on creation, with the presets `paper` and `fast`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

from patchdna.errors import ConfigError

__all__ = ["InGANConfig", "Preset", "preset"]

Preset = Literal["paper", "fast"]


@dataclass(frozen=True)
class InGANConfig:
    # Generator (paper: 64 base channels, x2 per downscale, 6 bottleneck res-blocks 512->128->512).
    widths: tuple[int, ...] = (64, 128, 256, 512)  # channels at full, 1/2, 1/4, 1/8 resolution
    bottleneck_blocks: int = 6
    bottleneck_reduction: int = 4  # res-block inner width = widths[-1] // reduction
    entry_kernel: int = 7
    exit_kernel: int = 7
    generator_norm: Literal["batch", "none"] = "batch"
    # How many up blocks, finest first, upsample *before* their conv (the paper's order: 3). The others run
    # their conv at the coarser resolution and then upsample, which is cheaper at large outputs but leaves no
    # nonlinear layer at the finer resolution. The default 0 is the order of models made before this option.
    upsample_first_levels: int = 0
    # How G resizes (T without a warp). "bilinear": the paper's stretch of the entry features, which G must learn
    # to undo. "segments" (patchdna): unit-scale segments of the features, repeated to grow and skipped to
    # shrink, with cuts where the image's lines join best, so local structure keeps its shape by construction and
    # G learns to hide the cuts (`patchdna.ops.warp.segment_indices`; see docs/ingan.md for the measurements).
    resize_mode: Literal["bilinear", "segments"] = "bilinear"
    segment_length: int = 24  # px per segment (at the input's resolution)
    segment_slack: int = 6  # px a segment's start may move to find a better cut
    segment_overlap: int = 8  # px around a cut where each line crosses along the least-error path (0: straight)
    # True (patchdna): G adds its output to T applied to the input image instead of a tanh output, so it
    # learns corrections and G(x; identity) = x holds from the first step. False: the paper.
    residual_output: bool = False
    # Discriminator: one small net per scale, scale i sees the input shrunk by scale_factor**-i.
    discriminator_width: int = 64
    discriminator_spectral_norm: bool = True  # the paper's; off lets D saturate (see PatchDiscriminator)
    # patchdna addition (0 = off, the paper): D also sees gain x the image's x/y differences (`with_gradients`)
    discriminator_gradient_gain: float = 0.0
    scale_factor: float = 1.4
    min_discriminator_side: int = 16  # number of scales = ceil(log(crop / this) / log(scale_factor))
    # Training.
    crop_size: int = 256  # side of the random square crop (input and real example); the whole image if smaller
    iterations: int = 75_000
    lr: float = 5e-5
    beta1: float = 0.5
    decay_start: float = 20_000 / 75_000  # fraction of iterations with a constant lr, then linear decay to 0
    curriculum_end: float = 10_000 / 75_000  # fraction over which the output-scale range grows to its limits
    equal_weights_at: float = 25_000 / 75_000  # fraction at which every discriminator scale weighs the same
    min_scale: float = 0.15  # output height/width factors are drawn from [min_scale, max_scale] independently
    max_scale: float = 2.25
    reconstruction_weight: float = 0.1
    # Weight of an L1 loss between G(x; identity) and x, every iteration (not in the paper). Without it
    # G(G(x; T); T^-1) = x is also met by colour reflections (inverted luminance maps back to x too), which a
    # briefly trained discriminator did not undo, and the colours drifted once a warm-up version of it ended.
    identity_weight: float = 0.0
    extra_inverse_step: bool = True  # after the curriculum, one more G step training G(y; T^-1) -> x alone
    warp_magnitude: float = 0.0  # top-corner shifts of training homographies drawn from [-m, m] (0 = resize only)
    crop_swap_probability: float = 0.0  # chance to swap two random squares of G's input (an augmentation)
    # Weight of a patch sliced-Wasserstein loss (GPDM's, `ops.patch_swd_loss`) between every retarget G(x; T) and
    # its input x, at `patch_loss_levels` pyramid levels (x and its half size, ...). Not in the paper: a stretched
    # output's patches leave the input's patch distribution, which a briefly trained discriminator barely
    # penalises. It belongs to the same family as the benchmark's realism ruler (patch SWD), see docs/ingan.md.
    patch_loss_weight: float = 0.0
    patch_loss_levels: int = 2
    patch_loss_size: int = 7  # px, side of the patches that term compares
    # Weight of a loss between the distributions of horizontal (and, apart, vertical) derivatives of every retarget
    # G(x; T) and its input x, at `derivative_loss_levels` pyramid levels (`ops.axis_derivative_loss`). Not in the
    # paper: a stretch shrinks the derivatives along its axis, a squeeze enlarges them, so this prior asks G to
    # make new content instead. It is close kin to the benchmark's anisotropy ruler (docs/ingan.md).
    derivative_loss_weight: float = 0.0
    derivative_loss_levels: int = 3
    input_noise: float = 1 / 255  # uniform noise amplitude added to the inputs of G and D
    # Bookkeeping.
    checkpoint_every: int = 2_000
    preview_every: int = 5_000

    def __post_init__(self) -> None:
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if len(self.widths) != 4 or min(self.widths) < 1:
            raise ConfigError(f"widths must be 4 positive channel counts (full to 1/8 resolution), got {self.widths}")
        if self.bottleneck_blocks < 0:
            raise ConfigError(f"bottleneck_blocks must be >= 0, got {self.bottleneck_blocks}")
        if self.bottleneck_reduction < 1 or self.widths[-1] // self.bottleneck_reduction < 1:
            raise ConfigError(f"bottleneck_reduction {self.bottleneck_reduction} leaves no channels")
        for name in ("entry_kernel", "exit_kernel"):
            value = getattr(self, name)
            if value < 1 or value % 2 == 0:
                raise ConfigError(f"{name} must be a positive odd number, got {value}")
        if self.generator_norm not in ("batch", "none"):
            raise ConfigError(f"generator_norm must be 'batch' or 'none', got {self.generator_norm!r}")
        if self.resize_mode not in ("bilinear", "segments"):
            raise ConfigError(f"resize_mode must be 'bilinear' or 'segments', got {self.resize_mode!r}")
        if self.segment_length < 4 or self.segment_slack < 0 or not 0 <= self.segment_overlap <= self.segment_length:
            raise ConfigError(
                "need segment_length >= 4, segment_slack >= 0 and 0 <= segment_overlap <= segment_length, got "
                f"{self.segment_length}, {self.segment_slack}, {self.segment_overlap}"
            )
        if self.scale_factor <= 1.0:
            raise ConfigError(f"scale_factor must be > 1, got {self.scale_factor}")
        if self.crop_size < 16:
            raise ConfigError(f"crop_size must be >= 16, got {self.crop_size}")
        if self.min_discriminator_side < 4:
            raise ConfigError(f"min_discriminator_side must be >= 4, got {self.min_discriminator_side}")
        if self.iterations < 1:
            raise ConfigError(f"iterations must be >= 1, got {self.iterations}")
        if self.lr <= 0:
            raise ConfigError(f"lr must be positive, got {self.lr}")
        if self.discriminator_gradient_gain < 0:
            raise ConfigError(f"discriminator_gradient_gain must be >= 0, got {self.discriminator_gradient_gain}")
        for name in ("decay_start", "curriculum_end", "equal_weights_at", "crop_swap_probability", "beta1"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must lie in [0, 1], got {value}")
        if not 0.0 < self.min_scale <= 1.0 <= self.max_scale:
            raise ConfigError(f"need 0 < min_scale <= 1 <= max_scale, got {self.min_scale}, {self.max_scale}")
        if self.max_scale > 8:
            raise ConfigError(f"max_scale must be <= 8, got {self.max_scale}")
        if not 0.0 <= self.warp_magnitude <= 0.5:
            raise ConfigError(f"warp_magnitude must lie in [0, 0.5], got {self.warp_magnitude}")
        if not 0 <= self.upsample_first_levels <= 3:
            raise ConfigError(f"upsample_first_levels must lie in 0..3, got {self.upsample_first_levels}")
        if self.reconstruction_weight < 0 or self.identity_weight < 0 or self.input_noise < 0:
            raise ConfigError("reconstruction_weight, identity_weight and input_noise must be >= 0")
        if self.patch_loss_weight < 0:
            raise ConfigError(f"patch_loss_weight must be >= 0, got {self.patch_loss_weight}")
        if not 1 <= self.patch_loss_levels <= 4:
            raise ConfigError(f"patch_loss_levels must lie in 1..4, got {self.patch_loss_levels}")
        if not 3 <= self.patch_loss_size <= 15:
            raise ConfigError(f"patch_loss_size must lie in 3..15, got {self.patch_loss_size}")
        if self.derivative_loss_weight < 0:
            raise ConfigError(f"derivative_loss_weight must be >= 0, got {self.derivative_loss_weight}")
        if not 1 <= self.derivative_loss_levels <= 6:
            raise ConfigError(f"derivative_loss_levels must lie in 1..6, got {self.derivative_loss_levels}")
        if self.checkpoint_every < 1 or self.preview_every < 1:
            raise ConfigError("checkpoint_every and preview_every must be >= 1")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["widths"] = list(self.widths)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InGANConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown InGAN config keys {unknown}; was the model made by a newer patchdna?")
        values: dict[str, Any] = {k: tuple(v) if k == "widths" else v for k, v in data.items()}
        return cls(**values)


# `fast`: designed for a 2-core CPU (see docs/ingan.md for what was measured). Few channels at full
# resolution (the 1024x1024 retarget cost lives there), 128 px crops, a shorter schedule with a higher lr.
_FAST = InGANConfig(
    widths=(16, 32, 64, 128),
    bottleneck_blocks=3,
    entry_kernel=7,
    exit_kernel=3,
    generator_norm="none",
    upsample_first_levels=1,  # a nonlinear conv at full res: same training CPU time, 1024x1024 retarget ~15% slower
    # Segment resizes with quilted joins and a residual output (session 21, the 7 benchmark images): shapes are
    # kept by construction (width x2 anisotropy near 0 instead of bicubic's 1.29) and the 1x output is the
    # input. G's own learnt stretch-undoing never got there within a CPU schedule (sessions 4-12, BENCHMARKS.md).
    resize_mode="segments",
    residual_output=True,
    discriminator_width=32,
    # 128 px crops at 1,600 iterations instead of 64 at 2,000 (sessions 8-9, the 7 benchmark images): 25 of 35
    # retargets within 2.5x the blur baseline instead of 18, for ~2.3x the training CPU time (BENCHMARKS.md).
    crop_size=128,
    iterations=1_600,
    lr=2e-4,
    decay_start=0.5,
    curriculum_end=0.25,
    equal_weights_at=0.4,
    min_scale=0.25,
    max_scale=2.25,
    identity_weight=1.0,  # against the colour inversions of the 1,000-iteration preset (BENCHMARKS.md)
    extra_inverse_step=False,  # G(G(x; T); T^-1) already trains the inverse; the extra pass costs ~25% per step
    # patch_loss_weight stays 0: at 4 (7 images, 2,000 iterations) shapes were not kept better and the nearest-patch
    # BDS got worse in 26 of 35 retargets; only the patch-SWD ruler, its own family, improved (BENCHMARKS.md).
    # derivative_loss_weight stays 0: at 1 and 10 (places0) G did not keep shapes; it could not minimise the term.
    checkpoint_every=500,
    preview_every=500,
)

_PRESETS: dict[str, InGANConfig] = {"paper": InGANConfig(upsample_first_levels=3), "fast": _FAST}


def preset(name: str, **overrides: Any) -> InGANConfig:
    """The named preset (`paper` = the official defaults, `fast` = the CPU design) with optional overrides."""
    if name not in _PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(_PRESETS)}")
    try:
        return replace(_PRESETS[name], **overrides)
    except TypeError as error:
        raise ConfigError(f"bad config override: {error}") from error
