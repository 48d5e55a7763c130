"""InGAN contract tests on tiny images: training, save -> load, retarget shapes, outputs, errors, CLI."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from patchdna import ingan
from patchdna.cli import main
from patchdna.errors import ConfigError, InputImageError, ModelFolderError
from patchdna.ingan.inference import tile_margin
from patchdna.video import read_video_frames

TINY = dict(
    widths=(4, 8, 8, 16),
    bottleneck_blocks=1,
    discriminator_width=4,
    crop_size=16,
    iterations=4,
    curriculum_end=0.5,
    extra_inverse_step=True,  # runs in the second half
    checkpoint_every=2,
    preview_every=2,
    segment_length=8,  # several segments and quilted joins even on a 16 px crop
    segment_overlap=4,
)
# The paper's transform (a bilinear stretch of the features, tanh output) beside `fast`'s segment resize.
BILINEAR = dict(resize_mode="bilinear", residual_output=False)


def tiny_image(height: int = 24, width: int = 28, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.linspace(0, 6, height), torch.linspace(0, 6, width), indexing="ij")
    stripes = torch.stack([xs.sin(), (xs + ys).cos(), ys.sin()]) * 0.4 + 0.5
    return (stripes[None] + 0.05 * torch.rand(1, 3, height, width, generator=generator)).clamp(0, 1)


@pytest.fixture(scope="module", params=["segments", "bilinear"])
def trained(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("ingan") / "model"
    config = ingan.preset("fast", **TINY, **(BILINEAR if request.param == "bilinear" else {}))
    model = ingan.train(tiny_image(), folder, config, device="cpu", progress=False)
    return folder, model


def test_tiny_training_writes_a_model_folder(trained):
    folder, model = trained
    config = json.loads((folder / "config.json").read_text())
    assert config["family"] == "ingan" and config["iterations_done"] == 4
    assert (folder / "model.safetensors").is_file() and (folder / "training_state.json").is_file()
    assert (folder / "previews" / "final.png").is_file()
    assert model.image_size == (24, 28)


@pytest.mark.parametrize("size", [(17, 31), (9, 9), (24, 53), (1, 1)])
def test_retarget_any_size_including_odd(trained, size):
    out = ingan.retarget(trained[1], size)
    assert out.shape == (1, 3, *size)
    assert 0 <= out.min() and out.max() <= 1


def test_scales_are_height_by_width(trained):
    outs = ingan.retarget_scales(trained[1], [(0.5, 1.0), (1.0, 2.0)])
    assert [tuple(o.shape[-2:]) for o in outs] == [(12, 28), (24, 56)]


def test_save_load_gives_identical_outputs(trained):
    folder, model = trained
    again = ingan.load(folder, device="cpu")
    for size in [(24, 28), (19, 45)]:
        torch.testing.assert_close(ingan.retarget(again, size), ingan.retarget(model, size), atol=0, rtol=0)


def test_tiled_output_matches_whole_output(trained):
    model = trained[1]
    size = (40, 200)
    assert tile_margin(model) < 200
    whole = ingan.retarget(model, size)
    tiled = ingan.retarget(model, size, tile=64)
    torch.testing.assert_close(tiled, whole, atol=1e-4, rtol=0)


def test_collage_and_video_files_are_written(trained, tmp_path):
    model = trained[1]
    sheet = ingan.collage(model, pad=2)
    assert sheet.shape[0] == 1 and sheet.shape[1] == 3
    for name in ("loop.gif", "loop.mp4"):
        path = ingan.video(model, tmp_path / name, frames=4, fps=4)
        frames = read_video_frames(path)
        assert len(frames) == 4 and frames[0].shape[2] == 3


def test_rgba_warp_has_transparent_corners(trained):
    model = trained[1]
    rgba = ingan.warp_output(model, ingan.shift_matrix(0.3, -0.3), (24, 28), background=None)
    assert rgba.shape == (1, 4, 24, 28)
    alpha = rgba[0, 3]
    assert alpha[0, 0] == 0 and alpha[0, -1] == 0 and alpha[12, 14] == 1
    white = ingan.warp_output(model, ingan.shift_matrix(0.3, -0.3), background=(1.0, 1.0, 1.0))
    assert white.shape == (1, 3, 24, 28) and torch.all(white[0, :, 0, 0] == 1)


@pytest.mark.parametrize("size", [(0, 10), (-5, 10), (100_000, 100_000)])
def test_bad_sizes_raise_clear_errors(trained, size):
    with pytest.raises(ConfigError, match="size"):
        ingan.retarget(trained[1], size)


def test_bad_scale_and_warp_raise(trained):
    with pytest.raises(ConfigError, match="scales"):
        ingan.retarget(trained[1], scale=(0.0, 1.0))
    with pytest.raises(ConfigError, match="invertible"):
        ingan.homography_matrix([0.0] * 9)
    with pytest.raises(ConfigError, match="6 numbers"):
        ingan.affine_matrix([1.0, 2.0])


def test_bad_config_and_tiny_image_raise(tmp_path):
    with pytest.raises(ConfigError, match="min_scale"):
        ingan.preset("fast", min_scale=1.5)
    with pytest.raises(ConfigError, match="preset"):
        ingan.preset("slow")
    with pytest.raises(InputImageError, match="too small"):
        ingan.train(torch.rand(1, 3, 8, 40), tmp_path / "m", ingan.preset("fast", **TINY), progress=False)


def test_load_refuses_damaged_or_foreign_folders(trained, tmp_path):
    with pytest.raises(ModelFolderError, match="not found"):
        ingan.load(tmp_path / "missing")
    folder = tmp_path / "other"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"family": "singan", "format_version": 1, "config": {}}))
    with pytest.raises(ModelFolderError, match="singan"):
        ingan.load(folder)


def test_resume_continues_to_the_same_weights(tmp_path):
    config = ingan.preset("fast", **TINY)
    straight = ingan.train(tiny_image(), tmp_path / "a", config, device="cpu", progress=False, previews=False)
    half = ingan.preset("fast", **{**TINY, "iterations": 4})
    folder = tmp_path / "b"
    with pytest.raises(KeyboardInterrupt):  # an interrupted run saves its state before stopping
        ingan.train(tiny_image(), folder, half, device="cpu", progress=False, previews=False, callback=_stop_after(2))
    resumed = ingan.train(tiny_image(), folder, half, device="cpu", progress=False, previews=False, resume=True)
    torch.testing.assert_close(ingan.retarget(resumed, (24, 40)), ingan.retarget(straight, (24, 40)))


def _stop_after(iterations):
    def callback(iteration, losses):
        if iteration >= iterations:
            raise KeyboardInterrupt

    return callback


def test_cli_train_and_retarget_end_to_end(tmp_path, capsys):
    image = tmp_path / "in.png"
    Image.fromarray((tiny_image()[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(image)
    folder, out = tmp_path / "model", tmp_path / "out"
    code = main(["ingan", "train", str(image), "--out", str(folder), "--iterations", "2", "--device", "cpu"])
    assert code == 0 and (folder / "config.json").is_file()
    args = ["ingan", "retarget", str(folder), "--out", str(out), "--size", "13x37", "--scales", "1x0.5,2"]
    assert main(args) == 0
    assert Image.open(out / "ingan_13x37.png").size == (37, 13)
    assert Image.open(out / "ingan_scale_2x2.png").size == (56, 48)  # PIL sizes are (W, H)
    assert (
        main(["ingan", "retarget", str(folder), "--out", str(out), "--shift", "0.2,-0.2", "--background", "none"]) == 0
    )
    assert Image.open(out / "ingan_warp.png").mode == "RGBA"
    assert main(["ingan", "retarget", str(folder), "--out", str(out)]) == 2
    assert "nothing to do" in capsys.readouterr().err
    assert main(["ingan", "retarget", str(tmp_path / "nope"), "--size", "8x8"]) == 2
    assert main(["ingan", "train", str(image), "--out", str(folder), "--iterations", "2"]) == 2  # already a model


def test_identity_weight_is_validated_and_old_folders_load_without_it():
    with pytest.raises(ConfigError, match="identity_weight"):
        ingan.preset("fast", identity_weight=-1.0)
    old = ingan.preset("fast").to_dict()
    del old["identity_weight"]  # a config.json written before this option
    assert ingan.InGANConfig.from_dict(old).identity_weight == 0.0


def test_identity_loss_is_logged_only_when_weighted():
    from patchdna.ingan.training import Trainer

    for weight, logged in ((0.0, False), (2.0, True)):
        config = ingan.preset("fast", **{**TINY, "iterations": 2, "identity_weight": weight})
        trainer = Trainer(tiny_image(), config, torch.device("cpu"), seed=0)
        assert ("identity" in trainer.step()) is logged


def test_identity_loss_pulls_g_towards_the_identity_at_1x():
    # The cycle loss alone is also met by colour reflections (G(G(x)) = x with an inverted G); the identity term
    # is what ties G(x; id) to x. A few steps on a tiny net must already bring G(x) closer to x with it.
    from patchdna.ingan.training import Trainer

    errors = {}
    for weight in (0.0, 5.0):
        config = ingan.preset("fast", **{**TINY, "iterations": 30, "identity_weight": weight, "lr": 1e-3})
        trainer = Trainer(tiny_image(), config, torch.device("cpu"), seed=0)
        for _ in range(30):
            trainer.step()
        trainer.generator.eval()
        with torch.no_grad():
            errors[weight] = (trainer.generator(trainer.image) - trainer.image).abs().mean().item()
    assert errors[5.0] < errors[0.0]


@pytest.mark.parametrize("levels", [0, 1, 3])
def test_generator_upsample_order_keeps_output_shapes(levels):
    from patchdna.ingan.networks import Generator

    generator = Generator(widths=(4, 8, 8, 16), bottleneck_blocks=1, upsample_first_levels=levels).eval()
    assert generator.upsample_first == [i >= 3 - levels for i in range(3)]
    with torch.no_grad():
        out = generator(torch.rand(1, 3, 20, 28) * 2 - 1, (13, 45))
    assert out.shape == (1, 3, 13, 45)


def test_paper_upsample_order_and_old_folders_load_as_before():
    assert ingan.preset("paper").upsample_first_levels == 3  # the paper's order: upsample, then conv
    old = ingan.preset("fast").to_dict()
    del old["upsample_first_levels"]  # a config.json written before this option
    assert ingan.InGANConfig.from_dict(old).upsample_first_levels == 0
    with pytest.raises(ConfigError, match="upsample_first_levels"):
        ingan.preset("fast", upsample_first_levels=4)


def test_patch_loss_weight_is_validated_and_old_folders_load_without_it():
    assert ingan.preset("paper").patch_loss_weight == 0.0  # not in the paper
    for bad, match in (({"patch_loss_weight": -1.0}, "patch_loss_weight"), ({"patch_loss_levels": 0}, "levels")):
        with pytest.raises(ConfigError, match=match):
            ingan.preset("fast", **bad)
    old = ingan.preset("fast").to_dict()
    for key in ("patch_loss_weight", "patch_loss_levels", "patch_loss_size"):
        del old[key]  # a config.json written before this option
    assert ingan.InGANConfig.from_dict(old).patch_loss_weight == 0.0


def test_patch_loss_is_logged_only_when_weighted_and_trains():
    from patchdna.ingan.training import Trainer

    for weight, logged in ((0.0, False), (1.0, True)):
        config = ingan.preset("fast", **{**TINY, "iterations": 2, "patch_loss_weight": weight})
        trainer = Trainer(tiny_image(), config, torch.device("cpu"), seed=0)
        losses = trainer.step()
        assert ("patch" in losses) is logged
        assert all(np.isfinite(v) for v in losses.values())


@pytest.mark.parametrize("levels", [1, 2])
def test_patch_loss_penalises_a_stretch_and_is_differentiable(levels):
    # The point of the term: a 2x horizontal stretch moves the patch distribution away from the input's.
    from patchdna.ingan.training import Trainer

    config = ingan.preset("fast", **{**TINY, "patch_loss_weight": 1.0, "patch_loss_levels": levels})
    ys, xs = torch.meshgrid(torch.arange(48), torch.arange(48), indexing="ij")
    image = (((ys // 4 + xs // 4) % 2).float() * 2 - 1).expand(1, 3, 48, 48)  # 4x4 checks, in [-1, 1]
    trainer = Trainer(tiny_image(), config, torch.device("cpu"), seed=0)
    stretched = torch.nn.functional.interpolate(image, size=(48, 96), mode="bilinear").requires_grad_(True)
    tiled = torch.cat([image, image], dim=-1)  # the same patches, twice as many: no stretch
    loss_stretched = trainer.patch_loss(stretched, image)
    assert trainer.patch_loss(tiled, image) < 0.5 * loss_stretched
    loss_stretched.backward()
    assert stretched.grad is not None and stretched.grad.abs().sum() > 0


def test_discriminator_without_spectral_norm_trains_and_old_folders_keep_it():
    from patchdna.ingan.networks import SpectralConv2d
    from patchdna.ingan.training import Trainer

    config = ingan.preset("fast", **{**TINY, "iterations": 2, "discriminator_spectral_norm": False})
    trainer = Trainer(tiny_image(), config, torch.device("cpu"), seed=0)
    assert not any(isinstance(m, SpectralConv2d) for m in trainer.discriminator.modules())
    assert all(np.isfinite(v) for v in trainer.step().values())
    old = ingan.preset("fast").to_dict()
    del old["discriminator_spectral_norm"]  # a config.json written before this option
    assert ingan.InGANConfig.from_dict(old).discriminator_spectral_norm is True


def test_gradient_channels_of_the_discriminator():
    from patchdna.ingan.networks import with_gradients
    from patchdna.ingan.training import Trainer

    image = tiny_image()[:, :, :5, :6]
    channels = with_gradients(image, 4.0)
    assert channels.shape == (1, 9, 5, 6)
    assert torch.equal(channels[:, :3], image)
    assert torch.allclose(channels[:, 3:6, :, :5], 4 * (image[..., 1:] - image[..., :-1]))
    assert torch.allclose(channels[:, 6:, :4], 4 * (image[..., 1:, :] - image[..., :-1, :]))
    flat = torch.full((1, 3, 8, 8), 0.3)
    assert with_gradients(flat, 4.0)[:, 3:].abs().max() == 0  # no edges, no gradient signal

    config = ingan.preset("fast", **{**TINY, "iterations": 2, "discriminator_gradient_gain": 16.0})
    trainer = Trainer(tiny_image(), config, torch.device("cpu"), seed=0)
    assert trainer.discriminator.nets[0].net[0].in_channels == 9
    assert all(np.isfinite(v) for v in trainer.step().values())
    with pytest.raises(ConfigError, match="discriminator_gradient_gain"):
        ingan.preset("fast", discriminator_gradient_gain=-1.0)
    old = ingan.preset("fast").to_dict()
    del old["discriminator_gradient_gain"]  # a config.json written before this option
    assert ingan.InGANConfig.from_dict(old).discriminator_gradient_gain == 0.0


def test_derivative_loss_is_validated_logged_when_weighted_and_old_folders_load_without_it():
    from patchdna.ingan.training import Trainer

    assert ingan.preset("paper").derivative_loss_weight == 0.0  # not in the paper
    for bad, match in (
        ({"derivative_loss_weight": -1.0}, "derivative_loss_weight"),
        ({"derivative_loss_levels": 0}, "levels"),
    ):
        with pytest.raises(ConfigError, match=match):
            ingan.preset("fast", **bad)
    for weight, logged in ((0.0, False), (1.0, True)):
        config = ingan.preset("fast", **{**TINY, "iterations": 2, "derivative_loss_weight": weight})
        losses = Trainer(tiny_image(), config, torch.device("cpu"), seed=0).step()
        assert ("derivative" in losses) is logged
        assert all(np.isfinite(v) for v in losses.values())
    old = ingan.preset("fast").to_dict()
    for key in ("derivative_loss_weight", "derivative_loss_levels"):
        del old[key]  # a config.json written before this option
    assert ingan.InGANConfig.from_dict(old).derivative_loss_weight == 0.0


@pytest.mark.parametrize("size", [(24, 28), (13, 45), (40, 11)])
def test_residual_segment_generator_draws_on_the_segment_resized_image(size):
    # With the exit conv zeroed, a residual generator returns T(x) itself: here the segment resize, a gather of
    # x's pixels (and x itself at the input size).
    from patchdna.ingan.networks import Generator

    generator = Generator(
        widths=(4, 8, 8, 16),
        bottleneck_blocks=1,
        resize_mode="segments",
        segment_length=8,
        segment_slack=2,
        residual=True,
    ).eval()
    torch.nn.init.zeros_(generator.exit.weight)
    torch.nn.init.zeros_(generator.exit.bias)
    image = tiny_image() * 2 - 1
    rows, columns = generator.segment_maps(image, size)
    with torch.no_grad():
        out = generator(image, size)
    assert rows.shape == columns.shape == size
    torch.testing.assert_close(out, image[:, :, rows, columns], atol=1e-5, rtol=0)
    if size == (24, 28):
        torch.testing.assert_close(out, image, atol=1e-5, rtol=0)


def test_segment_training_masks_what_a_shrink_cannot_restore():
    from patchdna.ingan.training import Trainer

    config = ingan.preset(
        "fast",
        **{**TINY, "resize_mode": "segments", "segment_length": 6, "segment_overlap": 4, "residual_output": True},
    )
    trainer = Trainer(tiny_image(), config, torch.device("cpu"), seed=0)
    source = trainer.sample_crop()
    grid, back, mask = trainer.segment_round_trip(source, (8, 32), None)
    assert grid.shape == (1, 8, 32, 2) and back.shape == (1, 16, 16, 2)
    assert mask.shape == (1, 1, 16, 16) and 0 < mask.mean() < 1  # rows were skipped, columns all kept
    # Errors where the mask is 0 do not count; the loss is the mean over the restorable pixels.
    noisy = source + (1 - mask) * 5.0
    assert trainer.reconstruction_loss(noisy, source, mask).item() == 0.0
    assert trainer.segment_round_trip(source, (8, 32), torch.eye(3)) == (None, None, None)
    losses = [trainer.step() for _ in range(4)]
    assert all(np.isfinite(value) for step in losses for value in step.values())


def test_resize_mode_is_validated_and_old_folders_load_as_bilinear():
    for bad in ({"resize_mode": "nearest"}, {"segment_length": 2}, {"segment_slack": -1}):
        with pytest.raises(ConfigError):
            ingan.preset("fast", **bad)
    old = ingan.preset("fast").to_dict()
    for key in ("resize_mode", "segment_length", "segment_slack", "residual_output"):
        del old[key]
    loaded = ingan.InGANConfig.from_dict(old)
    assert loaded.resize_mode == "bilinear" and loaded.residual_output is False
    assert ingan.preset("paper").resize_mode == "bilinear" and not ingan.preset("paper").residual_output
