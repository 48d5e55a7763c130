"""patchdna.metrics must keep measuring exactly what the shared ruler (../shared/tools/patchmetrics.py) does.

The reference values were produced by the shared ruler itself on these synthetic images (no ../shared needed
here); benchmarks/ruler_agreement.py repeats the comparison on real user-study images.
"""

import pytest
from metrics_fixtures import blur, textured

from patchdna.metrics import blur_baseline, diversity, patch_swd


def test_patch_swd_and_diversity_equal_the_shared_ruler():
    real, other, blurred = textured(64), textured(64, seed=1), blur(textured(64))
    assert patch_swd(real, other) == pytest.approx(0.2790491655468941, rel=1e-4)
    assert patch_swd(real, blurred) == pytest.approx(1.5954961255192757, rel=1e-4)
    assert diversity([other, blurred, textured(48, seed=2)], real) == pytest.approx(0.5019534826278687, rel=1e-4)
    assert blur_baseline(real) == pytest.approx(1.2994091818109155, rel=1e-4)
