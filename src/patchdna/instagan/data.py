"""InstaGAN datasets: images with one mask file per instance.

Layouts read (any phase name: train, test, sample, ...; any number of masks; any image size):
    official   ROOT/<phase>A/<id>.png + ROOT/<phase>A_seg/<id>_<k>.png  (k = 0, 1, ...), same for B
    folders    IMAGES/<id>.<ext> + MASKS/<id>_<k>.png  or  MASKS/<id>/<anything>.png (one file per instance)
A COCO instances JSON converts to the official layout with `coco_to_folder` (see `coco.py`).

Scanning validates the names and sizes (reading only file headers) and raises `DatasetError` with the file to
fix, where the official code throws IndexError. Samples are images and masks in [-1, 1] (an empty mask slot
is all -1), masks sorted largest first, cut to `ins_max` slots, with one random crop and flip for all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor

from patchdna.errors import InputImageError
from patchdna.io import IMAGE_SUFFIXES, load_image, load_mask
from patchdna.ops import resize

__all__ = [
    "MASK_NAME",
    "DatasetError",
    "InstanceDataset",
    "Sample",
    "image_files",
    "largest_first",
    "load_masks",
    "scan_folders",
    "scan_official",
    "to_signed",
    "to_unit",
]

MASK_NAME = re.compile(r"^(?P<id>.+)_(?P<k>\d+)$")


class DatasetError(InputImageError):
    """A dataset folder that cannot be used as it is (missing, misnamed or mis-sized masks)."""


@dataclass(frozen=True)
class Sample:
    """One image and its instance mask files, in instance order."""

    id: str
    image: Path
    masks: tuple[Path, ...]


def image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _size(path: Path) -> tuple[int, int]:
    try:
        with Image.open(path) as image:
            return image.size  # (width, height)
    except (OSError, ValueError) as error:
        raise DatasetError(f"cannot read {path} ({error})") from error


def scan_folders(image_dir: str | Path, mask_dir: str | Path, *, check_sizes: bool = True) -> list[Sample]:
    """Pair every image of `image_dir` with its masks in `mask_dir` (`<id>_<k>.png` files or `<id>/` folders).

    Raises `DatasetError` for a missing folder, an image without masks, a gap in the numbering (a mask
    missing), a mask file that names no image (misnamed), or a mask of another size than its image.
    """
    image_dir, mask_dir = Path(image_dir), Path(mask_dir)
    if not image_dir.is_dir():
        raise DatasetError(f"image folder not found: {image_dir}")
    if not mask_dir.is_dir():
        raise DatasetError(f"mask folder not found: {mask_dir} (expected one mask file per instance of each image)")
    images = image_files(image_dir)
    if not images:
        raise DatasetError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {image_dir}")
    ids = {p.stem: p for p in images}
    numbered: dict[str, dict[int, Path]] = {}
    for path in image_files(mask_dir):
        match = MASK_NAME.match(path.stem)
        if match is None or match["id"] not in ids:
            raise DatasetError(
                f"mask {path} matches no image of {image_dir}: name masks <image id>_<k>{path.suffix} "
                f"with k = 0, 1, ... (image ids look like {next(iter(ids))!r})"
            )
        numbered.setdefault(match["id"], {})[int(match["k"])] = path
    samples = []
    for stem, image in ids.items():
        if stem in numbered:
            found = numbered[stem]
            expected = list(range(len(found)))
            if sorted(found) != expected:
                missing = next(k for k in range(max(found) + 1) if k not in found)
                raise DatasetError(
                    f"mask {mask_dir / f'{stem}_{missing}.png'} is missing: {image.name} has masks numbered "
                    f"{sorted(found)}; number them 0..{len(found) - 1} without gaps"
                )
            masks = tuple(found[k] for k in expected)
        elif (mask_dir / stem).is_dir():
            masks = tuple(image_files(mask_dir / stem))
        else:
            masks = ()
        if not masks:
            raise DatasetError(
                f"image {image} has no masks: expected {mask_dir / f'{stem}_0.png'} (one file per instance) "
                f"or a folder {mask_dir / stem}/; remove the image or add its masks"
            )
        if check_sizes:
            size = _size(image)
            for mask in masks:
                if _size(mask) != size:
                    width, height = _size(mask)
                    raise DatasetError(
                        f"mask {mask} is {width}x{height} but its image {image.name} is {size[0]}x{size[1]}; "
                        "masks must have their image's size"
                    )
        samples.append(Sample(stem, image, masks))
    return samples


def scan_official(root: str | Path, phase: str, domain: str) -> list[Sample]:
    """The official layout: ROOT/<phase><domain>/ and ROOT/<phase><domain>_seg/ (domain 'A' or 'B')."""
    root = Path(root)
    image_dir = root / f"{phase}{domain}"
    if not image_dir.is_dir():
        present = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise DatasetError(
            f"{image_dir} not found; the official layout is ROOT/{phase}A, ROOT/{phase}A_seg, ROOT/{phase}B, "
            f"ROOT/{phase}B_seg (found: {', '.join(present) or 'nothing'})"
        )
    return scan_folders(image_dir, root / f"{phase}{domain}_seg")


def load_masks(paths: Sequence[str | Path], size: tuple[int, int]) -> Tensor:
    """Mask files -> (N, H, W) in [0, 1] at `size` = (H, W)."""
    if not paths:
        return torch.zeros((0, *size))
    return torch.cat([load_mask(p, size=size)[0] for p in paths], dim=0)


def to_signed(x: Tensor) -> Tensor:
    """[0, 1] -> [-1, 1] (the networks' range)."""
    return x * 2 - 1


def to_unit(x: Tensor) -> Tensor:
    """[-1, 1] -> [0, 1]."""
    return ((x + 1) / 2).clamp(0, 1)


def largest_first(masks: Tensor, limit: int | None = None) -> Tensor:
    """(N, H, W) masks in [0, 1] -> the non-empty ones, largest area first, at most `limit`."""
    areas = masks.flatten(1).sum(1)
    order = torch.argsort(areas, descending=True, stable=True)
    order = order[areas[order] > 0]
    return masks[order[:limit] if limit is not None else order]


class InstanceDataset:
    """Images and masks of one domain, resized to `load_size` once and kept in memory (small datasets).

    `item(index, generator)` -> image (3, H, W), masks (ins_max, H, W), valid (ins_max,) at `crop_size`.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        *,
        load_size: tuple[int, int],
        crop_size: tuple[int, int],
        ins_max: int,
        flip: bool = True,
    ) -> None:
        if not samples:
            raise DatasetError("the dataset is empty")
        self.samples = list(samples)
        self.load_size, self.crop_size, self.ins_max, self.flip = load_size, crop_size, ins_max, flip
        self._cache: dict[int, tuple[Tensor, Tensor]] = {}

    def __len__(self) -> int:
        return len(self.samples)

    def _load(self, index: int) -> tuple[Tensor, Tensor]:
        if index not in self._cache:
            sample = self.samples[index]
            image = resize(load_image(sample.image), self.load_size).clamp(0, 1)[0]
            masks = largest_first(load_masks(sample.masks, self.load_size), self.ins_max)
            self._cache[index] = (image, masks)
        return self._cache[index]

    def item(self, index: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
        image, masks = self._load(index)
        (load_h, load_w), (crop_h, crop_w) = self.load_size, self.crop_size
        top = int(torch.randint(0, load_h - crop_h + 1, (1,), generator=generator))
        left = int(torch.randint(0, load_w - crop_w + 1, (1,), generator=generator))
        flip = self.flip and bool(torch.rand((), generator=generator) < 0.5)
        image = image[:, top : top + crop_h, left : left + crop_w]
        masks = masks[:, top : top + crop_h, left : left + crop_w]
        if flip:
            image, masks = image.flip(-1), masks.flip(-1)
        slots = torch.zeros((self.ins_max, crop_h, crop_w))
        slots[: masks.shape[0]] = masks
        # A mask cropped away entirely becomes an empty slot, like a missing one.
        valid = slots.flatten(1).amax(1) > 0.5 / 255
        slots[~valid] = 0.0
        return to_signed(image), to_signed(slots), valid

    def batch(self, indices: Sequence[int], seeds: Sequence[int]) -> tuple[Tensor, Tensor, Tensor]:
        """Stack items; item i is cropped with its own seed so a sample's crop does not depend on its rank."""
        items = [self.item(i, torch.Generator().manual_seed(s)) for i, s in zip(indices, seeds)]
        images, masks, valid = zip(*items)
        return torch.stack(images), torch.stack(masks), torch.stack(valid)
