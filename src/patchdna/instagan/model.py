"""The InstaGAN model (two generators, two discriminators), built from a config and saved as a model folder."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from patchdna.checkpoint import load_model_folder, save_model_folder
from patchdna.errors import ModelFolderError
from patchdna.instagan.config import InstaGANConfig
from patchdna.instagan.networks import Discriminator, Generator
from patchdna.layers import init_gan_weights

__all__ = ["FAMILY", "InstaGAN", "build", "load", "save"]

FAMILY = "instagan"


class InstaGAN(nn.Module):
    """generator_ab: A -> B, generator_ba: B -> A; discriminator_a judges A images, discriminator_b B images."""

    def __init__(self, config: InstaGANConfig) -> None:
        super().__init__()
        self.config = config
        self.generator_ab = Generator(config.generator_width, config.residual_blocks)
        self.generator_ba = Generator(config.generator_width, config.residual_blocks)
        self.discriminator_a = Discriminator(config.discriminator_width, config.discriminator_layers)
        self.discriminator_b = Discriminator(config.discriminator_width, config.discriminator_layers)

    def generators(self) -> list[nn.Module]:
        return [self.generator_ab, self.generator_ba]

    def discriminators(self) -> list[nn.Module]:
        return [self.discriminator_a, self.discriminator_b]


def build(config: InstaGANConfig, *, seed: int | None = None) -> InstaGAN:
    """A freshly initialised model; `seed` makes the initial weights reproducible."""
    if seed is not None:
        torch.manual_seed(seed)
    model = InstaGAN(config)
    init_gan_weights(model)  # CycleGAN's N(0, 0.02); its InstanceNorms have no affine weights
    return model


def save(model: InstaGAN, folder: str | os.PathLike[str], metadata: Mapping[str, Any] | None = None) -> Path:
    """Write `config.json` + `model.safetensors` (all four networks) to `folder`."""
    return save_model_folder(
        folder, family=FAMILY, config=model.config.to_dict(), tensors=model.state_dict(), metadata=metadata
    )


def load(folder: str | os.PathLike[str], device: torch.device | str = "cpu") -> InstaGAN:
    """Rebuild a model from its folder (never unpickles); a damaged folder raises `ModelFolderError`."""
    loaded = load_model_folder(folder, family=FAMILY, device=device)
    config = InstaGANConfig.from_dict(loaded.config)
    model = InstaGAN(config).to(device)
    try:
        model.load_state_dict(loaded.tensors)
    except RuntimeError as error:
        raise ModelFolderError(f"{folder}: weights do not match the config ({str(error).splitlines()[0]})") from error
    return model.eval()
