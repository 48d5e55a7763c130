"""patchdna: learn the internal patch statistics ("DNA") of images with GANs.

Layers, bottom to top: `allocator`, `io`, `ops`, `layers`, `checkpoint`, `metrics` (shared); `singan`, `ingan`,
`instagan` (one package per model family; families never import each other); `cli`, `ui` (thin surfaces).
"""

from patchdna.allocator import tune_cpu_allocator
from patchdna.errors import ConfigError, InputImageError, ModelFolderError, PatchDNAError

# Steady CPU inference speed: glibc's adaptive malloc thresholds otherwise page-fault through fresh memory on
# some calls and not others (see patchdna.allocator; PATCHDNA_DEFAULT_MALLOC=1 opts out).
tune_cpu_allocator()

__version__ = "0.1.0"

__all__ = ["ConfigError", "InputImageError", "ModelFolderError", "PatchDNAError", "__version__"]
