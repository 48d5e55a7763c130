"""SinGAN (Rott Shaham, Dekel, Michaeli, ICCV 2019): a coarse-to-fine pyramid of patch GANs on one image.

Python API:
    model = patchdna.singan.train("photo.jpg", "runs/photo", preset_name="fast", seed=0)
    model = patchdna.singan.load("runs/photo")
    images = patchdna.singan.sample(model, 8, scale_w=2.0, seed=1)      # (8, 3, H, 2W) in [0, 1]
"""

from patchdna.singan.config import PRESETS, SinGANConfig, preset
from patchdna.singan.model import SinGAN, load_singan, save_singan
from patchdna.singan.pyramid import pyramid_sizes
from patchdna.singan.sampling import reconstruction, sample
from patchdna.singan.training import TrainingCancelled, TrainingEvent, train

load = load_singan
save = save_singan

__all__ = [
    "PRESETS",
    "SinGAN",
    "SinGANConfig",
    "TrainingCancelled",
    "TrainingEvent",
    "load",
    "load_singan",
    "preset",
    "pyramid_sizes",
    "reconstruction",
    "sample",
    "save",
    "save_singan",
    "train",
]
