"""Convert a COCO-style instances JSON (polygons and RLE) into the official InstaGAN layout."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from patchdna.instagan.data import DatasetError

__all__ = ["coco_to_folder", "decode_rle", "polygons_to_mask"]


def _counts_from_string(text: str) -> list[int]:
    """COCO's compressed RLE string (6-bit chunks, deltas from the count two back) -> run lengths."""
    counts: list[int] = []
    position = 0
    while position < len(text):
        value, shift, more = 0, 0, True
        while more:
            chunk = ord(text[position]) - 48
            value |= (chunk & 0x1F) << (5 * shift)
            more = bool(chunk & 0x20)
            position += 1
            shift += 1
            if not more and chunk & 0x10:
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


def decode_rle(rle: dict[str, Any]) -> np.ndarray:
    """{'size': [h, w], 'counts': list or compressed str} -> (h, w) uint8 mask (runs are column-major)."""
    height, width = (int(v) for v in rle["size"])
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    runs = _counts_from_string(counts) if isinstance(counts, str) else [int(c) for c in counts]
    flat = np.zeros(height * width, dtype=np.uint8)
    position, value = 0, 0
    for run in runs:
        flat[position : position + run] = value
        position += run
        value = 1 - value
    if position != height * width:
        raise DatasetError(f"RLE covers {position} pixels but size is {height}x{width}")
    return flat.reshape(width, height).T


def polygons_to_mask(polygons: Sequence[Sequence[float]], height: int, width: int) -> np.ndarray:
    """COCO polygons [[x0, y0, x1, y1, ...], ...] -> (h, w) uint8 mask (union of the polygons)."""
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for polygon in polygons:
        if len(polygon) >= 6:
            draw.polygon([(float(polygon[i]), float(polygon[i + 1])) for i in range(0, len(polygon), 2)], fill=1)
    return np.asarray(canvas, dtype=np.uint8)


def _mask(annotation: dict[str, Any], height: int, width: int) -> np.ndarray:
    segmentation = annotation.get("segmentation")
    if isinstance(segmentation, list):
        return polygons_to_mask(segmentation, height, width)
    if isinstance(segmentation, dict):
        return decode_rle(segmentation)
    raise DatasetError(f"annotation {annotation.get('id')} has no polygon or RLE segmentation")


def coco_to_folder(
    instances_json: str | os.PathLike[str],
    images_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    categories_a: Sequence[str],
    categories_b: Sequence[str],
    phase: str = "train",
    min_area: float = 0.0,
    include_crowd: bool = False,
) -> tuple[int, int]:
    """Write OUT/<phase>A(+_seg) from images holding `categories_a` and OUT/<phase>B from `categories_b`.

    Images with instances of both domains are skipped (ambiguous). Instances smaller than `min_area` pixels
    and crowd regions (unless `include_crowd`) are dropped. Returns the number of images written (A, B).
    """
    try:
        data = json.loads(Path(instances_json).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise DatasetError(f"cannot read COCO instances file {instances_json} ({error})") from error
    names = {c["id"]: c["name"] for c in data.get("categories", [])}
    wanted_a = {i for i, n in names.items() if n in set(categories_a)}
    wanted_b = {i for i, n in names.items() if n in set(categories_b)}
    for wanted, asked in ((wanted_a, categories_a), (wanted_b, categories_b)):
        if not wanted:
            raise DatasetError(
                f"no category named {', '.join(asked)} in {instances_json} (has {', '.join(names.values())})"
            )
    by_image: dict[int, list[dict[str, Any]]] = {}
    for annotation in data.get("annotations", []):
        if annotation.get("iscrowd", 0) and not include_crowd:
            continue
        if annotation.get("area", float("inf")) < min_area:
            continue
        if annotation["category_id"] in wanted_a | wanted_b:
            by_image.setdefault(annotation["image_id"], []).append(annotation)
    out, images_dir = Path(out), Path(images_dir)
    written = {"A": 0, "B": 0}
    for info in data.get("images", []):
        annotations = by_image.get(info["id"], [])
        domains = {"A" if a["category_id"] in wanted_a else "B" for a in annotations}
        if len(domains) != 1:
            continue
        domain = domains.pop()
        source = images_dir / info["file_name"]
        if not source.is_file():
            raise DatasetError(f"image {source} named in {instances_json} not found")
        stem = Path(info["file_name"]).stem
        with Image.open(source) as image:
            rgb = image.convert("RGB")
        height, width = rgb.height, rgb.width
        annotations.sort(key=lambda a: -float(a.get("area", 0)))
        (out / f"{phase}{domain}").mkdir(parents=True, exist_ok=True)
        (out / f"{phase}{domain}_seg").mkdir(parents=True, exist_ok=True)
        rgb.save(out / f"{phase}{domain}" / f"{stem}.png")
        for k, annotation in enumerate(annotations):
            mask = _mask(annotation, height, width)
            Image.fromarray(mask * 255).save(out / f"{phase}{domain}_seg" / f"{stem}_{k}.png")
        written[domain] += 1
    return written["A"], written["B"]
