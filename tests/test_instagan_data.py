"""InstaGAN datasets: layouts, validation messages, joint crop/flip, COCO conversion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from patchdna.instagan import DatasetError, InstanceDataset, coco_to_folder, scan_folders, scan_official
from patchdna.instagan.coco import decode_rle


def _write(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _dataset(root: Path, phase: str = "train", count: int = 2, size: int = 20) -> None:
    rng = np.random.default_rng(0)
    for domain in "AB":
        for i in range(count):
            _write(root / f"{phase}{domain}" / f"img{i}.png", rng.integers(0, 255, (size, size + 4, 3), dtype=np.uint8))
            for k in range(i + 1):
                mask = np.zeros((size, size + 4), dtype=np.uint8)
                mask[2 + k : 8 + 2 * k, 3 : 9 + k] = 255
                _write(root / f"{phase}{domain}_seg" / f"img{i}_{k}.png", mask)


def test_official_layout_with_any_phase_name(tmp_path: Path) -> None:
    _dataset(tmp_path, phase="sample")
    samples = scan_official(tmp_path, "sample", "A")
    assert [s.id for s in samples] == ["img0", "img1"]
    assert [len(s.masks) for s in samples] == [1, 2]


def test_missing_phase_folder_names_the_layout(tmp_path: Path) -> None:
    _dataset(tmp_path)
    with pytest.raises(DatasetError, match="testA not found.*official layout"):
        scan_official(tmp_path, "test", "A")


def test_gap_in_mask_numbers_is_a_missing_mask(tmp_path: Path) -> None:
    _dataset(tmp_path)
    (tmp_path / "trainA_seg" / "img1_0.png").rename(tmp_path / "trainA_seg" / "img1_2.png")
    with pytest.raises(DatasetError, match=r"img1_0\.png is missing"):
        scan_official(tmp_path, "train", "A")


def test_misnamed_mask_is_reported(tmp_path: Path) -> None:
    _dataset(tmp_path)
    (tmp_path / "trainA_seg" / "img1_1.png").rename(tmp_path / "trainA_seg" / "img_1_1.png")
    with pytest.raises(DatasetError, match=r"img_1_1\.png matches no image"):
        scan_official(tmp_path, "train", "A")


def test_image_without_masks_is_reported(tmp_path: Path) -> None:
    _dataset(tmp_path)
    _write(tmp_path / "trainA" / "lonely.png", np.zeros((20, 24, 3), dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"lonely\.png has no masks.*lonely_0\.png"):
        scan_official(tmp_path, "train", "A")


def test_mask_of_another_size_is_reported(tmp_path: Path) -> None:
    _dataset(tmp_path)
    _write(tmp_path / "trainA_seg" / "img0_0.png", np.zeros((10, 10), dtype=np.uint8))
    with pytest.raises(DatasetError, match=r"img0_0\.png is 10x10 but its image img0\.png is 24x20"):
        scan_official(tmp_path, "train", "A")


def test_plain_folders_with_a_mask_folder_per_image(tmp_path: Path) -> None:
    _write(tmp_path / "images" / "cat.jpg", np.zeros((16, 16, 3), dtype=np.uint8))
    for name in ("left.png", "right.png"):
        _write(tmp_path / "masks" / "cat" / name, np.full((16, 16), 255, dtype=np.uint8))
    (sample,) = scan_folders(tmp_path / "images", tmp_path / "masks")
    assert [p.name for p in sample.masks] == ["left.png", "right.png"]


def test_crop_and_flip_move_image_and_masks_together(tmp_path: Path) -> None:
    _dataset(tmp_path, count=2, size=20)
    samples = scan_official(tmp_path, "train", "A")
    # Paint each mask's region into the image so that any misalignment shows.
    image = np.zeros((20, 24, 3), dtype=np.uint8)
    image[2:8, 3:9] = 255
    _write(samples[0].image, image)
    data = InstanceDataset(samples, load_size=(20, 24), crop_size=(12, 12), ins_max=3, flip=True)
    for seed in range(8):
        image_t, masks, valid = data.item(0, torch.Generator().manual_seed(seed))
        assert image_t.shape == (3, 12, 12) and masks.shape == (3, 12, 12)
        assert valid.tolist()[1:] == [False, False] and torch.equal(masks[1:], torch.full((2, 12, 12), -1.0))
        if valid[0]:
            torch.testing.assert_close((image_t[0] > 0).float(), (masks[0] > 0).float())


def test_masks_are_sorted_largest_first_and_cut_to_ins_max(tmp_path: Path) -> None:
    _dataset(tmp_path, count=2)
    data = InstanceDataset(scan_official(tmp_path, "train", "A"), load_size=(20, 24), crop_size=(20, 24), ins_max=1)
    _, masks, valid = data.item(1)
    assert valid.tolist() == [True]
    assert int((masks[0] > 0).sum()) == 7 * 7  # the larger of img1's two masks (rows 3:10, cols 3:10)


def _encode_rle(counts: list[int]) -> str:
    """pycocotools' compressed RLE string (the inverse of the decoder under test)."""
    chars = []
    for i, value in enumerate(counts):
        x = value - counts[i - 2] if i > 2 else value
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            chars.append(chr((c | (0x20 if more else 0)) + 48))
    return "".join(chars)


def _counts(mask: np.ndarray) -> list[int]:
    flat = mask.T.reshape(-1)
    counts, value, run = [], 0, 0
    for pixel in flat:
        if pixel != value:
            counts.append(run)
            value, run = pixel, 0
        run += 1
    counts.append(run)
    return counts


def test_rle_decoding_compressed_and_uncompressed() -> None:
    rng = np.random.default_rng(1)
    mask = (rng.random((9, 7)) > 0.5).astype(np.uint8)
    counts = _counts(mask)
    assert np.array_equal(decode_rle({"size": [9, 7], "counts": counts}), mask)
    assert np.array_equal(decode_rle({"size": [9, 7], "counts": _encode_rle(counts)}), mask)


def test_coco_converter_writes_the_official_layout(tmp_path: Path) -> None:
    for name in ("a.jpg", "b.jpg", "both.jpg"):
        _write(tmp_path / "coco" / name, np.zeros((10, 12, 3), dtype=np.uint8))
    blob = np.zeros((10, 12), dtype=np.uint8)
    blob[5:9, 6:10] = 1
    annotations = {
        "images": [
            {"id": 1, "file_name": "a.jpg"},
            {"id": 2, "file_name": "b.jpg"},
            {"id": 3, "file_name": "both.jpg"},
        ],
        "categories": [{"id": 7, "name": "sheep"}, {"id": 9, "name": "giraffe"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "area": 16, "segmentation": [[1, 1, 5, 1, 5, 5, 1, 5]]},
            {
                "id": 2,
                "image_id": 1,
                "category_id": 7,
                "area": 16,
                "segmentation": {"size": [10, 12], "counts": _encode_rle(_counts(blob))},
            },
            {"id": 3, "image_id": 2, "category_id": 9, "area": 16, "segmentation": [[0, 0, 4, 0, 4, 4]]},
            {"id": 4, "image_id": 3, "category_id": 7, "area": 16, "segmentation": [[0, 0, 4, 0, 4, 4]]},
            {"id": 5, "image_id": 3, "category_id": 9, "area": 16, "segmentation": [[0, 0, 4, 0, 4, 4]]},
        ],
    }
    (tmp_path / "instances.json").write_text(json.dumps(annotations))
    written = coco_to_folder(
        tmp_path / "instances.json",
        tmp_path / "coco",
        tmp_path / "out",
        categories_a=["sheep"],
        categories_b=["giraffe"],
    )
    assert written == (1, 1)
    (sample,) = scan_official(tmp_path / "out", "train", "A")
    assert len(sample.masks) == 2
    second = np.asarray(Image.open(sample.masks[1])) > 0
    assert np.array_equal(second, blob.astype(bool))
    with pytest.raises(DatasetError, match="no category named zebra"):
        coco_to_folder(
            tmp_path / "instances.json",
            tmp_path / "coco",
            tmp_path / "o2",
            categories_a=["zebra"],
            categories_b=["giraffe"],
        )
