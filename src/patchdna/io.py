"""Reading and writing images and masks.

Input policy (documented in the README, applied to every family):
- formats: anything Pillow reads (PNG, JPEG, WebP, TIFF, BMP, GIF's first frame, ...);
- EXIF orientation is applied, so a phone photo is used the way it is shown;
- grayscale (L, I;16, I, F) is replicated to three channels; 16-bit and float images keep their precision
  (scaled to [0, 1] from their full range) instead of being cut to 8 bits first;
- palette images are converted to RGB; transparency (RGBA, LA, palette with transparency) is composited over
  white, because the patch statistics of an undefined colour under alpha = 0 are meaningless;
- `max_size` shrinks the image (antialiased) so that its long side is at most that many pixels;
- an image with a side under `min_side`, more than `MAX_PIXELS` pixels, 0 bytes, or not an image at all raises
  `InputImageError`.
Tensors are float32 (1, C, H, W) in [0, 1].
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from patchdna.errors import InputImageError

MAX_PIXELS = 64_000_000  # ~8000 x 8000: anything larger is almost surely a mistake for single-image GANs
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif")

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_PIXELS",
    "load_image",
    "load_mask",
    "open_image",
    "pil_to_tensor",
    "resize_long_side",
    "save_image",
    "tensor_to_pil",
]


def open_image(path: str | os.PathLike[str]) -> Image.Image:
    """Open an image file with EXIF orientation applied; every failure becomes `InputImageError`."""
    path = Path(path)
    if not path.exists():
        raise InputImageError(f"image not found: {path}")
    if path.is_dir():
        raise InputImageError(f"expected an image file but got a folder: {path}")
    if path.stat().st_size == 0:
        raise InputImageError(f"image file is empty (0 bytes): {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(path)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InputImageError(
                    f"image is too large ({width}x{height} = {width * height / 1e6:.0f} MP, limit "
                    f"{MAX_PIXELS / 1e6:.0f} MP): {path}; downscale it first"
                )
            image.load()
            image = ImageOps.exif_transpose(image)
    except InputImageError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise InputImageError(f"not a readable image ({type(error).__name__}): {path}") from error
    except (OSError, ValueError, SyntaxError) as error:
        raise InputImageError(f"image is corrupt or truncated: {path} ({error})") from error
    return image


def _to_float_array(image: Image.Image) -> np.ndarray:
    """(H, W, C) float32 in [0, 1] with C in {1, 3, 4}, keeping 16-bit and float precision."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return (np.asarray(image, dtype=np.float32) / 65535.0)[..., None]
    if mode == "I":
        array = np.asarray(image, dtype=np.float32)
        peak = 65535.0 if array.max(initial=0) > 255 else 255.0
        return np.clip(array / peak, 0, 1)[..., None]
    if mode == "F":
        array = np.asarray(image, dtype=np.float32)
        if array.max(initial=0) > 1.0:
            array = array / (65535.0 if array.max() > 255 else 255.0)
        return np.clip(array, 0, 1)[..., None]
    if mode == "1":
        image = image.convert("L")
    elif mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        image = image.convert("RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        image = image.convert("RGB")
    array = np.asarray(image, dtype=np.float32) / 255.0
    return array[..., None] if array.ndim == 2 else array


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """A PIL image -> float32 (1, 3, H, W) in [0, 1] under the input policy above."""
    array = _to_float_array(image)
    if array.shape[2] in (2, 4):  # colour + alpha: composite over white
        alpha = array[..., -1:]
        array = array[..., :-1] * alpha + (1.0 - alpha)
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(array.transpose(2, 0, 1)))[None].float()


def resize_long_side(image: torch.Tensor, max_size: int) -> torch.Tensor:
    """Antialiased downscale of a (B, C, H, W) tensor so that max(H, W) <= max_size; never upscales."""
    height, width = image.shape[-2:]
    if max(height, width) <= max_size:
        return image
    factor = max_size / max(height, width)
    size = (max(1, round(height * factor)), max(1, round(width * factor)))
    return torch.nn.functional.interpolate(image, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(
        0, 1
    )


def load_image(path: str | os.PathLike[str], *, max_size: int | None = None, min_side: int = 1) -> torch.Tensor:
    """Read an image as float32 (1, 3, H, W) in [0, 1], applying the input policy of this module.

    `max_size`: long side limit in pixels (antialiased downscale). `min_side`: smallest usable short side,
    checked after resizing; a smaller image raises `InputImageError`.
    """
    image = pil_to_tensor(open_image(path))
    if max_size is not None:
        image = resize_long_side(image, max_size)
    height, width = image.shape[-2:]
    if min(height, width) < min_side:
        raise InputImageError(
            f"image is too small ({width}x{height}); its short side must be at least {min_side} px: {path}"
        )
    return image


def load_mask(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> torch.Tensor:
    """Read a mask as float32 (1, 1, H, W) in [0, 1] (1 = inside), optionally resized to `size` = (H, W).

    Accepts 8-bit or 16-bit grayscale, RGB (luminance is used) and images with alpha: when the alpha channel is
    not constant it is the mask, so a cut-out PNG works as its own mask.
    """
    image = open_image(path)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        alpha = rgba[..., 3]
        array = alpha if alpha.min() < alpha.max() else rgba[..., :3].mean(axis=2)
    else:
        array = _to_float_array(image)
        array = array[..., :3].mean(axis=2) if array.shape[2] >= 3 else array[..., 0]
    mask = torch.from_numpy(np.ascontiguousarray(array))[None, None].float()
    if size is not None and tuple(mask.shape[-2:]) != tuple(size):
        mask = torch.nn.functional.interpolate(mask, size=size, mode="bilinear", align_corners=False, antialias=True)
    return mask.clamp(0, 1)


def tensor_to_pil(image: torch.Tensor) -> Image.Image:
    """A (1, C, H, W) or (C, H, W) tensor in [0, 1] with C in {1, 3, 4} -> PIL image (L, RGB or RGBA)."""
    if image.dim() == 4:
        if image.shape[0] != 1:
            raise ValueError(f"expected a single image (1, C, H, W), got shape {tuple(image.shape)}")
        image = image[0]
    if image.dim() != 3 or image.shape[0] not in (1, 3, 4):
        raise ValueError(f"expected (C, H, W) with C in 1, 3, 4, got shape {tuple(image.shape)}")
    array = (image.detach().float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0) * 255.0).round().astype(np.uint8)
    if array.shape[2] == 1:
        return Image.fromarray(array[..., 0], mode="L")
    return Image.fromarray(array, mode="RGBA" if array.shape[2] == 4 else "RGB")


def save_image(image: torch.Tensor, path: str | os.PathLike[str]) -> Path:
    """Write a tensor in [0, 1] to `path` (format from the suffix), creating parent folders; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensor_to_pil(image).save(path)
    return path
