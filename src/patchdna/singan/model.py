"""The SinGAN model: a pyramid of per-scale generators, their noise amplitudes and fixed noise.

Paper -> code: x_n -> reals[n] (coarsest first here: index 0 is the paper's N), G_n -> generators[n],
D_n -> discriminators[n], z_n -> noise, sigma_n -> noise_amplitudes[n], z* -> fixed_noise (coarsest only;
the reconstruction uses zero noise above it), r -> the re-fitted scale factor implied by `sizes`.
Images are (B, 3, H, W) in [-1, 1] inside this module; public functions take and return [0, 1].

With `config.cascade_max_size` the first `num_cascade` scales are ConSinGAN's feature cascade: generators[n]
is then a `CascadeBlock`, the state passed up those scales is (B, C, h, w) features (an image only through
the shared `cascade_tail`), z_n is (B, C, h + 2L, w + 2L) above scale 0, and the reconstruction uses a stored
fixed feature noise per cascade scale (`cascade_noise(n)`) instead of zeros.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from patchdna.checkpoint import load_model_folder, save_model_folder
from patchdna.errors import ConfigError, ModelFolderError
from patchdna.ops import resize
from patchdna.singan.config import SinGANConfig, config_from_dict
from patchdna.singan.networks import CascadeBlock, CascadeTail, StageDiscriminator, StageGenerator

FAMILY = "singan"

__all__ = ["FAMILY", "SinGAN", "load_singan", "save_singan"]


def _draw(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> Tensor:
    """Standard normal noise drawn on the CPU generator (so a seed gives the same noise on every device)."""
    return torch.randn(shape, generator=generator).to(device)


class SinGAN(nn.Module):
    """All scales of one trained (or partly trained) SinGAN.

    `sizes` holds every planned scale; `generators` only the trained ones, so a model folder written mid-run
    is usable (its samples stop at the last finished scale).
    """

    real: Tensor
    noise_amplitudes: Tensor
    fixed_noise: Tensor

    def __init__(self, config: SinGANConfig, sizes: Sequence[tuple[int, int]], real: Tensor) -> None:
        super().__init__()
        self.config = config
        self.sizes: list[tuple[int, int]] = [(int(h), int(w)) for h, w in sizes]
        self.generators = nn.ModuleList()
        self.discriminators = nn.ModuleList()
        self.register_buffer("real", real.detach().clone())  # (1, 3, H, W) in [-1, 1], the finest scale
        self.register_buffer("noise_amplitudes", torch.zeros(0))
        height, width = self.sizes[0]
        self.register_buffer("fixed_noise", torch.zeros(1, 1, height, width))
        # The cascade is a prefix of the pyramid: sizes grow, so the scales within cascade_max_size come first.
        self.num_cascade = 0
        while self.num_cascade < len(self.sizes) and config.is_cascade(self.sizes[self.num_cascade]):
            self.num_cascade += 1
        self.cascade_tail = CascadeTail(config.width) if self.num_cascade else None

    # -- structure -----------------------------------------------------------------------------------------
    @property
    def num_trained(self) -> int:
        return len(self.generators)

    def is_cascade_scale(self, scale: int) -> bool:
        return scale < self.num_cascade

    def cascade_noise(self, scale: int) -> Tensor:
        """The stored reconstruction noise of cascade scale `scale` >= 1, (1, C, h + 2L, w + 2L)."""
        return getattr(self, f"cascade_noise_{scale}")

    def set_cascade_noise(self, scale: int, noise: Tensor) -> None:
        self.register_buffer(f"cascade_noise_{scale}", noise.to(self.real.device))

    def new_stage(self) -> tuple[StageGenerator | CascadeBlock, StageDiscriminator]:
        """Networks for the next scale, initialised from the previous scale's when their kind, width and norm match."""
        config, scale = self.config, self.num_trained
        width = config.width_at(scale)
        norm, critic_norm = config.norm_at(self.sizes[scale]), config.critic_norm_at(self.sizes[scale])
        discriminator = StageDiscriminator(width, config.num_layers, critic_norm, config.negative_slope)
        generator: StageGenerator | CascadeBlock
        if self.is_cascade_scale(scale):
            # Every cascade block has `width` channels; the head (3 -> C) lives in scale 0's block only.
            generator = CascadeBlock(
                config.width, config.cascade_layers, norm, config.cascade_negative_slope, head=scale == 0
            )
        else:
            generator = StageGenerator(width, config.num_layers, norm, config.negative_slope)
        if config.init_from_previous and scale > 0:
            # The previous scale's weights fit only a network of the same kind, width and norm.
            below = self.sizes[scale - 1]
            same_width = config.width_at(scale - 1) == width
            # Not across the cascade's top: its critics judged whole images, the next one judges crops.
            same_kind = self.is_cascade_scale(scale - 1) == self.is_cascade_scale(scale)
            if same_width and same_kind and config.critic_norm_at(below) == critic_norm:
                discriminator.load_state_dict(self.discriminators[-1].state_dict())
            if same_width and config.norm_at(below) == norm:
                if isinstance(generator, CascadeBlock):
                    # ConSinGAN starts each block as a copy of the one below (the head stays with scale 0).
                    previous: CascadeBlock = self.generators[-1]  # type: ignore[assignment]
                    generator.body.load_state_dict(previous.body.state_dict())
                elif isinstance(self.generators[-1], StageGenerator):
                    generator.load_state_dict(self.generators[-1].state_dict())
        device = self.real.device
        return generator.to(device), discriminator.to(device)

    def reals(self) -> list[Tensor]:
        """The real image at every scale, coarsest first, (1, 3, h_n, w_n) in [-1, 1]."""
        return [resize(self.real, size) for size in self.sizes]

    # -- generation -----------------------------------------------------------------------------------------
    def scaled_sizes(
        self, scale_h: float = 1.0, scale_w: float = 1.0, size: tuple[int, int] | None = None
    ) -> list[tuple[int, int]]:
        """Per-scale sizes of an output scale_h x scale_w times the training size, or exactly `size` = (H, W)."""
        final_h, final_w = self.sizes[self.num_trained - 1]
        if size is not None:
            scale_h, scale_w = size[0] / final_h, size[1] / final_w
        if scale_h <= 0 or scale_w <= 0:
            raise ConfigError(f"output scale must be positive, got {scale_h} x {scale_w}")
        sizes = [(max(1, round(h * scale_h)), max(1, round(w * scale_w))) for h, w in self.sizes[: self.num_trained]]
        if size is not None:
            sizes[-1] = (int(size[0]), int(size[1]))
        if min(min(s) for s in sizes) < 3:
            raise ConfigError(f"output too small: coarsest scale would be {sizes[0]}; ask for a larger size")
        return sizes

    def noise_like(self, scale: int, batch: int, size: tuple[int, int], generator: torch.Generator | None) -> Tensor:
        """Random z_n of (batch, 3, h, w); the coarsest scale uses one channel repeated over RGB (as SinGAN).

        Cascade scales: (batch, 3, h, w) independent channels at scale 0 (as ConSinGAN), (batch, C, h + 2L,
        w + 2L) feature noise above it (the block enlarges its input by L px per side instead of padding it).
        """
        device = self.real.device
        if self.is_cascade_scale(scale):
            if scale == 0:
                return _draw((batch, 3, *size), generator, device)
            margin = 2 * self.config.cascade_layers
            return _draw((batch, self.config.width, size[0] + margin, size[1] + margin), generator, device)
        if scale == 0:
            return _draw((batch, 1, *size), generator, device).expand(batch, 3, *size)
        return _draw((batch, 3, *size), generator, device)

    def reconstruction_noise(self, batch: int = 1) -> Tensor:
        """The coarsest scale's reconstruction input, (batch, 3, h_0, w_0): z* repeated over RGB, or with
        `coarsest_reconstruction_noise` "image" the real coarsest image itself (ConSinGAN's z_opt)."""
        height, width = self.sizes[0]
        if self.config.coarsest_reconstruction_noise == "image":
            return resize(self.real, (height, width)).expand(batch, 3, height, width)
        return self.fixed_noise.expand(batch, 3, height, width)

    def reconstruction_noise_at(self, scale: int) -> Tensor:
        """The reconstruction's z_n: `reconstruction_noise()` at scale 0, the stored feature noise on the
        cascade's scales above it, zeros (1, 3, h_n, w_n) on image scales above 0."""
        if scale == 0:
            return self.reconstruction_noise()
        if self.is_cascade_scale(scale):
            return self.cascade_noise(scale)
        return torch.zeros(1, 3, *self.sizes[scale], device=self.real.device)

    @property
    def pad_mode(self) -> str:
        # Animation mode pads with the border content instead of zeros, so edges move like the interior.
        return "replicate" if self.config.noise_padding else "constant"

    def stage(self, scale: int, previous: Tensor, noise: Tensor) -> Tensor:
        """x_n = G_n(sigma_n z_n + previous) + previous, with previous already at this scale's size (image scales)."""
        if self.is_cascade_scale(scale):
            raise ConfigError(f"scale {scale} belongs to this model's feature cascade; it takes features, not images")
        amplitude = self.noise_amplitudes[scale]
        return self.generators[scale](amplitude * noise + previous, previous, pad_mode=self.pad_mode)

    def advance(self, scale: int, lower: Tensor | None, noise: Tensor, size: tuple[int, int]) -> Tensor:
        """The state of `scale` (features on cascade scales, else the image) from the state of the scale below.

        lower: the output of scale - 1 at any size (None at scale 0); noise: z_n for an output of `size`.
        """
        if self.is_cascade_scale(scale):
            block: CascadeBlock = self.generators[scale]  # type: ignore[assignment]
            if scale == 0:
                return block.first(noise, self.pad_mode)
            assert lower is not None
            return block.refine(lower, noise, self.noise_amplitudes[scale])
        if scale == 0 or lower is None:
            previous = torch.zeros(noise.shape[0], 3, *size, device=noise.device)
        else:
            previous = resize(self.to_image(scale - 1, lower), size)
        return self.stage(scale, previous, noise)

    def to_image(self, scale: int, state: Tensor) -> Tensor:
        """The image of a scale's state: the cascade's features through its tail; images unchanged."""
        if self.is_cascade_scale(scale):
            assert self.cascade_tail is not None
            return self.cascade_tail(state, self.pad_mode)
        return state

    @torch.no_grad()
    def reconstruct_states(self, up_to: int | None = None) -> list[Tensor]:
        """The reconstruction's per-scale states (features on cascade scales, images above), coarsest first."""
        last = self.num_trained - 1 if up_to is None else up_to
        states: list[Tensor] = []
        for scale in range(last + 1):
            lower = states[-1] if states else None
            states.append(self.advance(scale, lower, self.reconstruction_noise_at(scale), self.sizes[scale]))
        return states

    @torch.no_grad()
    def reconstruct(self, up_to: int | None = None) -> list[Tensor]:
        """Reconstructions x_rec_n for n <= up_to (default: all trained), coarsest first, in [-1, 1]."""
        return [self.to_image(scale, state) for scale, state in enumerate(self.reconstruct_states(up_to))]

    def _towards_reconstruction_noise(self, noise: Tensor, variation: float) -> Tensor:
        """sqrt(1 - v^2) z_rec + v z for a coarsest noise z of (B, 3, h, w); z_rec is `reconstruction_noise()`."""
        optimal = self.reconstruction_noise()
        if tuple(noise.shape[-2:]) != tuple(optimal.shape[-2:]):
            raise ConfigError(
                f"variation < 1 keeps the training layout, so it needs the training size; the coarsest scale "
                f"is {tuple(noise.shape[-2:])}, trained at {tuple(optimal.shape[-2:])}"
            )
        return (1.0 - variation**2) ** 0.5 * optimal + variation * noise

    @torch.no_grad()
    def generate(
        self,
        num: int = 1,
        *,
        sizes: Sequence[tuple[int, int]] | None = None,
        start_scale: int = 0,
        start_image: Tensor | None = None,
        noises: Sequence[Tensor | None] | None = None,
        generator: torch.Generator | None = None,
        variation: float = 1.0,
        up_to: int | None = None,
    ) -> Tensor:
        """(num, 3, H, W) samples in [-1, 1].

        start_scale k: scales below k are not sampled. Without `start_image` they keep the reconstruction
        (the paper's gen_start_scale: global layout kept, finer detail varies); with it, `start_image`
        ((1 or num, 3, h, w) in [-1, 1]) is resized to scale k and used as that scale's upsampled input
        (paint-to-image, harmonization, editing); a feature cascade's scales take no image (ConfigError).
        `noises[n]`, when given, replaces the random z_n (its shape is `noise_like`'s).
        variation v in [0, 1]: the coarsest noise is sqrt(1 - v^2) z_rec + v z (z_rec: `reconstruction_noise`), a
        truncation knob between the training image's layout (0: the reconstruction's noise; finer scales still
        vary) and the paper's free samples (1, the default). v < 1 needs the training size at the coarsest scale.
        up_to: stop after this scale (default: the last trained one); `sizes` then gives one size per scale to it.
        """
        if not 0.0 <= variation <= 1.0:
            raise ConfigError(f"variation must be in [0, 1], got {variation}")
        if self.num_trained == 0:
            raise ModelFolderError("this model has no trained scale yet")
        last = self.num_trained - 1 if up_to is None else up_to
        if not 0 <= last < self.num_trained:
            raise ConfigError(f"up_to must be in 0..{self.num_trained - 1}, got {up_to}")
        sizes = list(sizes) if sizes is not None else self.sizes[: last + 1]
        if len(sizes) != last + 1:
            raise ConfigError(f"sizes must give one (height, width) per trained scale ({last + 1}), got {len(sizes)}")
        if not 0 <= start_scale <= last:
            raise ConfigError(f"start scale must be in 0..{last}, got {start_scale}")
        device = self.real.device
        output: Tensor | None = None  # the state of the scale below the next one
        previous = torch.zeros(0)
        if start_image is not None:
            self.check_image_entry(start_scale)
            # At the start scale an image scale's input is the start image itself, resized there.
            previous = resize(start_image.to(device), sizes[start_scale]).expand(num, -1, -1, -1)
        elif start_scale > 0:
            output = self.reconstruct_states(start_scale - 1)[-1].expand(num, -1, -1, -1)
        for scale in range(start_scale, last + 1):
            given = noises[scale] if noises is not None else None
            noise = given if given is not None else self.noise_like(scale, num, sizes[scale], generator)
            if scale == 0 and variation < 1.0:
                noise = self._towards_reconstruction_noise(noise.to(device), variation)
            if scale == start_scale and start_image is not None:
                output = self.stage(scale, previous, noise.to(device))
            else:
                output = self.advance(scale, output, noise.to(device), sizes[scale])
        assert output is not None
        return self.to_image(last, output)

    def check_image_entry(self, scale: int) -> None:
        """Refuse to feed an image into a cascade scale (paint, harmonization and editing start from images)."""
        if scale < self.num_cascade:
            raise ConfigError(
                f"scales 0..{self.num_cascade - 1} of this model are a feature cascade (preset 'cascade'), which "
                f"takes no image; start at scale {self.num_cascade} or later"
                + (" (this model has no image scale)" if self.num_cascade >= self.num_trained else "")
            )


def save_singan(model: SinGAN, folder: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> Path:
    """Write `model` as a model folder (config.json + model.safetensors)."""
    tensors = {f"generators.{k}": v for k, v in model.generators.state_dict().items()}
    tensors.update({f"discriminators.{k}": v for k, v in model.discriminators.state_dict().items()})
    tensors.update(real=model.real, noise_amplitudes=model.noise_amplitudes, fixed_noise=model.fixed_noise)
    if model.cascade_tail is not None:
        tensors.update({f"cascade_tail.{k}": v for k, v in model.cascade_tail.state_dict().items()})
        for scale in range(1, min(model.num_trained, model.num_cascade)):
            tensors[f"cascade_noise.{scale}"] = model.cascade_noise(scale)
    metadata = {
        "sizes": [list(size) for size in model.sizes],
        "trained_scales": model.num_trained,
        "cascade_scales": model.num_cascade,
        "noise_amplitudes": [float(a) for a in model.noise_amplitudes],
        "complete": model.num_trained == len(model.sizes),
        **(extra or {}),
    }
    return save_model_folder(folder, family=FAMILY, config=model.config.to_dict(), tensors=tensors, metadata=metadata)


def load_singan(folder: str | os.PathLike[str], device: torch.device | str = "cpu") -> SinGAN:
    """Rebuild a SinGAN from its model folder (never unpickles). Raises ModelFolderError when unusable."""
    loaded = load_model_folder(folder, family=FAMILY, device="cpu")
    try:
        config = config_from_dict(loaded.config)
        sizes = [tuple(size) for size in loaded.metadata["sizes"]]
        trained = int(loaded.metadata["trained_scales"])
        tensors = loaded.tensors
        model = SinGAN(config, sizes, tensors["real"])  # type: ignore[arg-type]
        for _ in range(trained):
            generator, discriminator = model.new_stage()
            model.generators.append(generator)
            model.discriminators.append(discriminator)
        model.generators.load_state_dict(_section(tensors, "generators."))
        model.discriminators.load_state_dict(_section(tensors, "discriminators."))
        model.noise_amplitudes = tensors["noise_amplitudes"]
        model.fixed_noise = tensors["fixed_noise"]
        if model.cascade_tail is not None:
            model.cascade_tail.load_state_dict(_section(tensors, "cascade_tail."))
            for scale in range(1, min(trained, model.num_cascade)):
                model.set_cascade_noise(scale, tensors[f"cascade_noise.{scale}"])
    except (KeyError, RuntimeError, ValueError, TypeError) as error:
        raise ModelFolderError(f"{folder} does not hold a consistent SinGAN model ({error})") from error
    return model.to(device).eval()


def _section(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    return {name[len(prefix) :]: value for name, value in tensors.items() if name.startswith(prefix)}


def to_unit(image: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1], clamped."""
    return ((image + 1) / 2).clamp(0, 1)


def from_unit(image: Tensor) -> Tensor:
    """[0, 1] -> [-1, 1]."""
    return image * 2 - 1
