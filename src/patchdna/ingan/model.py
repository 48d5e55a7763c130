"""A trained InGAN: its config, generator and training image, saved as / loaded from a model folder.

Folder layout (shared format, see `patchdna.checkpoint`): config.json {family: "ingan", config, image_size,
iterations_done, ...} + model.safetensors {"generator.<param>": ..., "image": (1, 3, H, W) in [0, 1]}.
The image is part of the model because InGAN retargets *that* image: G(x; T) needs x.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from patchdna.checkpoint import load_model_folder, read_config, save_model_folder
from patchdna.device import resolve_device
from patchdna.errors import ConfigError, ModelFolderError
from patchdna.ingan.config import InGANConfig
from patchdna.ingan.networks import Generator, MultiScaleDiscriminator, SpectralConv2d, discriminator_scales

__all__ = ["FAMILY", "InGANModel", "build_discriminator", "build_generator", "load", "read_folder_config", "save"]

FAMILY = "ingan"


def build_generator(config: InGANConfig) -> Generator:
    return Generator(
        widths=config.widths,
        bottleneck_blocks=config.bottleneck_blocks,
        bottleneck_reduction=config.bottleneck_reduction,
        entry_kernel=config.entry_kernel,
        exit_kernel=config.exit_kernel,
        norm=config.generator_norm,
        upsample_first_levels=config.upsample_first_levels,
        resize_mode=config.resize_mode,
        segment_length=config.segment_length,
        segment_slack=config.segment_slack,
        segment_overlap=config.segment_overlap,
        residual=config.residual_output,
    )


def build_discriminator(config: InGANConfig, crop_side: int) -> MultiScaleDiscriminator:
    scales = discriminator_scales(crop_side, config.min_discriminator_side, config.scale_factor)
    return MultiScaleDiscriminator(
        scales,
        config.discriminator_width,
        config.scale_factor,
        config.discriminator_spectral_norm,
        config.discriminator_gradient_gain,
    )


@dataclass
class InGANModel:
    """What `train` returns and `load` reads: everything needed to retarget `image`."""

    config: InGANConfig
    generator: Generator  # in eval mode, spectral norm folded into plain weights
    image: Tensor  # (1, 3, H, W) in [0, 1], on the generator's device
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return self.image.device

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.image.shape[-2]), int(self.image.shape[-1])


def prepare_for_inference(generator: Generator) -> Generator:
    """Eval mode, spectral norm folded into the weights (no per-call normalisation), channels-last layout.

    Channels-last made the 1024x1024 forward pass about 1.6x faster on CPU (measured, see docs/ingan.md).
    """
    generator.eval()
    for module in generator.modules():
        if isinstance(module, SpectralConv2d):
            module.fold()
    for parameter in generator.parameters():
        parameter.requires_grad_(False)
    return generator.to(memory_format=torch.channels_last)  # type: ignore[call-overload]


def save(
    folder: str | os.PathLike[str],
    config: InGANConfig,
    generator: Generator,
    image: Tensor,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write a model folder from a (training-mode) generator's state and the training image."""
    tensors = {f"generator.{k}": v for k, v in generator.state_dict().items()}
    tensors["image"] = image.detach().float().cpu()
    meta = {"image_size": list(image.shape[-2:]), **(metadata or {})}
    return save_model_folder(folder, family=FAMILY, config=config.to_dict(), tensors=tensors, metadata=meta)


def read_folder_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The stored config dict of an InGAN model folder (used by `--resume`)."""
    payload = read_config(folder)
    if payload["family"] != FAMILY:
        raise ModelFolderError(f"{folder} holds a {payload['family']!r} model, not an InGAN model")
    return dict(payload["config"])


def load(folder: str | os.PathLike[str], device: str | torch.device = "auto") -> InGANModel:
    """Read an InGAN model folder; any damage or a folder of another family raises `ModelFolderError`."""
    device = resolve_device(device) if isinstance(device, str) else device
    loaded = load_model_folder(folder, family=FAMILY, device="cpu")
    try:
        config = InGANConfig.from_dict(loaded.config)
    except (ConfigError, TypeError) as error:
        raise ModelFolderError(f"{folder}: bad InGAN config ({error})") from error
    if "image" not in loaded.tensors:
        raise ModelFolderError(f"{folder}: model.safetensors has no 'image' tensor")
    generator = build_generator(config)
    state = {k[len("generator.") :]: v for k, v in loaded.tensors.items() if k.startswith("generator.")}
    try:
        generator.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise ModelFolderError(f"{folder}: weights do not match the config ({error})") from error
    generator = prepare_for_inference(generator.to(device))
    image = loaded.tensors["image"].to(device)
    return InGANModel(config=config, generator=generator, image=image, metadata=loaded.metadata)
