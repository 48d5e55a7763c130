"""What the web UI does, without the web: one `App` shared by every browser session.

Each method parses what a page sends (names, numbers, uploaded file paths, editor layers), calls one function
of the Python API and returns tensors or file paths; `patchdna.ui.app` only wires these to Gradio components.
Family packages and SinGAN applications are imported inside the methods, so a build without one of them
fails with a `PatchDNAError` naming what is missing instead of breaking the app.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from patchdna.assets import DEFAULT_IMAGE
from patchdna.device import resolve_device
from patchdna.errors import InputImageError, PatchDNAError
from patchdna.io import load_image, load_mask, pil_to_tensor, save_image, tensor_to_pil
from patchdna.ui.jobs import Job, JobQueue
from patchdna.ui.store import ModelStore, UploadError, check_name

__all__ = ["FAMILY_LABELS", "TRAIN_PRESETS", "App", "UISettings", "editor_parts", "training_config"]

FAMILY_LABELS = {"singan": "SinGAN", "ingan": "InGAN"}  # families the Train tab can train from one image
# `tiny` trains in seconds on a <= 40 px image: a smoke test of the whole loop (what the browser tests use),
# not a useful model.
TRAIN_PRESETS = {
    "tiny": "tiny: 40 px, seconds (a smoke test)",
    "fast": "fast: patchdna's CPU design, minutes",
    "paper": "paper: the official settings, hours without a GPU",
}
SINGAN_TINY = dict(min_size=12, max_size=40, num_scales=3, iterations=40, crop_size=None, sample_pool=4)
INGAN_TINY = dict(
    widths=(4, 8, 8, 16), bottleneck_blocks=1, discriminator_width=4, crop_size=16, iterations=30, preview_every=10
)
TINY_MAX_SIZE = 40


def training_config(family: str, preset_name: str) -> Any:
    """The config object of `family` for a Train-tab preset name (tiny, fast, paper)."""
    if preset_name not in TRAIN_PRESETS:
        raise PatchDNAError(f"unknown preset {preset_name!r}; choose one of {', '.join(TRAIN_PRESETS)}")
    if family == "singan":
        from patchdna.singan import preset

        return preset("diverse", **SINGAN_TINY) if preset_name == "tiny" else preset(preset_name)
    if family == "ingan":
        try:
            from patchdna import ingan
        except ImportError as error:
            raise PatchDNAError("InGAN is not part of this build of patchdna") from error
        return ingan.preset("fast", **INGAN_TINY) if preset_name == "tiny" else ingan.preset(preset_name)
    raise PatchDNAError(f"the web UI cannot train {family!r} models; choose one of {', '.join(FAMILY_LABELS)}")


def available_families() -> list[str]:
    families = ["singan"]
    try:
        import patchdna.ingan  # noqa: F401

        families.append("ingan")
    except ImportError:
        pass
    return families


@dataclass(frozen=True)
class UISettings:
    models_root: Path
    device: str = "auto"
    max_upload_mb: float = 20.0
    work_dir: Path | None = None  # where files offered for download are written (a temp folder by default)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


class Cancelled(PatchDNAError):
    """Raised from a progress callback to stop a training whose Cancel button was pressed."""


def to_unit_image(image: Tensor) -> Tensor:
    """(1, C, H, W) or (C, H, W) -> (1, C, H, W) float in [0, 1] on the CPU."""
    return (image if image.dim() == 4 else image[None]).detach().float().clamp(0, 1).cpu()


def to_pil(image: Tensor) -> Any:
    """(1, 3|4, H, W) or (3|4, H, W) in [0, 1] -> PIL image (RGBA keeps its alpha)."""
    image = to_unit_image(image)
    if image.shape[1] == 4:
        from PIL import Image

        array = (image[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        return Image.fromarray(array, mode="RGBA")
    return tensor_to_pil(image)


def editor_parts(value: Any, need_mask: bool) -> tuple[Tensor, Tensor | None]:
    """(image (1, 3, H, W), mask (1, 1, H, W) or None) from a gr.ImageEditor value with numpy layers.

    The image is the editor's background (what was uploaded) when there is one, else the composite (a
    painting); the mask is the union of the strokes drawn on the layers (alpha > 0).
    """
    from PIL import Image

    if not value or (value.get("background") is None and value.get("composite") is None):
        raise UploadError("upload an image into the editor first")
    base = value.get("background") if value.get("background") is not None else value.get("composite")
    array = np.asarray(base)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    if array.shape[2] == 4 and not array[..., 3].any():  # an empty canvas: nothing was uploaded
        array = np.asarray(value.get("composite"))
    image = pil_to_tensor(Image.fromarray(array.astype(np.uint8)))
    alpha = np.zeros(array.shape[:2], dtype=np.float32)
    for layer in value.get("layers") or []:
        layer = np.asarray(layer)
        if layer.ndim == 3 and layer.shape[2] == 4 and layer.shape[:2] == alpha.shape:
            alpha = np.maximum(alpha, layer[..., 3].astype(np.float32) / 255.0)
    mask = torch.from_numpy((alpha > 0.05).astype(np.float32))[None, None] if alpha.max() > 0 else None
    if need_mask and mask is None:
        raise UploadError("draw over the region to process with the brush, or upload a mask file")
    return image, mask


class App:
    """State shared by every browser session: the models root, the training queue, a small model cache."""

    def __init__(self, settings: UISettings) -> None:
        self.settings = settings
        self.store = ModelStore(settings.models_root)
        self.jobs = JobQueue()
        self.device = resolve_device(settings.device)
        self.work_dir = Path(settings.work_dir or tempfile.mkdtemp(prefix="patchdna-ui-"))
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._cache: OrderedDict[tuple[str, int], tuple[str, Any]] = OrderedDict()
        self._cache_lock = threading.Lock()

    # -- inputs ---------------------------------------------------------------------------------------------
    def check_upload(self, path: str | None, what: str) -> Path:
        """An uploaded file's path, refused when missing or over the size limit."""
        if not path:
            raise UploadError(f"no {what} uploaded")
        file = Path(path)
        size = file.stat().st_size
        if size > self.settings.max_upload_bytes:
            raise UploadError(
                f"{what} is too large ({size / 1e6:.1f} MB; the limit is {self.settings.max_upload_mb:g} MB)"
            )
        return file

    def read_image(self, file: Path, max_size: int | None = None) -> Tensor:
        """An uploaded image as (1, 3, H, W); messages name the file, not the server's upload folder."""
        try:
            return load_image(file, max_size=max_size)
        except InputImageError as error:
            raise InputImageError(str(error).replace(str(file), repr(file.name))) from error

    def model(self, name: str | None, family: str | None = "singan") -> Any:
        """The loaded model `name` (cached; reloaded when its folder changes), checked to be of `family`."""
        if not name:
            raise PatchDNAError("choose a model first (train one, or upload one in the Models tab)")
        folder = self.store.existing(name)
        key = (folder.name, (folder / "config.json").stat().st_mtime_ns)
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                loaded_family, model = self._cache[key]
            else:
                loaded_family, model = self.store.load(name, self.device)
                self._cache[key] = (loaded_family, model)
                while len(self._cache) > 4:
                    self._cache.popitem(last=False)
        if family is not None and loaded_family != family:
            label = FAMILY_LABELS.get(family, family)
            raise PatchDNAError(f"{name!r} is a {loaded_family} model; this tab works with {label} models")
        return model

    def first_image_scale(self, name: str | None) -> int:
        """The lowest start scale >= 1 at which harmonize, edit and paint can feed an image into SinGAN `name`.

        A `fast` model's coarse scales are a feature cascade that takes no image (4 of 7 for a 250 px photo), so
        the tabs move their start sliders there instead of offering a start that is refused. 1 when `name` is
        not a SinGAN model (the tabs' own error says so when used).
        """
        try:
            model = self.model(name)
        except PatchDNAError:
            return 1
        return max(1, model.num_cascade)  # self.model checked the family: a SinGAN

    def output_file(self, stem: str, suffix: str) -> Path:
        """A fresh path under the work folder for a file the page offers for download."""
        return Path(tempfile.mkdtemp(dir=self.work_dir)) / f"{stem}{suffix}"

    def model_choices(self, family: str | None = None) -> list[tuple[str, str]]:
        busy = self.jobs.busy_names()
        choices = []
        for info in self.store.models():
            if family is not None and info.family != family:
                continue
            state = " (training)" if info.name in busy else ("" if info.complete else " (incomplete)")
            choices.append((f"{info.name}: {info.detail}{state}", info.name))
        return choices

    # -- training -------------------------------------------------------------------------------------------
    def start_training(
        self, image_path: str | None, family: str, preset_name: str, name: str, seed: float | None
    ) -> Job:
        """Queue a training of `family` on the uploaded image (default: the bundled one) into models/<name>."""
        name = check_name(name)
        folder = self.store.path(name)
        if folder.exists() or name in self.jobs.busy_names():
            raise UploadError(f"a model named {name!r} already exists; choose another name")
        config = training_config(family, preset_name)
        source = Path(image_path) if image_path else DEFAULT_IMAGE
        max_size = TINY_MAX_SIZE if preset_name == "tiny" else getattr(config, "max_size", 250)
        picture = self.read_image(source, max_size=max_size)
        run = self._singan_run if family == "singan" else self._ingan_run
        return self.jobs.submit(name, run(picture, folder, config, int(seed or 0)))

    def _singan_run(self, picture: Tensor, folder: Path, config: Any, seed: int) -> Any:
        from patchdna.singan import train

        def run(job: Job) -> None:
            def on_event(event: Any) -> None:
                if event.kind == "step":
                    job.update(
                        stage=f"scale {event.scale + 1}/{event.num_scales}, iteration {event.iteration}/"
                        f"{event.iterations}",
                        eta=event.eta,
                    )
                elif event.kind == "scale_end" and event.preview is not None:
                    job.update(preview=to_pil(event.preview), stage=f"scale {event.scale + 1} saved")

            model = train(
                picture,
                folder,
                config=config,
                device=self.device,
                seed=seed,
                preview=True,
                show_progress=False,
                callback=on_event,
                stop_event=job.stop_event,
            )
            job.update(stage=f"finished: {model.num_trained} scales", message=f"saved as model {folder.name!r}")

        return run

    def _ingan_run(self, picture: Tensor, folder: Path, config: Any, seed: int) -> Any:
        from patchdna import ingan

        def run(job: Job) -> None:
            started = time.monotonic()

            def on_iteration(iteration: int, losses: dict[str, float]) -> None:
                if job.stop_event.is_set():
                    raise Cancelled(f"training cancelled at iteration {iteration}; the last checkpoint is saved")
                elapsed = time.monotonic() - started
                eta = elapsed / iteration * (config.iterations - iteration)
                changes: dict[str, Any] = {"stage": f"iteration {iteration}/{config.iterations}", "eta": eta}
                if iteration % config.preview_every == 0:
                    changes["preview"] = _latest_preview(folder)
                job.update(**changes)

            ingan.train(
                picture, folder, config, device=self.device, seed=seed, max_size=None, progress=False,
                callback=on_iteration,
            )  # fmt: skip
            job.update(stage="finished", preview=_latest_preview(folder), message=f"saved as model {folder.name!r}")

        return run

    def describe(self, job_id: int | None) -> tuple[str, Any, bool]:
        """(status line, preview image or None, finished?) of a job."""
        job = self.jobs.get(job_id) if job_id else None
        if job is None:
            return "No training started.", None, True
        info = job.snapshot()
        eta = f", about {info['eta']:.0f} s left" if info["eta"] is not None else ""
        if info["state"] == "queued":
            line = f"Queued: position {self.jobs.position(job)} (one training runs at a time)."
        elif info["state"] == "running":
            line = f"Training {info['name']!r}: {info['stage']}{eta} ({info['elapsed']:.0f} s elapsed)."
        elif info["state"] == "done":
            line = f"Training finished: {info['message']} ({info['elapsed']:.0f} s)."
        elif info["state"] == "cancelled":
            line = f"Training cancelled. {info['message']}"
        else:
            line = f"Training failed: {info['message']}"
        return line, info["preview"], info["state"] not in ("queued", "running")

    # -- SinGAN ---------------------------------------------------------------------------------------------
    def generate(
        self, name: str | None, seed: int, count: int, scale_h: float, scale_w: float, start_scale: int
    ) -> tuple[Tensor, Path]:
        """(count, 3, H, W) samples and a PNG sheet of them."""
        from patchdna.singan import sample
        from patchdna.video import image_grid

        model = self.model(name)
        _check_start_scale(model, start_scale)
        images = sample(model, count, scale_h=scale_h, scale_w=scale_w, start_scale=start_scale, seed=seed)
        path = self.output_file(f"{name}_samples_seed{seed}", ".png")
        save_image(image_grid([picture[None] for picture in images], columns=4), path)
        return images, path

    def harmonize(
        self, name: str | None, image: Tensor, mask: Tensor, start_scale: int, fine_tune: bool, seed: int
    ) -> Any:
        harmonize = _singan_api("harmonize")
        model = self.model(name)
        _check_start_scale(model, start_scale)
        return harmonize(model, image, mask, start_scale=start_scale, fine_tune=fine_tune, seed=seed)

    def edit(self, name: str | None, image: Tensor, mask: Tensor, start_scale: int, fine_tune: bool, seed: int) -> Any:
        edit = _singan_api("edit")
        model = self.model(name)
        _check_start_scale(model, start_scale)
        return edit(model, image, mask, start_scale=start_scale, fine_tune=fine_tune, seed=seed)

    def paint(self, name: str | None, paint: Tensor, start_scale: int, quantize: bool, colors: int, seed: int) -> Any:
        paint_to_image = _singan_api("paint_to_image")
        model = self.model(name)
        _check_start_scale(model, start_scale)
        return paint_to_image(model, paint, start_scale=start_scale, quantize=quantize, colors=colors, seed=seed)

    def super_resolve(self, name: str | None, image_path: str | None, factor: float) -> tuple[Tensor, Path]:
        """The model's training image (or an uploaded image) enlarged by `factor`, and a PNG of it."""
        upscale = _singan_api("upscale")
        model = self.model(name)
        image = self.read_image(self.check_upload(image_path, "the image")) if image_path else None
        result = upscale(model, image, factor)
        path = self.output_file(f"{name}_x{factor:g}", ".png")
        save_image(result, path)
        return result, path

    def animate(
        self, name: str | None, frames: int, fps: float, alpha: float, beta: float, start_scale: int, seed: int
    ) -> tuple[Path, Path]:
        """(MP4, GIF) of the random-walk animation."""
        from patchdna.video import write_video

        animate = _singan_api("animate")
        model = self.model(name)
        _check_start_scale(model, start_scale)
        video = animate(model, None, frames=frames, fps=fps, alpha=alpha, beta=beta, start_scale=start_scale, seed=seed)
        gif = self.output_file(f"{name}_animation", ".gif")
        mp4 = gif.with_suffix(".mp4")
        write_video(video, gif, fps=fps)
        write_video(video, mp4, fps=fps)
        return mp4, gif

    # -- InGAN ----------------------------------------------------------------------------------------------
    def retarget(self, name: str | None, scale_h: float, scale_w: float) -> Tensor:
        from patchdna import ingan

        return ingan.retarget(self.model(name, "ingan"), scale=(scale_h, scale_w))

    def collage(self, name: str | None) -> tuple[Tensor, Path]:
        from patchdna import ingan

        grid = ingan.collage(self.model(name, "ingan"))
        path = self.output_file(f"{name}_collage", ".png")
        save_image(grid, path)
        return grid, path

    def retarget_video(self, name: str | None, frames: int = 48, fps: float = 12.0) -> tuple[Path, Path]:
        from patchdna import ingan
        from patchdna.video import write_video

        video = ingan.video_frames(self.model(name, "ingan"), frames=frames)
        mp4 = self.output_file(f"{name}_retarget", ".mp4")
        write_video(video, mp4, fps=fps)
        gif = write_video(video, mp4.with_suffix(".gif"), fps=fps)
        return mp4, gif

    def shift(self, name: str | None, left: float, right: float) -> Tensor:
        """InGAN's non-rectangular output: top corners moved by fractions of the width, transparent outside."""
        from patchdna import ingan

        return ingan.warp_output(self.model(name, "ingan"), ingan.shift_matrix(left, right), background=None)

    # -- InstaGAN -------------------------------------------------------------------------------------------
    def translate(
        self, name: str | None, image_path: str | None, mask_paths: list[str] | None, direction: str, ins_per: int
    ) -> Any:
        """InstaGAN translation of an uploaded image with its uploaded instance masks."""
        from patchdna import instagan

        model = self.model(name, "instagan")
        image = self.read_image(self.check_upload(image_path, "the image"))
        paths = [self.check_upload(path, "a mask") for path in mask_paths or []]
        if not paths:
            raise UploadError("upload at least one instance mask (white = inside the instance)")
        masks = torch.cat([load_mask(path, size=tuple(image.shape[-2:]))[0] for path in paths])[None]  # type: ignore[arg-type]
        if direction not in ("AtoB", "BtoA"):
            raise PatchDNAError(f"direction must be AtoB or BtoA, got {direction!r}")
        return instagan.translate(
            model, image.to(self.device), masks.to(self.device), "AtoB" if direction == "AtoB" else "BtoA", ins_per
        )


def _singan_api(name: str) -> Any:
    import patchdna.singan as singan

    function = getattr(singan, name, None)
    if function is None:
        raise PatchDNAError(f"{name} is not available in this build of patchdna (patchdna.singan.{name} missing)")
    return function


def _check_start_scale(model: Any, start_scale: int) -> None:
    if not 0 <= start_scale < model.num_trained:
        raise PatchDNAError(f"start scale must be 0..{model.num_trained - 1} for this model, got {start_scale}")


def _latest_preview(folder: Path) -> Any:
    """The newest preview image a training wrote into its model folder, or None."""
    from PIL import Image

    previews = sorted((folder / "previews").glob("*.png"), key=lambda p: p.stat().st_mtime)
    if not previews:
        return None
    with Image.open(previews[-1]) as image:
        return image.convert("RGB")
