"""The Gradio page of `patchdna ui`: components wired to the methods of `patchdna.ui.core.App`.

Every `PatchDNAError` a handler raises becomes a `gr.Error` (a message in the page; the server keeps going).
Training runs in the `JobQueue` worker, never in a request: the Train tab polls it once a second with a
`gr.Timer` that is active only while a job of this session is queued or running. Family tabs (InGAN retarget,
InstaGAN translate) are added only when that family's package is part of the build.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from patchdna.assets import DEFAULT_IMAGE
from patchdna.errors import PatchDNAError
from patchdna.io import load_image
from patchdna.ui.core import (
    FAMILY_LABELS,
    TRAIN_PRESETS,
    App,
    UISettings,
    available_families,
    editor_parts,
    to_pil,
)

__all__ = ["build_app"]

F = TypeVar("F", bound=Callable[..., Any])


def user_errors(function: F) -> F:
    """Turn a PatchDNAError (and running out of memory) into gr.Error, shown in the page as a message."""
    import gradio as gr

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except PatchDNAError as error:
            raise gr.Error(str(error), print_exception=False) from error
        except (torch.cuda.OutOfMemoryError, MemoryError) as error:
            message = "out of memory: ask for a smaller output or fewer samples"
            raise gr.Error(message, print_exception=False) from error

    return wrapper  # type: ignore[return-value]


def _bundled_preview() -> Any:
    return to_pil(load_image(DEFAULT_IMAGE, max_size=512))


def build_app(settings: UISettings) -> tuple[Any, App]:
    """The gr.Blocks page and its shared state (call `.launch()` on the first)."""
    import gradio as gr

    app = App(settings)

    def refresh_models(current: str | None = None) -> Any:
        choices = app.model_choices()
        names = [value for _, value in choices]
        return gr.update(choices=choices, value=current if current in names else (names[0] if names else None))

    with gr.Blocks(title="patchdna") as page:
        gr.Markdown(
            "# patchdna\nTrain a model on one image, then sample, retarget, edit and animate it. "
            f"Models live in `{settings.models_root}`; uploads up to {settings.max_upload_mb:g} MB."
        )
        with gr.Row():
            model_box = gr.Dropdown(choices=app.model_choices(), label="Model", elem_id="model-select", scale=4)
            refresh = gr.Button("Refresh list", scale=1, elem_id="refresh-models")
        refresh.click(refresh_models, model_box, model_box)
        page.load(refresh_models, model_box, model_box)

        with gr.Tab("Train", id="train"):
            _train_tab(gr, app, model_box, refresh_models)
        with gr.Tab("Models", id="models"):
            _models_tab(gr, app, model_box, refresh_models)
        with gr.Tab("Generate", id="generate"):
            _generate_tab(gr, app, model_box)
        with gr.Tab("Harmonize / edit / paint / SR / animate", id="apps"):
            _application_tabs(gr, app, model_box)
        try:
            import patchdna.ingan  # noqa: F401
        except ImportError:
            pass
        else:
            with gr.Tab("Retarget (InGAN)", id="retarget"):
                _retarget_tab(gr, app, model_box)
        try:
            import patchdna.instagan  # noqa: F401
        except ImportError:
            pass
        else:
            with gr.Tab("Translate (InstaGAN)", id="translate"):
                _translate_tab(gr, app, model_box)
    return page, app


def _train_tab(gr: Any, app: App, model_box: Any, refresh_models: Callable[..., Any]) -> None:
    with gr.Row():
        with gr.Column():
            image_file = gr.File(label="Training image (PNG, JPEG, WebP, ...)", elem_id="train-image")
            bundled = gr.Button("Use the bundled image (Hubble Deep Field)", size="sm")
            image_preview = gr.Image(_bundled_preview(), label="Will train on", interactive=False, height=200)
        with gr.Column():
            families = available_families()
            family_box = gr.Dropdown(
                [(FAMILY_LABELS[f], f) for f in families], value="singan", label="Family", elem_id="train-family"
            )
            preset_box = gr.Radio(
                [(label, key) for key, label in TRAIN_PRESETS.items()], value="fast", label="Preset", elem_id="preset"
            )
            name_box = gr.Textbox(label="Model name", value="my-model", elem_id="train-name")
            seed_box = gr.Number(0, precision=0, label="Seed")
            with gr.Row():
                start = gr.Button("Start training", variant="primary", elem_id="train-start")
                cancel = gr.Button("Cancel", variant="stop", elem_id="train-cancel")
    status = gr.Markdown("No training started.", elem_id="train-status")
    live_preview = gr.Image(label="Latest preview", interactive=False, elem_id="train-preview")
    job_id = gr.State(None)
    timer = gr.Timer(1.0, active=False)

    def on_image(path: str | None) -> tuple[Any, ...]:
        # A refused file is cleared from the page (so another can be dropped) and explained in a message.
        try:
            file = app.check_upload(path, "the image")
            picture = app.read_image(file, max_size=512)
        except PatchDNAError as error:
            gr.Warning(str(error), title="Image refused")
            return None, _bundled_preview(), f"Image refused: {error}"
        return gr.skip(), to_pil(picture), f"Ready to train on {file.name!r}."

    # The training reads the file component itself (empty = the bundled image), so what is shown is what trains.
    image_file.upload(on_image, image_file, [image_file, image_preview, status])
    image_file.clear(lambda: (_bundled_preview(), "The bundled image will be used."), None, [image_preview, status])
    bundled.click(lambda: (None, _bundled_preview()), None, [image_file, image_preview])

    @user_errors
    def on_start(path: str | None, family: str, preset_name: str, name: str, seed: float | None) -> tuple[Any, ...]:
        if path:
            app.check_upload(path, "the image")
        job = app.start_training(path, family, preset_name, name, seed)
        return job.id, app.describe(job.id)[0], gr.Timer(active=True)

    start.click(on_start, [image_file, family_box, preset_box, name_box, seed_box], [job_id, status, timer])

    def on_cancel(current: int | None) -> str:
        if not current:
            return "No training to cancel."
        app.jobs.cancel(current)
        return app.describe(current)[0] + " Cancelling..."

    cancel.click(on_cancel, job_id, status)

    def on_tick(current: int | None, selected: str | None) -> tuple[Any, ...]:
        line, preview, finished = app.describe(current)
        job = app.jobs.get(current) if current else None
        models = gr.skip()
        if finished:
            models = refresh_models(job.name if job is not None and job.state == "done" else selected)
        return line, preview if preview is not None else gr.skip(), gr.Timer(active=not finished), models

    timer.tick(on_tick, [job_id, model_box], [status, live_preview, timer, model_box], show_progress="hidden")


def _models_tab(gr: Any, app: App, model_box: Any, refresh_models: Callable[..., Any]) -> None:
    gr.Markdown(
        "Download the selected model as a zip, or upload a zip made here. Uploads are checked: only "
        "`config.json`, `model.safetensors`, `training_state.*` and `previews/*.png` are accepted (never a "
        "pickle), and the weights must load and match their hash."
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
        return str(app.store.export_zip(name, app.output_file("zip", "").parent))

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


def _generate_tab(gr: Any, app: App, model_box: Any) -> None:
    with gr.Row():
        with gr.Column(scale=1):
            seed = gr.Number(0, precision=0, label="Seed")
            count = gr.Slider(1, 16, value=4, step=1, label="Number of samples")
            scale_h = gr.Slider(0.5, 3.0, value=1.0, step=0.25, label="Height scale")
            scale_w = gr.Slider(0.5, 3.0, value=1.0, step=0.25, label="Width scale")
            start = gr.Slider(0, 9, value=0, step=1, label="Start scale (0 = all random)")
            generate = gr.Button("Generate", variant="primary", elem_id="generate")
        with gr.Column(scale=2):
            gallery = gr.Gallery(label="Samples", columns=4, elem_id="samples", height="auto")
            sheet = gr.File(label="All samples as one PNG", interactive=False)

    @user_errors
    def on_generate(name: str | None, seed: float, count: float, scale_h: float, scale_w: float, start: float):
        images, path = app.generate(name, int(seed or 0), int(count), float(scale_h), float(scale_w), int(start))
        return [to_pil(picture) for picture in images], str(path)

    generate.click(on_generate, [model_box, seed, count, scale_h, scale_w, start], [gallery, sheet])


def _application_tabs(gr: Any, app: App, model_box: Any) -> None:
    """Harmonize, edit, paint-to-image, super-resolution and animation of a trained SinGAN."""
    with gr.Tab("Harmonize"):
        gr.Markdown("Upload the naive composite (an object pasted onto the training image), paint over the object.")
        with gr.Row():
            harm_editor = gr.ImageEditor(label="Composite + mask strokes", type="numpy", elem_id="harmonize-editor")
            with gr.Column():
                harm_mask = gr.File(label="...or upload a mask (white = object)", elem_id="harmonize-mask")
                harm_start = gr.Slider(1, 9, value=1, step=1, label="Start scale")
                harm_tune = gr.Checkbox(label="Fine-tune on the composite first (slower, better)")
                harm_seed = gr.Number(0, precision=0, label="Seed")
                harm_go = gr.Button("Harmonize", variant="primary", elem_id="harmonize")
        with gr.Row():
            harm_out = gr.Image(label="Blended", interactive=False, elem_id="harmonize-out")
            harm_raw = gr.Image(label="Raw output", interactive=False)

    @user_errors
    def on_harmonize(name: str | None, value: Any, mask_file: str | None, start: float, tune: bool, seed: float):
        image, mask = editor_parts(value, need_mask=mask_file is None)
        if mask_file:
            from patchdna.io import load_mask

            height, width = image.shape[-2:]
            mask = load_mask(app.check_upload(mask_file, "the mask"), size=(height, width))
        assert mask is not None
        result = app.harmonize(name, image, mask, int(start), bool(tune), int(seed or 0))
        return to_pil(result.blended), to_pil(result.raw)

    harm_go.click(
        on_harmonize, [model_box, harm_editor, harm_mask, harm_start, harm_tune, harm_seed], [harm_out, harm_raw]
    )

    with gr.Tab("Edit"):
        gr.Markdown("Upload the edited image (regions moved or copied), paint over the edited regions.")
        with gr.Row():
            edit_editor = gr.ImageEditor(label="Edited image + mask strokes", type="numpy")
            with gr.Column():
                edit_start = gr.Slider(1, 9, value=1, step=1, label="Start scale")
                edit_tune = gr.Checkbox(label="Fine-tune on the edited image first (slower, better)")
                edit_seed = gr.Number(0, precision=0, label="Seed")
                edit_go = gr.Button("Edit", variant="primary")
        with gr.Row():
            edit_out = gr.Image(label="Blended", interactive=False)
            edit_raw = gr.Image(label="Raw output", interactive=False)

    @user_errors
    def on_edit(name: str | None, value: Any, start: float, tune: bool, seed: float):
        image, mask = editor_parts(value, need_mask=True)
        assert mask is not None
        result = app.edit(name, image, mask, int(start), bool(tune), int(seed or 0))
        return to_pil(result.blended), to_pil(result.raw)

    edit_go.click(on_edit, [model_box, edit_editor, edit_start, edit_tune, edit_seed], [edit_out, edit_raw])

    with gr.Tab("Paint to image"):
        gr.Markdown("Paint a rough clip-art of the layout (or upload one); SinGAN turns it into an image.")
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
        painting, _ = editor_parts(value, need_mask=False)
        return to_pil(app.paint(name, painting, int(start), bool(quantize), int(colors), int(seed or 0)))

    paint_go.click(
        on_paint, [model_box, paint_editor, paint_start, paint_quantize, paint_colors, paint_seed], paint_out
    )

    def on_model(name: str | None) -> tuple[Any, ...]:
        first = app.first_image_scale(name)
        return tuple(gr.update(value=first) for _ in range(3))

    model_box.change(on_model, model_box, [harm_start, edit_start, paint_start])

    with gr.Tab("Super-resolution"):
        gr.Markdown("Enlarge the model's training image (or an image like it) with the model's finest scale.")
        with gr.Row():
            with gr.Column():
                sr_image = gr.File(label="Image (default: the model's training image)")
                sr_factor = gr.Slider(1.0, 4.0, value=2.0, step=0.25, label="Factor")
                sr_go = gr.Button("Super-resolve", variant="primary")
            sr_out = gr.Image(label="Result", interactive=False)
            sr_file = gr.File(label="Download", interactive=False)

    @user_errors
    def on_sr(name: str | None, path: str | None, factor: float):
        result, file = app.super_resolve(name, path, float(factor))
        return to_pil(result), str(file)

    sr_go.click(on_sr, [model_box, sr_image, sr_factor], [sr_out, sr_file])

    with gr.Tab("Animate"):
        with gr.Row():
            with gr.Column():
                frames = gr.Slider(10, 200, value=40, step=10, label="Frames")
                fps = gr.Slider(2, 30, value=10, step=1, label="Frames per second")
                alpha = gr.Slider(0.0, 1.0, value=0.1, step=0.05, label="alpha (pull towards the image)")
                beta = gr.Slider(0.0, 0.95, value=0.9, step=0.05, label="beta (momentum of the walk)")
                start = gr.Slider(0, 9, value=0, step=1, label="Start scale")
                seed = gr.Number(0, precision=0, label="Seed")
                go = gr.Button("Animate", variant="primary", elem_id="animate")
            with gr.Column():
                video = gr.Video(label="Animation", interactive=False, autoplay=True, loop=True, elem_id="anim-video")
                files = gr.File(label="MP4 and GIF", file_count="multiple", interactive=False, elem_id="anim-files")

    @user_errors
    def on_animate(name: str | None, frames: float, fps: float, alpha: float, beta: float, start: float, seed: float):
        mp4, gif = app.animate(
            name, int(frames), float(fps), float(alpha), float(beta), int(start), int(seed or 0)
        )  # fmt: skip
        return str(mp4), [str(mp4), str(gif)]

    go.click(on_animate, [model_box, frames, fps, alpha, beta, start, seed], [video, files])


def _retarget_tab(gr: Any, app: App, model_box: Any) -> None:
    """InGAN: retarget the model's image; the output follows the sliders as they move."""
    with gr.Row():
        with gr.Column(scale=1):
            scale_h = gr.Slider(0.25, 3.0, value=1.0, step=0.05, label="Height factor", elem_id="retarget-h")
            scale_w = gr.Slider(0.25, 3.0, value=1.5, step=0.05, label="Width factor", elem_id="retarget-w")
            left = gr.Slider(-0.5, 0.5, value=0.0, step=0.05, label="Shift of the top-left corner (non-rectangular)")
            right = gr.Slider(-0.5, 0.5, value=0.0, step=0.05, label="Shift of the top-right corner")
            with gr.Row():
                collage_go = gr.Button("Collage")
                video_go = gr.Button("Video")
        with gr.Column(scale=2):
            output = gr.Image(label="Retargeted", interactive=False, elem_id="retarget-out", height=320)
            shaped = gr.Image(
                label="Non-rectangular (transparent outside)", interactive=False, image_mode="RGBA", height=320
            )
            files = gr.File(label="Downloads", file_count="multiple", interactive=False)

    @user_errors
    def on_scale(name: str | None, height: float, width: float):
        if not name:
            return gr.skip()
        return to_pil(app.retarget(name, float(height), float(width)))

    for slider in (scale_h, scale_w):
        slider.change(on_scale, [model_box, scale_h, scale_w], output, trigger_mode="always_last")

    @user_errors
    def on_shift(name: str | None, left: float, right: float):
        if not name:
            return gr.skip()
        return to_pil(app.shift(name, float(left), float(right)))

    for slider in (left, right):
        slider.change(on_shift, [model_box, left, right], shaped, trigger_mode="always_last")

    @user_errors
    def on_collage(name: str | None):
        grid, path = app.collage(name)
        return to_pil(grid), [str(path)]

    collage_go.click(on_collage, model_box, [output, files])

    @user_errors
    def on_video(name: str | None):
        mp4, gif = app.retarget_video(name)
        return [str(mp4), str(gif)]

    video_go.click(on_video, model_box, files)


def _translate_tab(gr: Any, app: App, model_box: Any) -> None:
    """InstaGAN: translate an image and its instance masks (A -> B or B -> A)."""
    with gr.Row():
        with gr.Column():
            image = gr.File(label="Image", elem_id="translate-image")
            masks = gr.File(
                label="Instance masks (one file per instance, white = inside)",
                file_count="multiple",
                elem_id="translate-masks",
            )
            direction = gr.Radio(["AtoB", "BtoA"], value="AtoB", label="Direction")
            ins_per = gr.Slider(1, 4, value=2, step=1, label="Instances per pass")
            go = gr.Button("Translate", variant="primary", elem_id="translate-go")
        with gr.Column():
            output = gr.Image(label="Translated", interactive=False, elem_id="translate-out")
            output_masks = gr.Gallery(label="Translated masks", columns=4, elem_id="translate-masks-out")

    @user_errors
    def on_translate(name: str | None, path: str | None, mask_paths: list[str] | None, direction: str, per: float):
        result = app.translate(name, path, mask_paths, direction, int(per))
        return to_pil(result.image), [to_pil(mask[None].expand(3, -1, -1)) for mask in result.masks[0]]

    go.click(on_translate, [model_box, image, masks, direction, ins_per], [output, output_masks])
