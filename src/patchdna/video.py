"""Writing frame sequences as real MP4 (H.264 through imageio-ffmpeg) or GIF files, and contact sheets."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from patchdna.errors import ConfigError

__all__ = ["VIDEO_SUFFIXES", "frames_to_uint8", "image_grid", "read_video_frames", "write_video"]

VIDEO_SUFFIXES = (".mp4", ".gif")


def frames_to_uint8(frames: Sequence[torch.Tensor] | torch.Tensor) -> list[np.ndarray]:
    """(T, C, H, W) tensor or a list of (1, C, H, W)/(C, H, W) tensors in [0, 1] -> list of (H, W, C) uint8."""
    arrays = []
    for frame in frames:
        frame = frame[0] if frame.dim() == 4 else frame
        arrays.append(
            (frame.detach().float().clamp(0, 1).cpu().numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
        )
    return arrays


def write_video(frames: Sequence[torch.Tensor] | torch.Tensor, path: str | os.PathLike[str], fps: float = 10.0) -> Path:
    """Write frames in [0, 1] to `path`; the suffix (.mp4 or .gif) picks the container.

    MP4 uses H.264 with yuv420p so that every player opens it; that needs even sides, so odd frames are padded
    by one edge pixel. GIF frames are palettised by Pillow and loop forever.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise ConfigError(f"video output must end in .mp4 or .gif, got {path.name!r}")
    if fps <= 0:
        raise ConfigError(f"fps must be positive, got {fps}")
    arrays = frames_to_uint8(frames)
    if not arrays:
        raise ConfigError("no frames to write")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".gif":
        from PIL import Image

        images = [Image.fromarray(a[..., :3]) for a in arrays]
        images[0].save(
            path, save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0, optimize=False
        )
        return path
    import imageio.v2 as imageio

    height, width = arrays[0].shape[:2]
    pad = ((0, height % 2), (0, width % 2), (0, 0))
    with imageio.get_writer(
        path, fps=fps, codec="libx264", quality=8, pixelformat="yuv420p", macro_block_size=1
    ) as writer:
        for array in arrays:
            writer.append_data(  # type: ignore[attr-defined]
                np.pad(array[..., :3], pad, mode="edge")
            )
    return path


def read_video_frames(path: str | os.PathLike[str]) -> list[np.ndarray]:
    """Read back every frame of an MP4 or GIF as (H, W, 3) uint8 (used by tests and the gallery)."""
    path = Path(path)
    if path.suffix.lower() == ".gif":
        from PIL import Image, ImageSequence

        with Image.open(path) as image:
            return [np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(image)]
    import imageio.v2 as imageio

    with imageio.get_reader(path) as reader:
        return [np.asarray(frame) for frame in reader]  # type: ignore[attr-defined]


def image_grid(images: Sequence[torch.Tensor], columns: int, pad: int = 4, background: float = 1.0) -> torch.Tensor:
    """Tile (1, C, H, W) images of possibly different sizes into one (1, C, H', W') sheet, row-major."""
    if not images:
        raise ValueError("image_grid needs at least one image")
    rows = (len(images) + columns - 1) // columns
    channels = images[0].shape[1]
    cell_h = max(int(i.shape[-2]) for i in images)
    cell_w = max(int(i.shape[-1]) for i in images)
    sheet = torch.full(
        (1, channels, rows * cell_h + (rows + 1) * pad, columns * cell_w + (columns + 1) * pad), background
    )
    for index, image in enumerate(images):
        r, c = divmod(index, columns)
        top = pad + r * (cell_h + pad) + (cell_h - image.shape[-2]) // 2
        left = pad + c * (cell_w + pad) + (cell_w - image.shape[-1]) // 2
        sheet[:, :, top : top + image.shape[-2], left : left + image.shape[-1]] = image.detach().cpu()
    return sheet
