"""Shared fixtures: tiny images made on the fly (the suite never needs ../shared)."""

from __future__ import annotations

import os

import pytest
import torch
from PIL import Image

# Tiny tensors gain nothing from intra-op threads, and OpenMP's spinning makes them crawl when the machine
# is busy; one thread keeps the suite fast and its timing stable. Subprocesses inherit the variable.
torch.set_num_threads(1)
os.environ.setdefault("OMP_NUM_THREADS", "1")


from images_fixtures import make_texture  # noqa: E402


@pytest.fixture
def texture_path(tmp_path):
    path = tmp_path / "texture.png"
    Image.fromarray(make_texture()).save(path)
    return path


@pytest.fixture
def texture_tensor() -> torch.Tensor:
    return torch.from_numpy(make_texture()).permute(2, 0, 1)[None].float() / 255
