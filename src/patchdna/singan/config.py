"""SinGAN configuration: one frozen dataclass, named presets.

`paper` reproduces the official defaults (tamarott/SinGAN) without its in-place bug. `fast` (the default) is
patchdna's CPU design: `diverse`'s pyramid and steps with ConSinGAN's feature cascade on its whole-image scales.
`diverse` trains every scale on its own (more varied samples that keep less of the image's layout);
`faithful` is `diverse` with ConSinGAN's concurrent training of the coarse scales. `cascade` is the name
`fast`'s design had in sessions 17-19 (the same config). BENCHMARKS.md holds what was measured for each.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, get_args

from patchdna.errors import ConfigError
from patchdna.layers import Norm

Spacing = Literal["uniform", "dense_low"]
PresetName = Literal["fast", "diverse", "faithful", "cascade", "paper"]

__all__ = ["PRESETS", "SinGANConfig", "config_from_dict", "preset"]


@dataclass(frozen=True)
class SinGANConfig:
    # Pyramid
    min_size: int = 25  # short side of the coarsest scale, px
    max_size: int = 250  # long side of the finest scale, px (larger inputs are downscaled)
    scale_factor: float = 0.75  # initial per-scale factor; re-fitted per image so the coarsest is min_size
    num_scales: int | None = None  # fixed number of scales (ConSinGAN style); None = derive from scale_factor
    spacing: Spacing = "uniform"  # "dense_low": ConSinGAN's log spacing, more scales at low resolution
    # Networks (per scale)
    width: int = 32  # channels at the coarsest scale
    max_width: int = 128
    width_doubling_every: int = 4  # scales; 0 = constant width
    num_layers: int = 5  # 3x3 convs per network (receptive field 11 px)
    norm: Norm = "batch"
    # Norm of the scales trained on crops (None: `norm`). Instance statistics of an 80 px window of sky differ
    # from the whole image's, so a cropped scale normalised per instance samples differently than it trained:
    # `diverse`'s first version smeared textures that way (session 2), so `diverse` keeps "none". Above the feature
    # cascade (`fast`) instance norm scored 7% lower patch SWD on LSUN 0-4 and Places 0-9 (session 19).
    crop_norm: Norm | None = None
    # Norm of the critics of the scales trained on whole images (None: the generators' `norm`). ConSinGAN's
    # critics have none. "none" in `fast` made LSUN 0-4 samples more diverse (0.30 -> 0.36) but far less
    # close to the image (patch SWD 0.33 -> 0.45; BENCHMARKS.md, session 18), so every preset keeps None.
    critic_norm: Norm | None = None
    negative_slope: float = 0.2
    # Optimisation
    iterations: int = 2000  # per scale
    # Per-scale multipliers of `iterations`, coarsest first (missing entries: 1). Coarse scales are cheap and
    # decide the global layout, so the CPU presets spend more steps there and fewer at the costly fine scales.
    iteration_multipliers: tuple[float, ...] = ()
    d_steps: int = 3
    g_steps: int = 3
    lr_g: float = 5e-4
    lr_d: float = 5e-4
    beta1: float = 0.5
    lr_decay_at: float = 0.8  # fraction of `iterations` after which the lr drops x0.1
    reconstruction_weight: float = 10.0  # alpha
    # alpha of the scales trained on crops (None: `reconstruction_weight`). A few hundred steps on crops with
    # alpha 10 left the fine reconstructions worse than their upsampled input (the critic's pull wins).
    crop_reconstruction_weight: float | None = None
    gradient_penalty_weight: float = 0.1
    # patchdna addition (1, every step, in `paper`, `diverse`, `faithful`): compute the gradient penalty on every k-th
    # critic step only, weighted k times (lazy regularisation, StyleGAN2, Karras et al. 2020). The penalty's double
    # backward is about a third of a SinGAN step, but k = 4 in `diverse` made samples more diverse and less faithful
    # (Places 0 patch SWD 0.72-0.81 -> 1.05; 8 images, BENCHMARKS.md session 9). On the feature cascade's scales
    # (`fast`: 4) it cut ~20% of their time at the same quality over two model seeds (session 18).
    gradient_penalty_every: int = 1
    # The same period for the scales trained on crops (None: `gradient_penalty_every`). 4 there saved ~8% of the
    # CPU time, but Places 0-4 scored 0.581 against 0.533 (BENCHMARKS.md, session 10), so `diverse` leaves it off.
    crop_gradient_penalty_every: int | None = None
    noise_amplitude_weight: float = 0.1  # sigma_n = weight x RMSE(real_n, up(reconstruction_{n+1}))
    # The weight of the scales trained on crops (None: `noise_amplitude_weight`). In `fast` (with instance norm)
    # 0.3 there raised LSUN 0-4 diversity from 0.30 to 0.32 at the same patch SWD, and 0.5 to 0.33, over two
    # model seeds (BENCHMARKS.md, sessions 19-20): the fine scales draw more of their detail anew per sample.
    crop_noise_amplitude_weight: float | None = None
    # patchdna addition (0 in `paper`): weight of a patch sliced-Wasserstein term (ops.patch_swd_loss, GPDM's
    # loss) between each generator step's fake and the real image of that scale, beside the critic's.
    patch_loss_weight: float = 0.0
    patch_loss_size: int = 7  # px, side of the patches that term compares
    # Reconstruction noise of the coarsest scale during training. "random": a fresh z each iteration, as the
    # official code does (it redraws z_opt every epoch at the coarsest scale, unlike the paper's text), so the
    # alpha x MSE term pulls G(any z) towards the real image and free samples keep its global layout. "fixed":
    # the paper's z*, which lets G memorise z* -> image while every other z maps to layout-free texture
    # (patchdna before session 7; BENCHMARKS.md).
    # "image": ConSinGAN's z_opt, the real coarsest image as G_0's reconstruction input, so the term binds no
    # noise to the layout and free samples get theirs from the critics alone (the `faithful` preset). Its
    # coarsest reconstruction is then almost exact, so sigma_n above it is small: with the default weight 0.1
    # Places 0's samples grew streaks (BENCHMARKS.md, session 14); `faithful` uses 0.3.
    coarsest_reconstruction_noise: Literal["random", "fixed", "image"] = "random"
    # patchdna addition (None in `paper`): from this scale on, the reconstruction term feeds G_n the real image
    # of scale n - 1, upsampled, instead of the upsampled reconstruction of scale n - 1 (SinGAN's chain). The
    # chain drifts from the real image scale by scale (RMSE ~0.09 at the finest scales of a `diverse` model,
    # against ~0.035 for the upsampled real image), so its L2 term pairs misaligned inputs and targets and
    # teaches G to blur; the real pairs teach G to restore this scale's detail (SinGAN's SR training pairs).
    # Scale 1 is where the coarsest scale's inexact reconstruction is pulled to the image's layout (see
    # `coarsest_reconstruction_noise`), so values >= 2 keep that. sigma_n still comes from the chain.
    # Session 12 (BENCHMARKS.md): 4 (`diverse`'s cropped scales) gave -4.6% sample patch SWD over 7 images in a
    # side-by-side retraining, with a worse reconstruction; 2 made Places much worse. Off until a full run.
    real_reconstruction_input_from: int | None = None
    # ConSinGAN's concurrent training (Hinz et al. 2021; its train_depth, 3 there, and lr_scale, 0.1): while
    # scale n trains, the generators of the k - 1 scales below it train too, with learning rates x
    # lr_scale^(distance), through scale n's critic and reconstruction losses; the fake of scale n is made by
    # the whole chain from the frozen scales' samples. 1 = SinGAN (each scale alone).
    concurrent_stages: int = 1
    concurrent_lr_scale: float = 0.1
    # The lowest scale a chain reaches down to (0: ConSinGAN, whose chains include the first stage).
    concurrent_lowest_scale: int = 0
    # k of the scales trained on crops (None: `concurrent_stages`). The chain below a cropped scale runs on
    # whole images, which costs several times a crop's step.
    crop_concurrent_stages: int | None = None
    init_from_previous: bool = True  # a scale of the same width starts from the previous scale's weights
    # Speed (patchdna additions; off in `paper`)
    crop_size: int | None = None  # train scales larger than this on random crops of this side (px)
    sample_pool: int = 0  # >0: draw lower-scale inputs from a pool of this many samples made once per scale
    # Applications
    noise_padding: bool = False  # animation: pad with noise instead of zeros (official "animation mode")
    # patchdna addition (None in `paper`, `diverse`, `faithful`): the scales whose long side is at most this many px
    # are one ConSinGAN feature cascade (networks.CascadeBlock / CascadeTail) instead of per-scale image
    # generators. Their blocks pass `width`-channel features up with noise added in feature space, and
    # `concurrent_stages` of them train together on the whole image. Images can enter a cascade model (paint,
    # harmonization, editing) only from its first image scale. On LSUN 0-4 it halved `diverse`'s patch SWD, with
    # diversity 0.29 against `diverse`'s 0.37 (BENCHMARKS.md, sessions 16-17).
    cascade_max_size: int | None = None
    cascade_layers: int = 3  # ConvBlocks per cascade block (ConSinGAN: 3)
    cascade_negative_slope: float = 0.05  # LeakyReLU slope in the cascade (ConSinGAN's)

    def __post_init__(self) -> None:
        checks = [
            (self.min_size >= 8, f"min_size must be >= 8, got {self.min_size}"),
            (self.max_size >= self.min_size, f"max_size ({self.max_size}) must be >= min_size ({self.min_size})"),
            (0.3 <= self.scale_factor < 1.0, f"scale_factor must be in [0.3, 1), got {self.scale_factor}"),
            (
                self.num_scales is None or 2 <= self.num_scales <= 20,
                f"num_scales must be in 2..20, got {self.num_scales}",
            ),
            (self.spacing in ("uniform", "dense_low"), f"spacing must be uniform or dense_low, got {self.spacing!r}"),
            (self.width >= 4 and self.max_width >= self.width, f"need 4 <= width <= max_width, got {self.width}"),
            (self.num_layers >= 3, f"num_layers must be >= 3, got {self.num_layers}"),
            (self.norm in get_args(Norm), f"norm must be one of {get_args(Norm)}, got {self.norm!r}"),
            (self.crop_norm in (None, *get_args(Norm)), f"crop_norm must be None or a norm, got {self.crop_norm!r}"),
            (
                self.critic_norm in (None, *get_args(Norm)),
                f"critic_norm must be None or a norm, got {self.critic_norm!r}",
            ),
            (self.iterations >= 1, f"iterations must be >= 1, got {self.iterations}"),
            (
                all(m > 0 for m in self.iteration_multipliers),
                f"iteration_multipliers must be positive, got {self.iteration_multipliers}",
            ),
            (self.d_steps >= 1 and self.g_steps >= 1, "d_steps and g_steps must be >= 1"),
            (self.lr_g > 0 and self.lr_d > 0, "learning rates must be positive"),
            (0.0 < self.lr_decay_at <= 1.0, f"lr_decay_at must be in (0, 1], got {self.lr_decay_at}"),
            (self.reconstruction_weight >= 0, "reconstruction_weight must be >= 0"),
            (
                self.crop_reconstruction_weight is None or self.crop_reconstruction_weight >= 0,
                "crop_reconstruction_weight must be None or >= 0",
            ),
            (
                self.noise_amplitude_weight >= 0
                and (self.crop_noise_amplitude_weight is None or self.crop_noise_amplitude_weight >= 0),
                "noise_amplitude_weight and crop_noise_amplitude_weight must be >= 0",
            ),
            (
                self.gradient_penalty_every >= 1,
                f"gradient_penalty_every must be >= 1, got {self.gradient_penalty_every}",
            ),
            (
                self.crop_gradient_penalty_every is None or self.crop_gradient_penalty_every >= 1,
                f"crop_gradient_penalty_every must be None or >= 1, got {self.crop_gradient_penalty_every}",
            ),
            (self.patch_loss_weight >= 0, f"patch_loss_weight must be >= 0, got {self.patch_loss_weight}"),
            (3 <= self.patch_loss_size <= 15, f"patch_loss_size must be in 3..15, got {self.patch_loss_size}"),
            (self.crop_size is None or self.crop_size >= 16, f"crop_size must be >= 16, got {self.crop_size}"),
            (self.sample_pool >= 0, f"sample_pool must be >= 0, got {self.sample_pool}"),
            (
                self.real_reconstruction_input_from is None or self.real_reconstruction_input_from >= 1,
                f"real_reconstruction_input_from must be None or >= 1, got {self.real_reconstruction_input_from}",
            ),
            (self.concurrent_stages >= 1, f"concurrent_stages must be >= 1, got {self.concurrent_stages}"),
            (
                self.concurrent_lowest_scale >= 0,
                f"concurrent_lowest_scale must be >= 0, got {self.concurrent_lowest_scale}",
            ),
            (
                self.crop_concurrent_stages is None or self.crop_concurrent_stages >= 1,
                f"crop_concurrent_stages must be None or >= 1, got {self.crop_concurrent_stages}",
            ),
            (
                0.0 <= self.concurrent_lr_scale <= 1.0,
                f"concurrent_lr_scale must be in [0, 1], got {self.concurrent_lr_scale}",
            ),
            (
                self.real_reconstruction_input_from is None
                or (self.concurrent_stages == 1 and self.crop_concurrent_stages in (None, 1)),
                "real_reconstruction_input_from needs concurrent_stages 1 (the chain makes its own reconstruction)",
            ),
            (
                self.coarsest_reconstruction_noise in ("random", "fixed", "image"),
                "coarsest_reconstruction_noise must be random, fixed or image, "
                f"got {self.coarsest_reconstruction_noise!r}",
            ),
            (
                self.cascade_max_size is None or self.cascade_max_size >= self.min_size,
                f"cascade_max_size must be None or >= min_size ({self.min_size}), got {self.cascade_max_size}",
            ),
            (self.cascade_layers >= 1, f"cascade_layers must be >= 1, got {self.cascade_layers}"),
            (
                self.cascade_max_size is None or (self.d_steps == 1 and self.g_steps == 1),
                "the feature cascade trains with one critic and one generator step (d_steps = g_steps = 1)",
            ),
            (
                self.cascade_max_size is None or self.coarsest_reconstruction_noise != "random",
                "the feature cascade needs a fixed reconstruction input (coarsest_reconstruction_noise image or fixed)",
            ),
            (
                self.cascade_max_size is None or self.real_reconstruction_input_from is None,
                "real_reconstruction_input_from is for per-scale generators, not the feature cascade",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @property
    def receptive_padding(self) -> int:
        """Pixels each network's valid convolutions remove per side (SinGAN pads its input by this much)."""
        return self.num_layers  # (kernel 3 - 1) / 2 per layer

    def is_cropped(self, size: tuple[int, int]) -> bool:
        return self.crop_size is not None and max(size) > self.crop_size

    def is_cascade(self, size: tuple[int, int]) -> bool:
        """Whether a scale of `size` (h, w) belongs to the feature cascade (see `cascade_max_size`)."""
        return self.cascade_max_size is not None and max(size) <= self.cascade_max_size

    def norm_at(self, size: tuple[int, int]) -> Norm:
        """The norm of the networks of a scale of `size` (h, w)."""
        return self.crop_norm if self.crop_norm is not None and self.is_cropped(size) else self.norm

    def critic_norm_at(self, size: tuple[int, int]) -> Norm:
        """The norm of the critic of a scale of `size` (h, w)."""
        if self.critic_norm is not None and not self.is_cropped(size):
            return self.critic_norm
        return self.norm_at(size)

    def reconstruction_weight_at(self, size: tuple[int, int]) -> float:
        """alpha of a scale of `size` (h, w)."""
        if self.crop_reconstruction_weight is not None and self.is_cropped(size):
            return self.crop_reconstruction_weight
        return self.reconstruction_weight

    def noise_amplitude_weight_at(self, size: tuple[int, int]) -> float:
        """The weight of sigma_n = weight x RMSE at a scale of `size` (h, w)."""
        if self.crop_noise_amplitude_weight is not None and self.is_cropped(size):
            return self.crop_noise_amplitude_weight
        return self.noise_amplitude_weight

    def real_reconstruction_input_at(self, scale: int) -> bool:
        """Whether the reconstruction term of `scale` feeds the upsampled real image (see the field)."""
        return self.real_reconstruction_input_from is not None and scale >= self.real_reconstruction_input_from

    def concurrent_stages_at(self, scale: int, size: tuple[int, int]) -> int:
        """How many scales (this one and those below it, at most scale + 1) train together at `scale`."""
        stages = self.concurrent_stages
        if self.crop_concurrent_stages is not None and self.is_cropped(size):
            stages = self.crop_concurrent_stages
        return max(1, min(stages, scale + 1 - self.concurrent_lowest_scale))

    def gradient_penalty_every_at(self, size: tuple[int, int]) -> int:
        """The lazy gradient-penalty period of a scale of `size` (h, w)."""
        if self.crop_gradient_penalty_every is not None and self.is_cropped(size):
            return self.crop_gradient_penalty_every
        return self.gradient_penalty_every

    def iterations_at(self, scale: int) -> int:
        factor = self.iteration_multipliers[scale] if scale < len(self.iteration_multipliers) else 1.0
        return max(1, round(self.iterations * factor))

    def width_at(self, scale: int) -> int:
        if self.width_doubling_every <= 0:
            return self.width
        return min(self.width * 2 ** (scale // self.width_doubling_every), self.max_width)

    def replace(self, **changes: Any) -> SinGANConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


PRESETS: dict[str, SinGANConfig] = {
    # The official defaults (tamarott/SinGAN main_train.py / config.py).
    "paper": SinGANConfig(),
    # patchdna's first CPU design (named `fast` in sessions 1-19), chosen by measurement (BENCHMARKS.md):
    # ConSinGAN's denser low-resolution pyramid with fewer scales, constant narrow width, instance norm, one
    # critic and one generator step per iteration, far fewer iterations (each scale starts from the previous
    # one's weights; the three coarsest, cheap scales get 3x, 3x and 2x), the larger scales trained on random
    # crops, and lower-scale inputs drawn from a per-scale pool instead of re-generated every step. Measured on
    # Places 0 / LSUN 0 (patch SWD, 10 samples):
    #   no norm 3.05 / 2.36 -> instance norm 1.65 / 2.80 -> + coarse multipliers 1.56 / 1.31.
    # Instance norm (not BatchNorm: its running statistics differ from the training ones at sampling time)
    # halved the coarsest reconstruction error (RMSE 0.19 -> 0.09). 7 dense-low scales beat 8 uniform ones;
    # 3 G steps per critic step and batches of fakes at small scales did not pay (BENCHMARKS.md).
    # Session 4: a patch sliced-Wasserstein term beside the critic (Places 4: 1.26 -> 0.57; LSUN 0: 1.32 ->
    # 1.14) and alpha 100 on the cropped scales, whose reconstructions were worse than their upsampled input
    # (LSUN 0 finest RMSE 0.16 vs 0.13; with alpha 100: 0.10 vs 0.10, and 0.97 patch SWD).
    # Session 7: the coarsest reconstruction noise redrawn every step (`coarsest_reconstruction_noise`, as the
    # official code does) instead of a fixed z*: free samples keep the room's layout (LSUN 0 / 2: 0.92 / 0.77 ->
    # 0.71 / 0.55 patch SWD, 10 samples, same CPU time).
    # Eager, not torch.compile: compiled steps were -6% to +11% of eager on this CPU, and every new shape cost
    # 17-32 s of compilation (session 11).
    "diverse": SinGANConfig(
        num_scales=7,
        spacing="dense_low",
        width=32,
        max_width=32,
        width_doubling_every=0,
        norm="instance",
        crop_norm="none",
        iterations=500,
        iteration_multipliers=(3.0, 3.0, 2.0),
        d_steps=1,
        g_steps=1,
        crop_size=80,
        sample_pool=16,
        patch_loss_weight=1.0,
        crop_reconstruction_weight=100.0,
    ),
}
# `diverse` with ConSinGAN's concurrent training (Hinz et al. 2021) of the uncropped scales 0-3: scale n trains
# with the two scales below it (learning rates x0.1, x0.01). Samples keep the image's objects and layout and
# are sharper, but vary less. The cropped scales train alone: a chain through whole-image scales would cost
# several crops' work per step. Session 13 (BENCHMARKS.md): 1.13x the CPU time of `diverse` side by side.
# Session 14 added ConSinGAN's reconstruction input (the real coarsest image) and sigma weight 0.3. Mean patch
# SWD / diversity of 10 samples on LSUN 0-4: 0.319 / 0.259 (session 13's version 0.348 / 0.214, `diverse`
# 0.629 / 0.366, published ConSinGAN 0.345 / 0.322); Places 0-9 (4 samples): 0.362 / 0.257 (session 13 0.367 / 0.206).
PRESETS["faithful"] = PRESETS["diverse"].replace(
    concurrent_stages=3,
    crop_concurrent_stages=1,
    coarsest_reconstruction_noise="image",
    noise_amplitude_weight=0.3,
)

# The default: `diverse`'s pyramid and steps with ConSinGAN's feature cascade on its whole-image scales (long
# side <= 80 px): the newest 3 blocks train together (older ones at lr x 0.1 per scale), the reconstruction
# input is the real coarsest image, the cascade's critics take the gradient penalty every 4th step (the cropped
# scales every step, as in `diverse`); the cropped scales above it are instance-normalised and take sigma
# weight 0.5. Closer to the image than `diverse` (LSUN patch SWD 0.33 vs 0.63), a little less varied (0.33 vs
# 0.37), about its time (BENCHMARKS.md, sessions 17-20). Paint, harmonization and editing start at or above
# its first image scale (scale 4 of 7 on a 250 px photo): the cascade's scales take features, not images.
PRESETS["fast"] = PRESETS["diverse"].replace(
    cascade_max_size=80,
    concurrent_stages=3,
    crop_concurrent_stages=1,
    coarsest_reconstruction_noise="image",
    gradient_penalty_every=4,
    crop_gradient_penalty_every=1,
    crop_norm="instance",
    crop_noise_amplitude_weight=0.5,
)
# Its name in sessions 17-19, kept so that their BENCHMARKS.md commands still run.
PRESETS["cascade"] = PRESETS["fast"]


def preset(name: str, **overrides: Any) -> SinGANConfig:
    """A named preset, optionally with some fields replaced."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    try:
        return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]
    except TypeError as error:  # a field name that SinGANConfig does not have
        raise ConfigError(f"bad config override: {error}") from error


def config_from_dict(values: dict[str, Any]) -> SinGANConfig:
    """Rebuild a config from config.json, refusing unknown keys (a folder from another version)."""
    known = {field.name for field in dataclasses.fields(SinGANConfig)}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown SinGAN config keys {sorted(unknown)}; the model folder is from another version")
    values = dict(values)
    if "iteration_multipliers" in values:  # JSON stores the tuple as a list
        values["iteration_multipliers"] = tuple(values["iteration_multipliers"])
    return SinGANConfig(**values)
