"""Quality metrics: one ruler for every quality claim of the project.

`patch_swd`, `blur_baseline`, `anisotropy_distortion` and `diversity` follow ../shared/tools/patchmetrics.py
exactly (same patches, projections and random streams), so numbers agree with the shared ruler.
"""

from patchdna.metrics.patch import anisotropy_distortion, blur_baseline, diversity, patch_swd

__all__ = ["anisotropy_distortion", "blur_baseline", "diversity", "patch_swd"]
