"""Quality metrics: one ruler for every quality claim of the project.

`patch_swd`, `blur_baseline`, `anisotropy_distortion` and `diversity` follow ../shared/tools/patchmetrics.py
exactly (same patches, projections and random streams), so numbers agree with the shared ruler.
`sifid` (SinGAN's single-image FID), `bidirectional_similarity` (completeness/coherence), `psnr` and `ssim`
complete the standard set; `patchdna.metrics.evaluate` scores images and folders with several at once.
"""

from patchdna.metrics.bds import BidirectionalSimilarity, bidirectional_similarity
from patchdna.metrics.fidelity import psnr, ssim
from patchdna.metrics.patch import anisotropy_distortion, blur_baseline, diversity, patch_swd
from patchdna.metrics.sifid import SIFIDWeightsError, load_sifid_extractor, sifid

__all__ = [
    "BidirectionalSimilarity",
    "SIFIDWeightsError",
    "anisotropy_distortion",
    "bidirectional_similarity",
    "blur_baseline",
    "diversity",
    "load_sifid_extractor",
    "patch_swd",
    "psnr",
    "sifid",
    "ssim",
]
