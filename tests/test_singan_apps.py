"""SinGAN applications on a tiny model: super-resolution, paint-to-image, harmonization, editing, animation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from images_fixtures import make_texture
from PIL import Image

from patchdna import singan
from patchdna.cli import main
from patchdna.errors import ConfigError, InputImageError
from patchdna.singan.superres import sr_config, sr_steps
from patchdna.video import read_video_frames

TINY = dict(min_size=12, max_size=40, num_scales=3, iterations=12, crop_size=24, sample_pool=3)
SIZE = (32, 40)


def _image(height: int = 32, width: int = 40, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(make_texture(height, width, seed)).permute(2, 0, 1)[None].float() / 255


def _box_mask(height: int, width: int) -> torch.Tensor:
    mask = torch.zeros(1, 1, height, width)
    mask[..., height // 3 : height // 2, width // 3 : width // 2] = 1
    return mask


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("apps") / "model"
    model = singan.train(_image(), folder, config=singan.preset("diverse", **TINY), device="cpu", show_progress=False)
    return model, folder


def _check(image: torch.Tensor, shape: tuple[int, ...]) -> None:
    assert tuple(image.shape) == shape
    assert torch.isfinite(image).all() and image.min() >= 0 and image.max() <= 1


# -- super-resolution --------------------------------------------------------------------------------------
def test_sr_steps_match_the_paper():
    steps, step = sr_steps(4)
    assert steps == 6 and step == pytest.approx(1.26, abs=0.01)
    assert sr_steps(1.05)[0] == 1  # small factors still take one step
    config = sr_config(4, singan.preset("diverse"), long_side=300)
    assert config.reconstruction_weight == 100 and config.min_size == 18 and config.max_size == 300
    assert config.scale_factor == pytest.approx(1 / 1.26, abs=0.01) and config.spacing == "uniform"


def test_super_resolve_trains_and_upscales(tmp_path):
    small = _image(20, 26)
    config = singan.preset("diverse", iterations=4, crop_size=24, sample_pool=2)
    out = singan.super_resolve(small, 2.5, device="cpu", config=config, out=tmp_path / "sr")
    _check(out, (1, 3, 50, 65))
    again = singan.super_resolve(small, 2.5, model=tmp_path / "sr")  # reuses the trained folder
    assert torch.allclose(out, again)
    assert torch.equal(singan.super_resolve(small, 1.0), small)


def test_upscale_with_any_model_and_bad_factor(tiny):
    model, _ = tiny
    _check(singan.upscale(model, _image(16, 20), 3), (1, 3, 48, 60))
    _check(singan.upscale(model, None, 1.5), (1, 3, 48, 60))
    for factor in (0.5, float("nan"), 100):
        with pytest.raises(ConfigError, match="factor"):
            singan.upscale(model, None, factor)
    for detail in (0.0, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="detail"):
            singan.upscale(model, None, 2, detail=detail)


def test_upscale_consistency_and_detail(tiny):
    from patchdna.ops import resize

    model, _ = tiny
    small = _image(16, 20)
    bicubic = resize(small, (48, 60)).clamp(0, 1)

    def shrunk_error(result: torch.Tensor) -> float:
        return (resize(result, (16, 20)) - small).abs().mean().item()

    paper = singan.upscale(model, small, 3, detail=1.0, consistency=False)
    projected = singan.upscale(model, small, 3, detail=1.0, consistency=True)
    # back-projection keeps the result consistent with its input once shrunk back
    assert shrunk_error(projected) < 0.5 * shrunk_error(paper)
    # less detail stays closer to plain bicubic upsampling
    gentle = singan.upscale(model, small, 3, detail=0.2, consistency=False)
    assert (gentle - bicubic).abs().mean() < (paper - bicubic).abs().mean()


# -- paint-to-image -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("start_scale", [0, 1, 2])
def test_paint_of_another_aspect_gives_the_model_size(tiny, start_scale):
    model, _ = tiny
    paint = torch.rand(1, 3, 90, 30)  # tall paint for a wide model: resized, not refused
    _check(singan.paint_to_image(model, paint, start_scale=start_scale, seed=1), (1, 3, *SIZE))


def test_paint_quantized_retrains_a_copy(tiny):
    model, folder = tiny
    before = [p.clone() for p in model.generators[1].parameters()]
    out = singan.paint_to_image(folder, _image(), start_scale=1, quantize=True, colors=3, iterations=3)
    _check(out, (1, 3, *SIZE))
    assert all(torch.equal(a, b) for a, b in zip(before, model.generators[1].parameters()))


def test_paint_bad_inputs(tiny):
    model, _ = tiny
    with pytest.raises(ConfigError, match="start scale must be in 0..2"):
        singan.paint_to_image(model, _image(), start_scale=3)
    with pytest.raises(ConfigError, match="quantisation needs start scale >= 1"):
        singan.paint_to_image(model, _image(), start_scale=0, quantize=True)
    with pytest.raises(ConfigError, match="colors"):
        singan.paint_to_image(model, _image(), start_scale=1, colors=1)
    with pytest.raises(InputImageError, match="paint must be"):
        singan.paint_to_image(model, torch.rand(3, 3, 8, 8), start_scale=1)


# -- harmonization and editing -------------------------------------------------------------------------------
def test_harmonize_outputs_and_blend(tiny):
    model, _ = tiny
    naive = _image(64, 80, seed=3)  # twice the model's size: resized, not refused
    result = singan.harmonize(model, naive, _box_mask(48, 60), start_scale=1, seed=2)
    for image in (result.blended, result.raw):
        _check(image, (1, 3, *SIZE))
    assert result.mask.shape == (1, 1, *SIZE) and result.mask.max() == 1
    outside = result.mask == 0
    reference = torch.nn.functional.interpolate(naive, size=SIZE, mode="bicubic", antialias=True).clamp(0, 1)
    assert outside.any() and torch.allclose(result.blended * outside, reference * outside, atol=1e-5)


def test_harmonize_fine_tune_and_edit(tiny):
    model, _ = tiny
    tuned = singan.harmonize(model, _image(), _box_mask(*SIZE), start_scale=2, fine_tune=True, fine_tune_iterations=3)
    _check(tuned.blended, (1, 3, *SIZE))
    edited = singan.edit(model, _image(), _box_mask(*SIZE), start_scale=1)
    harmonized = singan.harmonize(model, _image(), _box_mask(*SIZE), start_scale=1)
    assert edited.mask.sum() > harmonized.mask.sum()  # editing dilates more (radius 20 vs 7)
    edited_tuned = singan.edit(model, _image(), _box_mask(*SIZE), start_scale=1, fine_tune=True, fine_tune_iterations=3)
    _check(edited_tuned.raw, (1, 3, *SIZE))
    assert not torch.equal(edited_tuned.raw, edited.raw)  # the finest scale was retrained on the edit
    # ... on a copy: the caller's model still gives the untuned result
    assert torch.equal(singan.edit(model, _image(), _box_mask(*SIZE), start_scale=1).raw, edited.raw)
    with pytest.raises(ConfigError, match=">= 1 iteration"):  # 0 is a mistake, not "the default"
        singan.edit(model, _image(), _box_mask(*SIZE), start_scale=1, fine_tune=True, fine_tune_iterations=0)


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "LA"])
def test_mask_files_of_any_format_and_size(tiny, tmp_path, mode):
    model, folder = tiny
    box = (_box_mask(50, 70)[0, 0].numpy() * 255).astype(np.uint8)
    if mode == "L":
        image = Image.fromarray(box, "L")
    elif mode == "RGB":
        image = Image.fromarray(np.stack([box] * 3, axis=2), "RGB")
    else:  # the mask is the alpha channel of a cut-out
        colour = np.full((50, 70, 3 if mode == "RGBA" else 1), 128, np.uint8)
        image = Image.fromarray(np.concatenate([colour, box[..., None]], axis=2).squeeze(), mode)
    path = tmp_path / f"mask_{mode}.png"
    image.save(path)
    result = singan.harmonize(folder, _image(), path, start_scale=1)
    assert 0 < result.mask.mean() < 1


def test_mask_tensors_in_other_layouts(tiny):
    model, _ = tiny
    as_bytes = _box_mask(16, 20) * 255  # 0..255 values
    as_rgb = _box_mask(16, 20).expand(1, 3, 16, 20)
    as_2d = _box_mask(16, 20)[0, 0]
    masks = [singan.edit(model, _image(), m, start_scale=1).mask for m in (as_bytes, as_rgb, as_2d)]
    assert torch.allclose(masks[0], masks[1]) and torch.allclose(masks[0], masks[2])


def test_empty_and_full_masks(tiny):
    model, _ = tiny
    with pytest.raises(ConfigError, match="mask is empty"):
        singan.harmonize(model, _image(), torch.zeros(1, 1, 8, 8), start_scale=1)
    full = singan.edit(model, _image(), torch.ones(1, 1, 8, 8), start_scale=1)
    assert torch.equal(full.blended, full.raw)  # documented: the whole image is regenerated
    with pytest.raises(ConfigError, match="start scale"):
        singan.edit(model, _image(), _box_mask(*SIZE), start_scale=-1)


# -- animation -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix, start_scale", [(".mp4", 0), (".gif", 1)])
def test_animation_files_have_the_asked_frames(tiny, tmp_path, suffix, start_scale):
    model, _ = tiny
    path = tmp_path / f"walk{suffix}"
    frames = singan.animate(model, path, frames=5, fps=10, start_scale=start_scale, seed=1)
    _check(frames, (5, 3, *SIZE))
    read = read_video_frames(path)
    assert len(read) == 5 and read[0].shape[:2] in (SIZE, (SIZE[0] + SIZE[0] % 2, SIZE[1] + SIZE[1] % 2))
    assert not torch.equal(frames[0], frames[-1])


def test_animation_is_smooth_and_reproducible(tiny):
    model, _ = tiny
    frames = singan.animate(model, frames=6, seed=4)
    assert torch.equal(frames, singan.animate(model, frames=6, seed=4))
    # the noise walk is drawn before batching, so the batch size changes only speed
    assert torch.allclose(frames, singan.animate(model, frames=6, seed=4, batch_size=4), atol=1e-5)
    steps = (frames[1:] - frames[:-1]).abs().mean()
    independent = (singan.sample(model, 2, seed=5)[0] - singan.sample(model, 2, seed=5)[1]).abs().mean()
    assert steps < independent


def test_animation_bad_arguments(tiny, tmp_path):
    model, _ = tiny
    for kwargs, message in [
        ({"frames": 0}, "frames"),
        ({"alpha": 1.5}, "alpha"),
        ({"beta": 1.0}, "beta"),
        ({"start_scale": 7}, "start scale"),
        ({"fps": 0}, "fps"),
    ]:
        with pytest.raises(ConfigError, match=message):
            singan.animate(model, **kwargs)
    with pytest.raises(ConfigError, match=".mp4 or .gif"):
        singan.animate(model, tmp_path / "walk.avi", frames=2)


def test_animation_config():
    config = singan.animation_config(singan.preset("diverse"))
    assert config.noise_padding and config.reconstruction_weight == 100 and config.min_size == 20


# -- CLI -----------------------------------------------------------------------------------------------------
def test_cli_applications_end_to_end(tiny, tmp_path, capsys):
    _, folder = tiny
    naive, mask = tmp_path / "naive.png", tmp_path / "mask.png"
    Image.fromarray(make_texture(48, 60, seed=7)).save(naive)
    Image.fromarray((_box_mask(48, 60)[0, 0].numpy() * 255).astype(np.uint8)).save(mask)
    out = tmp_path / "out"
    common = ["--mask", str(mask), "--start-scale", "1", "--device", "cpu"]
    assert main(["singan", "harmonize", str(folder), str(naive), *common, "--out", str(out / "h.png")]) == 0
    edit_args = ["--fine-tune", "--fine-tune-iterations", "2", "--out", str(out / "e.png")]
    assert main(["singan", "edit", str(folder), str(naive), *common, *edit_args]) == 0
    assert (out / "h.png").exists() and (out / "h_raw.png").exists() and (out / "e_raw.png").exists()
    assert main(["singan", "paint", str(folder), str(naive), "--start-scale", "2", "--out", str(out / "p.png")]) == 0
    assert Image.open(out / "p.png").size == (40, 32)
    gif = out / "a.gif"
    assert main(["singan", "animate", str(folder), "--frames", "3", "--out", str(gif)]) == 0
    assert len(read_video_frames(gif)) == 3
    assert "animation settings" in capsys.readouterr().err  # the tiny model was not trained for animation
    sr_args = ["singan", "sr", str(naive), "--model", str(folder), "--factor", "1.5", "--device", "cpu"]
    assert main([*sr_args, "--out", str(out / "s.png")]) == 0
    assert main([*sr_args, "--paper-loop", "--out", str(out / "s_paper.png")]) == 0
    assert Image.open(out / "s.png").size == Image.open(out / "s_paper.png").size == (90, 72)
    assert not np.array_equal(np.asarray(Image.open(out / "s.png")), np.asarray(Image.open(out / "s_paper.png")))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["paint", "{model}", "{image}", "--start-scale", "9", "--out", "{tmp}/p.png"], "start scale must be in"),
        (["edit", "{model}", "{image}", "--mask", "{tmp}/none.png", "--start-scale", "1", "--out", "{tmp}/e.png"], ""),
        (["animate", "{model}", "--out", "{tmp}/a.avi"], ".mp4 or .gif"),
        (["sr", "{image}", "--factor", "0.5", "--out", "{tmp}/s.png"], "factor"),
        (["sr", "{image}", "--model", "{model}", "--detail", "2", "--out", "{tmp}/s.png"], "detail"),
    ],
)
def test_cli_mistakes_are_one_line_errors(tiny, tmp_path, capsys, argv, message):
    _, folder = tiny
    image = tmp_path / "image.png"
    Image.fromarray(make_texture(32, 40)).save(image)
    argv = [a.format(model=folder, image=image, tmp=tmp_path) for a in argv]
    assert main(["singan", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("patchdna: error:") and message in err and "\n" not in err


def test_cli_animate_retrains_with_the_animation_settings(tiny, tmp_path, capsys):
    _, folder = tiny
    kept = tmp_path / "anim_model"
    argv = ["singan", "animate", str(folder), "--retrain", "--iterations", "2", "--frames", "2"]
    assert main([*argv, "--model-out", str(kept), "--out", str(tmp_path / "a.mp4"), "--device", "cpu"]) == 0
    retrained = singan.load(kept)
    assert retrained.config.noise_padding and retrained.config.reconstruction_weight == 100
    assert len(read_video_frames(tmp_path / "a.mp4")) == 2
    assert "animation settings" not in capsys.readouterr().err
