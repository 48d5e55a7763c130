"""What the web UI does without the web: `patchdna.ui.core.App` over tiny models of every family."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from images_fixtures import make_texture, save_tiny_instagan, write_scene_with_box_masks
from PIL import Image

from patchdna.errors import PatchDNAError
from patchdna.ui.core import App, UISettings, editor_parts, to_pil
from patchdna.ui.store import UploadError


def _wait(app: App, job_id: int, timeout: float = 120.0) -> str:
    pause = threading.Event()
    for _ in range(int(timeout / 0.05)):
        line, _, finished = app.describe(job_id)
        if finished:
            return line
        pause.wait(0.05)
    raise AssertionError(f"training did not finish: {app.describe(job_id)[0]}")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    base = tmp_path_factory.mktemp("ui_core")
    instance = App(UISettings(models_root=base / "models", device="cpu", max_upload_mb=0.05, work_dir=base / "work"))
    yield instance
    instance.jobs.shutdown()


@pytest.fixture(scope="module")
def image_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ui_inputs") / "texture.png"
    Image.fromarray(make_texture(32, 40)).save(path)
    return path


@pytest.fixture(scope="module")
def singan_name(app, image_file):
    job = app.start_training(str(image_file), "singan", "tiny", "tex", 0)
    line = _wait(app, job.id)
    assert line.startswith("Training finished: saved as model 'tex'"), line
    assert app.describe(job.id)[1] is not None  # a preview sheet was shown
    return "tex"


def test_singan_training_listing_and_generation(app, singan_name):
    assert [value for _, value in app.model_choices()] == [singan_name]
    images, sheet = app.generate(singan_name, seed=3, count=3, scale_h=1.0, scale_w=1.5, start_scale=1)
    model = app.model(singan_name)
    height, width = model.sizes[-1]
    assert images.shape == (3, 3, height, round(width * 1.5)) and sheet.is_file()
    again, _ = app.generate(singan_name, seed=3, count=3, scale_h=1.0, scale_w=1.5, start_scale=1)
    assert torch.equal(images, again)
    with pytest.raises(PatchDNAError, match="start scale must be 0..2"):
        app.generate(singan_name, 0, 1, 1.0, 1.0, start_scale=5)
    with pytest.raises(PatchDNAError, match="already exists"):
        app.start_training(None, "singan", "tiny", singan_name, 0)


def test_singan_applications(app, singan_name):
    model = app.model(singan_name)
    height, width = model.sizes[-1]
    image = torch.rand(1, 3, height, width)
    mask = torch.zeros(1, 1, height, width)
    mask[..., 8:20, 8:20] = 1
    harmonized = app.harmonize(singan_name, image, mask, start_scale=1, fine_tune=False, seed=0)
    assert harmonized.blended.shape == (1, 3, height, width)
    edited = app.edit(singan_name, image, mask, start_scale=1, fine_tune=False, seed=0)
    assert edited.raw.shape == (1, 3, height, width)
    painted = app.paint(singan_name, image, start_scale=1, quantize=False, colors=5, seed=0)
    assert painted.shape == (1, 3, height, width)
    upscaled, png = app.super_resolve(singan_name, None, 1.5)
    assert upscaled.shape[-1] == round(width * 1.5) and png.is_file()
    mp4, gif = app.animate(singan_name, frames=4, fps=4, alpha=0.1, beta=0.9, start_scale=0, seed=0)
    assert mp4.stat().st_size > 0 and Image.open(gif).n_frames == 4


def test_cancel_a_training(app, image_file):
    job = app.start_training(str(image_file), "singan", "fast", "cancelled", 0)
    app.jobs.cancel(job.id)
    line = _wait(app, job.id)
    assert line.startswith("Training cancelled")


def test_ingan_training_and_retargeting(app, image_file, singan_name):
    pytest.importorskip("patchdna.ingan")
    job = app.start_training(str(image_file), "ingan", "tiny", "ingan-tex", 0)
    assert _wait(app, job.id).startswith("Training finished"), app.describe(job.id)[0]
    wide = app.retarget("ingan-tex", 1.0, 2.0)
    model = app.model("ingan-tex", "ingan")
    height, width = model.image_size
    assert wide.shape == (1, 3, height, 2 * width)
    shaped = app.shift("ingan-tex", 0.2, -0.2)
    assert shaped.shape == (1, 4, height, width) and to_pil(shaped).mode == "RGBA"
    grid, path = app.collage("ingan-tex")
    assert grid.shape[-1] > 4 * width and path.is_file()
    with pytest.raises(PatchDNAError, match="works with SinGAN models"):
        app.generate("ingan-tex", 0, 1, 1.0, 1.0, 0)
    with pytest.raises(PatchDNAError, match="works with InGAN models"):
        app.retarget(singan_name, 1.0, 1.0)


def test_instagan_translation(app, tmp_path):
    pytest.importorskip("patchdna.instagan")
    save_tiny_instagan(app.store.root / "shapes")
    image, masks = write_scene_with_box_masks(tmp_path)
    result = app.translate("shapes", str(image), [str(m) for m in masks], "AtoB", 2)
    assert result.image.shape[:2] == (1, 3) and result.masks.shape[:2] == (1, 2)
    with pytest.raises(UploadError, match="at least one instance mask"):
        app.translate("shapes", str(image), [], "AtoB", 2)


def test_uploads_are_checked(app, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(b"\0" * 60_000)  # over the 0.05 MB limit of this App
    with pytest.raises(UploadError, match="too large"):
        app.check_upload(str(big), "the image")
    text = tmp_path / "notes.png"
    text.write_text("not an image")
    with pytest.raises(PatchDNAError, match="not a readable image.*'notes.png'") as caught:
        app.read_image(text)
    assert str(tmp_path) not in str(caught.value)  # the server's upload folder is not shown
    with pytest.raises(UploadError, match="invalid model name"):
        app.start_training(None, "singan", "tiny", "../up", 0)
    with pytest.raises(PatchDNAError, match="choose a model first"):
        app.model(None)


def test_editor_parts():
    background = np.full((10, 12, 3), 128, dtype=np.uint8)
    strokes = np.zeros((10, 12, 4), dtype=np.uint8)
    strokes[2:5, 3:6] = (255, 0, 0, 255)
    image, mask = editor_parts({"background": background, "layers": [strokes], "composite": background}, True)
    assert image.shape == (1, 3, 10, 12) and abs(image.mean().item() - 128 / 255) < 1e-6
    assert mask is not None and mask.sum().item() == 9 and mask[0, 0, 3, 4] == 1
    with pytest.raises(UploadError, match="draw over the region"):
        editor_parts({"background": background, "layers": [], "composite": background}, True)
    with pytest.raises(UploadError, match="upload an image"):
        editor_parts(None, False)


def test_cli_help_does_not_need_gradio():
    import subprocess
    import sys

    code = (
        "import sys; from patchdna.cli import main\n"
        "try:\n    main(['ui', '--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "assert 'gradio' not in sys.modules, 'patchdna ui --help imported gradio'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    for option in ("--host", "--port", "--models", "--max-upload-mb", "--device"):
        assert option in result.stdout


def test_first_image_scale_skips_a_feature_cascade(app, image_file, singan_name):
    from patchdna import singan

    # The tabs' start sliders move to the first scale that takes an image: 1 for per-scale models (and for
    # anything that is not a SinGAN model), the cascade's top for a `fast` model.
    assert app.first_image_scale(singan_name) == 1
    assert app.first_image_scale(None) == 1
    assert app.first_image_scale("no-such-model") == 1
    tiny_fast = singan.preset(
        "fast", min_size=12, max_size=40, num_scales=4, iterations=3, crop_size=24, sample_pool=2, cascade_max_size=30
    )
    folder = app.settings.models_root / "cascade-tex"
    model = singan.train(str(image_file), folder, config=tiny_fast, device="cpu", show_progress=False)
    assert model.num_cascade >= 2
    first = app.first_image_scale("cascade-tex")
    assert first == model.num_cascade
    height, width = model.sizes[-1]
    image, mask = torch.rand(1, 3, height, width), torch.zeros(1, 1, height, width)
    mask[..., 8:20, 8:20] = 1
    assert app.harmonize("cascade-tex", image, mask, first, False, 0).blended.shape == (1, 3, height, width)
    with pytest.raises(PatchDNAError, match="feature cascade"):
        app.harmonize("cascade-tex", image, mask, first - 1, False, 0)
