"""InstaGAN (Mo, Cho, Shin, ICLR 2019): instance-aware translation between two image sets.

Python API (what the CLI and the web UI call):
    model = load(folder)                                    # a trained model folder
    result = translate(model, image, masks, "AtoB", ins_per=2)  # image (1,3,H,W), masks (1,N,H,W) in [0, 1]
    result.image, result.masks                              # translated, masks in the given order
    train(InstaGANConfig.preset("fast"), data_a, data_b, out)  # data: InstanceDataset(scan_official(...))
"""

from patchdna.instagan.api import find_samples, translate_files
from patchdna.instagan.coco import coco_to_folder
from patchdna.instagan.config import PRESETS, InstaGANConfig
from patchdna.instagan.data import DatasetError, InstanceDataset, Sample, load_masks, scan_folders, scan_official
from patchdna.instagan.inference import Translation, translate
from patchdna.instagan.model import InstaGAN, build, load, save
from patchdna.instagan.networks import Discriminator, Generator
from patchdna.instagan.shapes import classify_shape, make_shapes
from patchdna.instagan.train import train

__all__ = [
    "PRESETS",
    "DatasetError",
    "Discriminator",
    "Generator",
    "InstaGAN",
    "InstaGANConfig",
    "InstanceDataset",
    "Sample",
    "Translation",
    "build",
    "classify_shape",
    "coco_to_folder",
    "find_samples",
    "load",
    "load_masks",
    "make_shapes",
    "save",
    "scan_folders",
    "scan_official",
    "train",
    "translate",
    "translate_files",
]
