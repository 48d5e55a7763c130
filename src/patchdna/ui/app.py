"""The Gradio app of `patchdna ui`: thin handlers over the Python API, one tab per task.

Handlers parse what the page sends, call one API function and return images; every `PatchDNAError` becomes a
`gr.Error` (a message in the page, the server keeps going). Training runs in the `JobQueue` worker, never in a
request. Application functions are imported inside their handlers, so a family or application that is not in
this build shows a message in its tab instead of breaking the app.
"""

from __future__ import annotations

import functools
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import Tensor

from patchdna.assets import DEFAULT_IMAGE
from patchdna.device import resolve_device
from patchdna.errors import InputImageError, PatchDNAError
from patchdna.io import load_image, pil_to_tensor, save_image, tensor_to_pil
from patchdna.ui.jobs import Job, JobQueue
from patchdna.ui.store import ModelStore, UploadError, check_name

__all__ = ["TRAIN_PRESETS", "UISettings", "build_app", "training_config"]

# The training choices of the page. `tiny` trains a 3-scale model of a <= 40 px image in seconds: a smoke test
# of the whole loop (and what the browser tests use), not a useful model.
TRAIN_PRESETS = {
    "tiny": "tiny: 3 scales, 40 px, seconds (a smoke test)",
    "fast": "fast: patchdna's CPU design, minutes",
    "paper": "paper: the official SinGAN settings, hours without a GPU",
}
TINY_OVERRIDES = dict(min_size=12, max_size=40, num_scales=3, iterations=40, crop_size=None, sample_pool=4)


def training_config(preset_name: str) -> Any:
    from patchdna.singan import preset

    if preset_name == "tiny":
        return preset("fast", **TINY_OVERRIDES)
    return preset(preset_name)


@dataclass(frozen=True)
class UISettings:
    models_root: Path
    device: str = "auto"
    max_upload_mb: float = 20.0
    work_dir: Path | None = None  # where downloads are written for the page (a temp folder by default)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


F = TypeVar("F", bound=Callable[..., Any])


def user_errors(function: F) -> F:
    """Turn a PatchDNAError (and an out-of-memory) into gr.Error, shown in the page as a message."""
    import gradio as gr

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except PatchDNAError as error:
            raise gr.Error(str(error), print_exception=False) from error
        except (torch.cuda.OutOfMemoryError, MemoryError) as error:
            raise gr.Error("out of memory: ask for a smaller output or fewer samples", print_exception=False) from error

    return wrapper  # type: ignore[return-value]


def to_pil(image: Tensor) -> Any:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> PIL image."""
    return tensor_to_pil(image if image.dim() == 4 else image[None])


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

    # -- helpers --------------------------------------------------------------------------------------------
    def check_upload(self, path: str | None, what: str) -> Path:
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
        if not name:
            raise PatchDNAError("choose a model first (train one, or upload one in the Models tab)")
        folder = self.store.existing(name)
        key = (folder.name, (folder / "config.json").stat().st_mtime_ns)
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                loaded_family, model = self._cache[key]
            else:
                loaded_family, model = self.store.load(name)
                self._cache[key] = (loaded_family, model)
                while len(self._cache) > 4:
                    self._cache.popitem(last=False)
        if family is not None and loaded_family != family:
            raise PatchDNAError(f"{name!r} is a {loaded_family} model; this tab needs a {family} model")
        return model.to(self.device) if hasattr(model, "to") else model

    def output_file(self, stem: str, suffix: str) -> Path:
        folder = Path(tempfile.mkdtemp(dir=self.work_dir))
        return folder / f"{stem}{suffix}"

    def model_choices(self) -> list[tuple[str, str]]:
        busy = self.jobs.busy_names()
        choices = []
        for info in self.store.models():
            state = " (training)" if info.name in busy else ("" if info.complete else " (incomplete)")
            choices.append((f"{info.name}: {info.detail}{state}", info.name))
        return choices

    # -- training -------------------------------------------------------------------------------------------
    def start_training(self, image_path: str | None, preset_name: str, name: str, seed: float | None) -> Job:
        from patchdna.singan import train

        name = check_name(name)
        folder = self.store.path(name)
        if folder.exists():
            raise UploadError(f"a model named {name!r} already exists; choose another name")
        config = training_config(preset_name)
        source = Path(image_path) if image_path else DEFAULT_IMAGE
        picture = self.read_image(source, max_size=config.max_size)
        seed_value = int(seed or 0)
        device = self.device

        def run(job: Job) -> None:
            def on_event(event: Any) -> None:
                if job.stop_event.is_set():
                    return
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
                device=device,
                seed=seed_value,
                preview=True,
                show_progress=False,
                callback=on_event,
                stop_event=job.stop_event,
            )
            job.update(stage=f"finished: {model.num_trained} scales", message=f"saved as model {name!r}")

        return self.jobs.submit(name, run)

    def describe(self, job_id: int | None) -> tuple[str, Any, bool]:
        """(status line, preview image, finished?) of a job."""
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


# -- image editor helpers ---------------------------------------------------------------------------------------
def editor_parts(value: Any, need_mask: bool) -> tuple[Tensor, Tensor | None]:
    """(image, mask) from a gr.ImageEditor value (numpy RGBA): the composite and the union of drawn strokes."""
    if not value or value.get("composite") is None:
        raise UploadError("upload an image into the editor first")
    composite = np.asarray(value["composite"])
    if composite.ndim == 2:
        composite = np.repeat(composite[..., None], 3, axis=2)
    from PIL import Image

    image = pil_to_tensor(Image.fromarray(composite.astype(np.uint8)))
    strokes = [np.asarray(layer) for layer in value.get("layers") or [] if layer is not None]
    mask = None
    if strokes:
        alpha = np.zeros(composite.shape[:2], dtype=np.float32)
        for layer in strokes:
            if layer.ndim == 3 and layer.shape[2] == 4 and layer.shape[:2] == alpha.shape:
                alpha = np.maximum(alpha, layer[..., 3].astype(np.float32) / 255.0)
        if alpha.max() > 0:
            mask = torch.from_numpy((alpha > 0.05).astype(np.float32))[None, None]
    if need_mask and mask is None:
        raise UploadError("draw the mask over the region to process with the brush (or upload a mask)")
    return image, mask


def uploaded_mask(path: str | None, size: tuple[int, int]) -> Tensor | None:
    if not path:
        return None
    from patchdna.io import load_mask

    return load_mask(path, size=size)


def build_app(settings: UISettings) -> tuple[Any, App]:
    """The gr.Blocks page and its shared state (call `.launch()` on the first)."""
    import gradio as gr

    app = App(settings)
    limit_mb = settings.max_upload_mb

    def refresh_models(current: str | None = None) -> Any:
        choices = app.model_choices()
        names = [value for _, value in choices]
        return gr.update(choices=choices, value=current if current in names else (names[0] if names else None))

    with gr.Blocks(title="patchdna") as page:
        gr.Markdown(
            "# patchdna\nTrain a SinGAN on one image, then sample, edit and animate it. "
            f"Models live in `{settings.models_root}`; uploads up to {limit_mb:g} MB."
        )
        with gr.Row():
            model_box = gr.Dropdown(
                choices=app.model_choices(), label="Model", elem_id="model-select", scale=4, allow_custom_value=False
            )
            refresh = gr.Button("Refresh list", scale=1, elem_id="refresh-models")
        refresh.click(refresh_models, model_box, model_box)
        page.load(refresh_models, model_box, model_box)

        # 1. Train --------------------------------------------------------------------------------------------
        with gr.Tab("Train", id="train"):
            with gr.Row():
                with gr.Column():
                    image_file = gr.File(label="Training image (PNG, JPEG, WebP, ...)", elem_id="train-image")
                    bundled = gr.Button("Use the bundled image (Hubble Deep Field)", size="sm")
                    image_preview = gr.Image(
                        to_pil(load_image(DEFAULT_IMAGE, max_size=512)),
                        label="Will train on",
                        interactive=False,
                        height=200,
                    )
                    image_path = gr.State(None)
                with gr.Column():
                    gr.Dropdown(["SinGAN"], value="SinGAN", label="Family", interactive=False)
                    preset_box = gr.Radio(
                        [(label, key) for key, label in TRAIN_PRESETS.items()],
                        value="fast",
                        label="Preset",
                        elem_id="train-preset",
                    )
                    name_box = gr.Textbox(label="Model name", value="my-model", elem_id="train-name")
                    seed_box = gr.Number(0, precision=0, label="Seed")
                    with gr.Row():
                        start = gr.Button("Start training", variant="primary", elem_id="train-start")
                        cancel = gr.Button("Cancel", variant="stop", elem_id="train-cancel")
            status = gr.Markdown("No training started.", elem_id="train-status")
            live_preview = gr.Image(label="Latest preview: real, reconstruction, 4 samples", interactive=False)
            job_id = gr.State(None)
            timer = gr.Timer(1.0, active=False)

        def on_image(path: str | None) -> tuple[Any, ...]:
            # A refused file is cleared from the page (so another can be dropped) and explained in a message.
            try:
                file = app.check_upload(path, "the image")
                picture = app.read_image(file, max_size=512)
            except PatchDNAError as error:
                gr.Warning(str(error), title="Image refused")
                return None, None, to_pil(load_image(DEFAULT_IMAGE, max_size=512)), f"Image refused: {error}"
            return gr.skip(), str(file), to_pil(picture), f"Ready to train on {file.name!r}."

        image_file.upload(on_image, image_file, [image_file, image_path, image_preview, status])
        bundled.click(
            lambda: (None, to_pil(load_image(DEFAULT_IMAGE, max_size=512))), None, [image_path, image_preview]
        )

        @user_errors
        def on_start(path: str | None, preset_name: str, name: str, seed: float | None) -> tuple[Any, ...]:
            job = app.start_training(path, preset_name, name, seed)
            line, _, _ = app.describe(job.id)
            return job.id, line, gr.Timer(active=True)

        start.click(on_start, [image_path, preset_box, name_box, seed_box], [job_id, status, timer])

        def on_cancel(current: int | None) -> str:
            if current:
                app.jobs.cancel(current)
            return app.describe(current)[0] + " Cancelling..." if current else "No training to cancel."

        cancel.click(on_cancel, job_id, status)

        def on_tick(current: int | None, selected: str | None) -> tuple[Any, ...]:
            line, preview, finished = app.describe(current)
            job = app.jobs.get(current) if current else None
            models = gr.skip()
            if finished and job is not None and job.state == "done":
                models = refresh_models(job.name)
            elif finished:
                models = refresh_models(selected)
            return line, preview if preview is not None else gr.skip(), gr.Timer(active=not finished), models

        timer.tick(on_tick, [job_id, model_box], [status, live_preview, timer, model_box], show_progress="hidden")

        # 2. Models ---------------------------------------------------------------------------------------------
        with gr.Tab("Models", id="models"):
            gr.Markdown(
                "Download the selected model as a zip, or upload a zip made here. Uploads are checked: only "
                "`config.json`, `model.safetensors`, `training_state.*` and `previews/*.png` are accepted "
                "(never a pickle), and the weights must match their hash."
            )
            with gr.Row():
                export = gr.Button("Download the selected model as a zip", elem_id="model-export")
                export_file = gr.File(label="Model zip", interactive=False, elem_id="model-zip")
            with gr.Row():
                upload = gr.File(label="Upload a model zip", elem_id="model-upload")
                upload_status = gr.Markdown(elem_id="model-upload-status")

        @user_errors
        def on_export(name: str | None) -> str:
            if not name:
                raise PatchDNAError("choose a model first")
            return str(app.store.export_zip(name, Path(tempfile.mkdtemp(dir=app.work_dir))))

        export.click(on_export, model_box, export_file)

        def on_upload(path: str | None) -> tuple[Any, ...]:
            try:
                file = app.check_upload(path, "the model zip")
                name = app.store.import_zip(file)
            except PatchDNAError as error:
                gr.Warning(str(error), title="Upload refused")
                return None, gr.skip(), f"Upload refused: {error}"
            return None, refresh_models(name), f"Added model {name!r}."

        upload.upload(on_upload, upload, [upload, model_box, upload_status])

        # 3. Generate -------------------------------------------------------------------------------------------
        with gr.Tab("Generate", id="generate"):
            with gr.Row():
                with gr.Column(scale=1):
                    gen_seed = gr.Number(0, precision=0, label="Seed")
                    gen_count = gr.Slider(1, 16, value=4, step=1, label="Number of samples")
                    gen_h = gr.Slider(0.5, 3.0, value=1.0, step=0.25, label="Height scale")
                    gen_w = gr.Slider(0.5, 3.0, value=1.0, step=0.25, label="Width scale")
                    gen_start = gr.Slider(0, 9, value=0, step=1, label="Start scale (0 = all random)")
                    generate = gr.Button("Generate", variant="primary", elem_id="generate")
                with gr.Column(scale=2):
                    gallery = gr.Gallery(label="Samples", columns=4, elem_id="samples", height="auto")
                    sheet_file = gr.File(label="All samples as one PNG", interactive=False)

        @user_errors
        def on_generate(name: str | None, seed: float, count: float, scale_h: float, scale_w: float, start: float):
            from patchdna.singan import sample
            from patchdna.video import image_grid

            model = app.model(name)
            images = sample(
                model, int(count), scale_h=scale_h, scale_w=scale_w, start_scale=int(start), seed=int(seed or 0)
            )
            path = app.output_file(f"{name}_samples_seed{int(seed or 0)}", ".png")
            save_image(image_grid([picture[None] for picture in images], columns=4), path)
            return [to_pil(picture) for picture in images], str(path)

        generate.click(on_generate, [model_box, gen_seed, gen_count, gen_h, gen_w, gen_start], [gallery, sheet_file])

        # 5. Applications ---------------------------------------------------------------------------------------
        with gr.Tab("Harmonize / edit / paint / SR / animate", id="apps"):
            _application_tabs(gr, app, model_box)

        _family_tabs(gr, app, model_box)

    return page, app


def _application_tabs(gr: Any, app: App, model_box: Any) -> None:
    """Harmonize, edit, paint-to-image, super-resolution and animation of a trained SinGAN."""

    def missing(name: str) -> PatchDNAError:
        return PatchDNAError(f"{name} is not available in this build of patchdna (patchdna.singan.{name} missing)")

    def api(name: str) -> Any:
        import patchdna.singan as singan

        function = getattr(singan, name, None)
        if function is None:
            raise missing(name)
        return function

    with gr.Tab("Harmonize"):
        gr.Markdown("Upload the naive composite (an object pasted onto the training image), paint over the object.")
        with gr.Row():
            harm_editor = gr.ImageEditor(label="Composite + mask strokes", type="numpy", elem_id="harmonize-editor")
            with gr.Column():
                harm_mask = gr.File(label="...or upload a mask (white = object)")
                harm_start = gr.Slider(1, 9, value=2, step=1, label="Start scale")
                harm_tune = gr.Checkbox(label="Fine-tune on the composite first (slower, better)")
                harm_seed = gr.Number(0, precision=0, label="Seed")
                harm_go = gr.Button("Harmonize", variant="primary")
        with gr.Row():
            harm_out = gr.Image(label="Blended", interactive=False)
            harm_raw = gr.Image(label="Raw output", interactive=False)

    @user_errors
    def on_harmonize(name: str | None, value: Any, mask_file: str | None, start: float, tune: bool, seed: float):
        harmonize = api("harmonize")
        model = app.model(name)
        image, mask = editor_parts(value, need_mask=mask_file is None)
        height, width = image.shape[-2:]
        mask = uploaded_mask(mask_file, (height, width)) if mask_file else mask
        result = harmonize(model, image, mask, start_scale=int(start), fine_tune=bool(tune), seed=int(seed or 0))
        return to_pil(result.blended), to_pil(result.raw)

    harm_go.click(
        on_harmonize, [model_box, harm_editor, harm_mask, harm_start, harm_tune, harm_seed], [harm_out, harm_raw]
    )

    with gr.Tab("Edit"):
        gr.Markdown("Upload the edited image (regions moved or copied), paint over the edited regions.")
        with gr.Row():
            edit_editor = gr.ImageEditor(label="Edited image + mask strokes", type="numpy")
            with gr.Column():
                edit_start = gr.Slider(1, 9, value=2, step=1, label="Start scale")
                edit_seed = gr.Number(0, precision=0, label="Seed")
                edit_go = gr.Button("Edit", variant="primary")
        with gr.Row():
            edit_out = gr.Image(label="Blended", interactive=False)
            edit_raw = gr.Image(label="Raw output", interactive=False)

    @user_errors
    def on_edit(name: str | None, value: Any, start: float, seed: float):
        edit = api("edit")
        model = app.model(name)
        image, mask = editor_parts(value, need_mask=True)
        result = edit(model, image, mask, start_scale=int(start), seed=int(seed or 0))
        return to_pil(result.blended), to_pil(result.raw)

    edit_go.click(on_edit, [model_box, edit_editor, edit_start, edit_seed], [edit_out, edit_raw])

    with gr.Tab("Paint to image"):
        gr.Markdown("Paint a rough clip-art of the layout (or upload one); SinGAN turns it into a realistic image.")
        with gr.Row():
            paint_editor = gr.ImageEditor(label="Painting", type="numpy")
            with gr.Column():
                paint_start = gr.Slider(1, 9, value=1, step=1, label="Start scale")
                paint_quantize = gr.Checkbox(label="Quantize the painting to the image's colours")
                paint_colors = gr.Slider(2, 12, value=5, step=1, label="Colours (with quantize)")
                paint_seed = gr.Number(0, precision=0, label="Seed")
                paint_go = gr.Button("Paint to image", variant="primary")
        paint_out = gr.Image(label="Result", interactive=False)

    @user_errors
    def on_paint(name: str | None, value: Any, start: float, quantize: bool, colors: float, seed: float):
        paint_to_image = api("paint_to_image")
        model = app.model(name)
        image, _ = editor_parts(value, need_mask=False)
        result = paint_to_image(
            model, image, start_scale=int(start), quantize=bool(quantize), colors=int(colors), seed=int(seed or 0)
        )
        return to_pil(result)

    paint_go.click(
        on_paint, [model_box, paint_editor, paint_start, paint_quantize, paint_colors, paint_seed], paint_out
    )

    with gr.Tab("Super-resolution"):
        gr.Markdown("Upscale the model's training image (or an image it was trained on) by a factor.")
        with gr.Row():
            with gr.Column():
                sr_image = gr.File(label="Image (default: the model's training image)")
                sr_factor = gr.Slider(1.0, 4.0, value=2.0, step=0.25, label="Factor")
                sr_go = gr.Button("Super-resolve", variant="primary")
            sr_out = gr.Image(label="Result", interactive=False)
            sr_file = gr.File(label="Download", interactive=False)

    @user_errors
    def on_sr(name: str | None, path: str | None, factor: float):
        upscale = api("upscale")
        model = app.model(name)
        if path:
            image = app.read_image(app.check_upload(path, "the image"))
        else:
            image = ((model.real.detach().cpu() + 1) / 2).clamp(0, 1)
        result = upscale(model, image, float(factor))
        out = app.output_file(f"{name}_x{factor:g}", ".png")
        save_image(result, out)
        return to_pil(result), str(out)

    sr_go.click(on_sr, [model_box, sr_image, sr_factor], [sr_out, sr_file])

    with gr.Tab("Animate"):
        with gr.Row():
            with gr.Column():
                anim_frames = gr.Slider(10, 200, value=40, step=10, label="Frames")
                anim_fps = gr.Slider(2, 30, value=10, step=1, label="Frames per second")
                anim_alpha = gr.Slider(0.0, 1.0, value=0.1, step=0.05, label="alpha (how far each step moves)")
                anim_beta = gr.Slider(0.0, 1.0, value=0.9, step=0.05, label="beta (momentum of the walk)")
                anim_start = gr.Slider(0, 9, value=0, step=1, label="Start scale")
                anim_seed = gr.Number(0, precision=0, label="Seed")
                anim_go = gr.Button("Animate", variant="primary")
            with gr.Column():
                anim_gif = gr.Image(label="Animation", interactive=False)
                anim_files = gr.File(label="MP4 and GIF", file_count="multiple", interactive=False)

    @user_errors
    def on_animate(name: str | None, frames: float, fps: float, alpha: float, beta: float, start: float, seed: float):
        from patchdna.video import write_video

        animate = api("animate")
        model = app.model(name)
        video = animate(
            model,
            None,
            frames=int(frames),
            fps=float(fps),
            alpha=float(alpha),
            beta=float(beta),
            start_scale=int(start),
            seed=int(seed or 0),
        )
        gif = app.output_file(f"{name}_animation", ".gif")
        mp4 = gif.with_suffix(".mp4")
        write_video(video, gif, fps=float(fps))
        write_video(video, mp4, fps=float(fps))
        return str(gif), [str(mp4), str(gif)]

    anim_go.click(
        on_animate,
        [model_box, anim_frames, anim_fps, anim_alpha, anim_beta, anim_start, anim_seed],
        [anim_gif, anim_files],
    )


def _family_tabs(gr: Any, app: App, model_box: Any) -> None:
    """Tabs of the other families, added only when their package is part of this build."""
    for family, builder in (("ingan", _ingan_tab), ("instagan", _instagan_tab)):
        try:
            module = __import__(f"patchdna.{family}", fromlist=["load"])
        except ImportError:
            continue
        try:
            builder(gr, app, model_box, module)
        except AttributeError:
            continue  # an older build of that family without the API the tab needs


def _ingan_tab(gr: Any, app: App, model_box: Any, module: Any) -> None:
    raise AttributeError("the InGAN tab is not written yet")


def _instagan_tab(gr: Any, app: App, model_box: Any, module: Any) -> None:
    raise AttributeError("the InstaGAN tab is not written yet")
