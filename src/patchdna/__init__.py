"""patchdna: learn the internal patch statistics ("DNA") of images with GANs.

Layers, bottom to top: `io`, `ops`, `layers`, `checkpoint`, `metrics` (shared); `singan`, `ingan`, `instagan`
(one package per model family; families never import each other); `cli`, `ui` (thin surfaces).
"""

from patchdna.errors import ConfigError, InputImageError, ModelFolderError, PatchDNAError

__version__ = "0.1.0"

__all__ = ["ConfigError", "InputImageError", "ModelFolderError", "PatchDNAError", "__version__"]
