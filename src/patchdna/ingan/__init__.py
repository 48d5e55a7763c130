"""InGAN: retarget one image to any size and shape in a single forward pass (Shocher et al., ICCV 2019).

Python API (the CLI and the web UI are thin layers over these):

    from patchdna import ingan
    model = ingan.train("photo.jpg", "runs/photo", ingan.preset("fast"))   # or ingan.load("runs/photo")
    wide = ingan.retarget(model, (250, 500))                # (1, 3, 250, 500) in [0, 1]
    grid = ingan.collage(model)                             # 5x5 scales, input in the centre
    ingan.video(model, "loop.mp4")
    rgba = ingan.warp_output(model, ingan.shift_matrix(0.2, -0.2), background=None)
"""

from patchdna.ingan.config import InGANConfig, preset
from patchdna.ingan.inference import (
    COLLAGE_SCALES,
    affine_matrix,
    collage,
    homography_matrix,
    retarget,
    retarget_scales,
    shift_matrix,
    video,
    video_frames,
    warp_output,
)
from patchdna.ingan.model import InGANModel, load
from patchdna.ingan.training import train

__all__ = [
    "COLLAGE_SCALES",
    "InGANConfig",
    "InGANModel",
    "affine_matrix",
    "collage",
    "homography_matrix",
    "load",
    "preset",
    "retarget",
    "retarget_scales",
    "shift_matrix",
    "train",
    "video",
    "video_frames",
    "warp_output",
]
