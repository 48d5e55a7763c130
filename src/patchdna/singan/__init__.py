"""SinGAN (Rott Shaham, Dekel, Michaeli, ICCV 2019): a coarse-to-fine pyramid of patch GANs on one image.

Python API:
    model = patchdna.singan.train("photo.jpg", "runs/photo", preset_name="fast", seed=0)
    model = patchdna.singan.load("runs/photo")
    images = patchdna.singan.sample(model, 8, scale_w=2.0, seed=1)      # (8, 3, H, 2W) in [0, 1]
Applications (docs/singan_apps.md):
    big = patchdna.singan.super_resolve("small.png", 4)                  # (1, 3, 4h, 4w)
    out = patchdna.singan.paint_to_image(model, paint, start_scale=2, quantize=True)
    result = patchdna.singan.harmonize(model, naive, mask, start_scale=3)  # result.blended, result.raw
    result = patchdna.singan.edit(model, edited, mask, start_scale=3)
    frames = patchdna.singan.animate(model, "walk.mp4", frames=100, fps=10)
"""

from patchdna.singan.animation import animate, animation_config, train_for_animation
from patchdna.singan.config import PRESETS, SinGANConfig, preset
from patchdna.singan.harmonize import AppResult, edit, harmonize
from patchdna.singan.model import SinGAN, load_singan, save_singan
from patchdna.singan.paint import paint_to_image
from patchdna.singan.pyramid import pyramid_sizes
from patchdna.singan.sampling import reconstruction, sample
from patchdna.singan.superres import sr_config, super_resolve, upscale
from patchdna.singan.training import TrainingCancelled, TrainingEvent, train

load = load_singan
save = save_singan

__all__ = [
    "PRESETS",
    "AppResult",
    "SinGAN",
    "SinGANConfig",
    "TrainingCancelled",
    "TrainingEvent",
    "animate",
    "animation_config",
    "edit",
    "harmonize",
    "load",
    "load_singan",
    "paint_to_image",
    "preset",
    "pyramid_sizes",
    "reconstruction",
    "sample",
    "save",
    "save_singan",
    "sr_config",
    "super_resolve",
    "train",
    "train_for_animation",
    "upscale",
]
