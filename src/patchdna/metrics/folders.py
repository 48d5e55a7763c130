"""Pairing a folder of real images with a folder of samples per method (the user-study layout).

Layout (that of ConSinGAN's User-Studies sets):
    Real/0.jpg  Real/1.jpg ...                  one real image per index (any image suffix)
    Method/0.jpg ...                            one sample per real image, same stem, or
    Method/0_0.jpg Method/0_1.jpg ...           several samples per real image: STEM_K with K = 0, 1, ...
Every real image needs at least one sample and every file in a method folder must belong to a real image;
anything else raises `FolderLayoutError` naming the files, so a half-copied folder is never scored silently.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from patchdna.errors import PatchDNAError
from patchdna.io import IMAGE_SUFFIXES

__all__ = ["FolderLayoutError", "ImageGroup", "list_images", "pair_folders"]

_SAMPLE = re.compile(r"^(?P<stem>.+)_(?P<k>\d+)$")


class FolderLayoutError(PatchDNAError):
    """Folders whose file names do not pair up as Real/i.* with Method/i.* or Method/i_k.*."""


@dataclass(frozen=True)
class ImageGroup:
    """One real image and the samples a method made of it, in sample order."""

    name: str  # the real image's stem, e.g. "12"
    real: Path
    samples: tuple[Path, ...]


def _natural_key(text: str) -> tuple[int, int | str]:
    return (0, int(text)) if text.isdigit() else (1, text)


def list_images(folder: str | Path) -> dict[str, Path]:
    """{stem: path} of the image files directly in `folder`; two files with one stem are an error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FolderLayoutError(f"not a folder: {folder}")
    images: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
            continue
        if path.stem in images:
            raise FolderLayoutError(f"two images with the same name in {folder}: {images[path.stem].name}, {path.name}")
        images[path.stem] = path
    if not images:
        raise FolderLayoutError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    return images


def _examples(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def pair_folders(real_folder: str | Path, method_folder: str | Path) -> list[ImageGroup]:
    """Match Real/i.* with Method/i.* or Method/i_k.*; groups sorted by name (numerically when numbers)."""
    reals = list_images(real_folder)
    samples: dict[str, list[tuple[int, Path]]] = {name: [] for name in reals}
    unmatched = []
    for stem, path in list_images(method_folder).items():
        if stem in reals:  # an exact stem wins, so a real image named "3_1" still pairs with "3_1.png"
            samples[stem].append((-1, path))
            continue
        match = _SAMPLE.match(stem)
        if match and match.group("stem") in reals:
            samples[match.group("stem")].append((int(match.group("k")), path))
        else:
            unmatched.append(path.name)
    if unmatched:
        raise FolderLayoutError(
            f"{len(unmatched)} file(s) in {method_folder} match no image in {real_folder} (expected NAME.* or "
            f"NAME_K.* for a real NAME.*): {_examples(sorted(unmatched, key=_natural_key))}"
        )
    missing = [reals[name].name for name, found in samples.items() if not found]
    if missing:
        raise FolderLayoutError(
            f"{len(missing)} real image(s) have no sample in {method_folder}: "
            f"{_examples(sorted(missing, key=_natural_key))}"
        )
    return [
        ImageGroup(name, reals[name], tuple(path for _, path in sorted(samples[name], key=lambda item: item[0])))
        for name in sorted(reals, key=_natural_key)
    ]
