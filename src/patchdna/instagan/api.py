"""File-level helpers over the Python API (used by the CLI and the web UI)."""

from __future__ import annotations

import os
from pathlib import Path

from patchdna.instagan.data import MASK_NAME, DatasetError, Sample, image_files, load_masks, scan_folders
from patchdna.instagan.inference import Direction, Translation, translate
from patchdna.instagan.model import InstaGAN
from patchdna.instagan.visualize import comparison_sheet
from patchdna.io import load_image, save_image

__all__ = ["find_samples", "translate_files"]


def find_samples(images: str | os.PathLike[str], mask_dir: str | os.PathLike[str]) -> list[Sample]:
    """One image file or a folder of images, each with its masks in `mask_dir` (see `scan_folders`)."""
    images, mask_dir = Path(images), Path(mask_dir)
    if images.is_dir():
        return scan_folders(images, mask_dir)
    if not images.is_file():
        raise DatasetError(f"image not found: {images}")
    if not mask_dir.is_dir():
        raise DatasetError(f"mask folder not found: {mask_dir}")
    stem = images.stem
    numbered = {}
    for path in image_files(mask_dir):
        match = MASK_NAME.match(path.stem)
        if match is not None and match["id"] == stem:
            numbered[int(match["k"])] = path
    masks = [numbered[k] for k in sorted(numbered)]
    if not masks and (mask_dir / stem).is_dir():
        masks = image_files(mask_dir / stem)
    if not masks:
        raise DatasetError(f"no masks for {images.name} in {mask_dir}: expected {stem}_0.png, {stem}_1.png, ...")
    return [Sample(stem, images, tuple(masks))]


def translate_files(
    model: InstaGAN,
    samples: list[Sample],
    out: str | os.PathLike[str],
    *,
    direction: Direction = "AtoB",
    ins_per: int = 2,
    max_size: int | None = None,
) -> list[Path]:
    """Translate each sample; writes OUT/<id>.png, OUT/<id>_<k>.png (masks) and OUT/<id>_sheet.png."""
    out = Path(out)
    written = []
    for sample in samples:
        image = load_image(sample.image)
        masks = load_masks(sample.masks, (image.shape[-2], image.shape[-1]))[None]
        result: Translation = translate(model, image, masks, direction, ins_per, max_size=max_size)
        written.append(save_image(result.image, out / f"{sample.id}.png"))
        for k in range(result.masks.shape[1]):
            save_image(result.masks[:, k : k + 1], out / f"{sample.id}_{k}.png")
        save_image(comparison_sheet([(image, masks, result.image, result.masks)]), out / f"{sample.id}_sheet.png")
    return written
