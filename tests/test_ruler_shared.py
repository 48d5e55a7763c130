"""patchdna.metrics.patch is the project's ruler: same definitions as ../shared/tools/patchmetrics.py.

The comparison with the shared file runs only where ../shared exists (developers' machines and CI); the
property checks below need nothing but torch.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from patchdna.metrics import anisotropy_distortion, blur_baseline, diversity, patch_swd

SHARED_RULER = Path(__file__).resolve().parents[2] / "shared" / "tools" / "patchmetrics.py"


def _images():
    generator = torch.Generator().manual_seed(0)
    real = torch.rand(1, 3, 48, 64, generator=generator)
    real = torch.nn.functional.avg_pool2d(real, 3, 1, 1)  # some spatial correlation
    fake = (real + 0.1 * torch.randn(real.shape, generator=generator)).clamp(0, 1)
    return real, fake


@pytest.mark.skipif(not SHARED_RULER.is_file(), reason="../shared/tools/patchmetrics.py not present")
def test_identical_to_shared_ruler():
    spec = importlib.util.spec_from_file_location("patchmetrics", SHARED_RULER)
    shared = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shared)
    real, fake = _images()
    wide = torch.nn.functional.interpolate(fake, size=(48, 100), mode="bicubic", align_corners=False).clamp(0, 1)
    assert patch_swd(real, fake) == pytest.approx(shared.patch_swd(real, fake), rel=1e-6)
    assert patch_swd(real, wide) == pytest.approx(shared.patch_swd(real, wide), rel=1e-6)
    assert blur_baseline(real) == pytest.approx(shared.blur_baseline(real), rel=1e-6)
    assert anisotropy_distortion(real, wide) == pytest.approx(shared.anisotropy_distortion(real, wide), rel=1e-6)
    assert diversity([fake, real], real) == pytest.approx(shared.diversity([fake, real], real), rel=1e-6)


def test_ruler_properties():
    real, fake = _images()
    assert patch_swd(real, real) == pytest.approx(0.0, abs=1e-6)
    assert patch_swd(real, fake) > patch_swd(real, real)
    assert diversity([real, real], real) == pytest.approx(0.0, abs=1e-6)
    stretched = torch.nn.functional.interpolate(real, size=(48, 128), mode="bicubic", align_corners=False)
    assert anisotropy_distortion(real, stretched) > anisotropy_distortion(real, real) + 0.1
    with pytest.raises(ValueError, match="short side"):
        patch_swd(real[..., :16, :16], real[..., :16, :16])
