"""patchdna.io: the input policy and its clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from images_fixtures import make_texture
from PIL import Image

from patchdna.errors import InputImageError
from patchdna.io import load_image, load_mask, save_image


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".webp", ".tif", ".bmp"])
def test_formats_load_as_rgb_unit_range(tmp_path, suffix):
    path = tmp_path / f"image{suffix}"
    Image.fromarray(make_texture()).save(path)
    image = load_image(path)
    assert image.shape == (1, 3, 32, 40) and image.dtype == torch.float32
    assert 0.0 <= image.min() and image.max() <= 1.0


def test_grayscale_is_replicated(tmp_path):
    path = tmp_path / "gray.png"
    Image.fromarray(make_texture()[..., 0]).save(path)
    image = load_image(path)
    assert image.shape == (1, 3, 32, 40)
    assert torch.equal(image[:, 0], image[:, 1]) and torch.equal(image[:, 1], image[:, 2])


def test_sixteen_bit_keeps_precision(tmp_path):
    array = (np.linspace(0, 65535, 32 * 40).reshape(32, 40)).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(array).save(path)
    image = load_image(path)
    assert image.shape == (1, 3, 32, 40)
    assert image.max().item() == pytest.approx(1.0, abs=1e-4)
    # more distinct levels than 8 bits could hold
    assert len(torch.unique(image[0, 0])) > 256


def test_rgba_is_composited_over_white(tmp_path):
    array = np.zeros((8, 8, 4), dtype=np.uint8)
    array[..., 0] = 255
    array[:4, :, 3] = 255  # top half opaque red, bottom half transparent
    path = tmp_path / "rgba.png"
    Image.fromarray(array, mode="RGBA").save(path)
    image = load_image(path)
    assert torch.allclose(image[0, :, 0, 0], torch.tensor([1.0, 0.0, 0.0]))
    assert torch.allclose(image[0, :, 7, 0], torch.tensor([1.0, 1.0, 1.0]))


def test_palette_image(tmp_path):
    path = tmp_path / "palette.png"
    Image.fromarray(make_texture()).convert("P").save(path)
    assert load_image(path).shape == (1, 3, 32, 40)


def test_exif_rotation_is_applied(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    Image.fromarray(make_texture(32, 40)).save(path, exif=exif)
    assert load_image(path).shape == (1, 3, 40, 32)


def test_max_size_shrinks_long_side(tmp_path):
    path = tmp_path / "big.png"
    Image.fromarray(make_texture(64, 100)).save(path)
    assert load_image(path, max_size=50).shape == (1, 3, 32, 50)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "empty"),
        (b"this is not an image at all", "not a readable image"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 20, "image"),
    ],
)
def test_unusable_files_raise_one_error_type(tmp_path, content, message):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InputImageError, match=message):
        load_image(path)


def test_missing_and_tiny_and_huge(tmp_path, monkeypatch):
    with pytest.raises(InputImageError, match="not found"):
        load_image(tmp_path / "nope.png")
    tiny = tmp_path / "tiny.png"
    Image.fromarray(make_texture(4, 4)).save(tiny)
    with pytest.raises(InputImageError, match="too small"):
        load_image(tiny, min_side=16)
    monkeypatch.setattr("patchdna.io.MAX_PIXELS", 100)
    with pytest.raises(InputImageError, match="too large"):
        load_image(_save(tmp_path / "h.png", 20, 20))


def _save(path, height, width):
    Image.fromarray(make_texture(height, width)).save(path)
    return path


def test_truncated_image(tmp_path):
    path = _save(tmp_path / "full.jpg", 64, 64)
    data = path.read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputImageError):
        load_image(cut)


def test_masks_from_gray_rgb_and_alpha(tmp_path):
    gray = np.zeros((8, 8), dtype=np.uint8)
    gray[2:6, 2:6] = 255
    Image.fromarray(gray).save(tmp_path / "m.png")
    Image.fromarray(np.stack([gray] * 3, axis=2)).save(tmp_path / "rgb.png")
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., 3] = gray
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "alpha.png")
    for name in ("m.png", "rgb.png", "alpha.png"):
        mask = load_mask(tmp_path / name)
        assert mask.shape == (1, 1, 8, 8)
        assert mask[0, 0, 3, 3] == 1.0 and mask[0, 0, 0, 0] == 0.0
    assert load_mask(tmp_path / "m.png", size=(16, 12)).shape == (1, 1, 16, 12)


def test_save_roundtrip(tmp_path, texture_tensor):
    path = save_image(texture_tensor, tmp_path / "sub" / "out.png")
    assert torch.allclose(load_image(path), texture_tensor, atol=1 / 255)
