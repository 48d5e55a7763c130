"""SinGAN: pyramid, training, sampling, model folders, resume, CLI, and bad input (tiny sizes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
import torch
from images_fixtures import make_texture
from PIL import Image

from patchdna import singan
from patchdna.cli import main
from patchdna.errors import ConfigError, ModelFolderError
from patchdna.layers import ConvBlock
from patchdna.ops import resize
from patchdna.singan.config import config_from_dict
from patchdna.singan.pyramid import pyramid_sizes

TINY = dict(min_size=12, max_size=40, num_scales=3, iterations=12, crop_size=24, sample_pool=3)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    torch.manual_seed(0)
    image = torch.from_numpy(make_texture(32, 40)).permute(2, 0, 1)[None].float() / 255
    folder = tmp_path_factory.mktemp("singan") / "model"
    model = singan.train(image, folder, config=singan.preset("diverse", **TINY), device="cpu", show_progress=False)
    return model, folder


@pytest.mark.parametrize(
    "shape, expected_scales",
    [((186, 248), 9), ((248, 186), 9), ((250, 250), 11), ((60, 250), 6), ((25, 40), 1)],
)
def test_paper_pyramid(shape, expected_scales):
    sizes = pyramid_sizes(*shape, singan.PRESETS["paper"])
    assert len(sizes) == expected_scales
    assert sizes[-1] == shape
    assert min(sizes[0]) == min(25, min(shape)) or min(sizes[0]) == 25
    # strictly growing, and the re-fitted factor is the same between consecutive scales (within rounding)
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in zip(sizes, sizes[1:]))


def test_paper_pyramid_matches_official_balloons():
    sizes = pyramid_sizes(186, 248, singan.PRESETS["paper"])
    assert sizes[0] == (25, 34) and sizes[-1] == (186, 248)


def test_dense_low_pyramid_matches_consingan_example():
    config = singan.preset("paper", num_scales=6, spacing="dense_low")
    assert pyramid_sizes(152, 250, config) == [(25, 42), (31, 51), (40, 66), (57, 94), (106, 175), (152, 250)]


def test_bad_config_raises():
    with pytest.raises(ConfigError, match="min_size"):
        singan.SinGANConfig(min_size=2)
    with pytest.raises(ConfigError, match="unknown preset"):
        singan.preset("turbo")
    with pytest.raises(ConfigError, match="bad config override"):
        singan.preset("diverse", iteration=10)  # a misspelt field


def test_critic_norm_applies_to_whole_image_critics_and_reloads(tmp_path):
    with pytest.raises(ConfigError, match="critic_norm"):
        singan.preset("diverse", critic_norm="layer")
    config = singan.preset("diverse", **{**TINY, "iterations": 3, "crop_size": 30}, critic_norm="none")
    sizes = pyramid_sizes(32, 40, config)
    assert [config.is_cropped(size) for size in sizes] == [False, False, True]
    assert [config.critic_norm_at(size) for size in sizes] == ["none", "none", "none"]
    assert singan.preset("diverse").critic_norm_at((30, 40)) == "instance"  # None: the generators' norm

    def norms(network: torch.nn.Module) -> int:
        return sum("Norm" in type(layer).__name__ for layer in network.modules())

    image = torch.from_numpy(make_texture(32, 40)).permute(2, 0, 1)[None].float() / 255
    model = singan.train(image, tmp_path / "m", config=config, device="cpu", show_progress=False, preview=False)
    assert [norms(d) for d in model.discriminators] == [0, 0, 0]
    assert [norms(g) > 0 for g in model.generators] == [True, True, False]  # instance norm, crop_norm none
    reloaded = singan.load(tmp_path / "m")
    for ours, theirs in zip(model.discriminators, reloaded.discriminators, strict=True):
        assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))


def test_iteration_multipliers_per_scale_and_json_round_trip():
    config = singan.preset("diverse", iterations=10, iteration_multipliers=(3.0, 0.5))
    assert [config.iterations_at(scale) for scale in range(4)] == [30, 5, 10, 10]
    restored = config_from_dict(json.loads(json.dumps(config.to_dict())))
    assert restored == config and isinstance(restored.iteration_multipliers, tuple)
    with pytest.raises(ConfigError, match="iteration_multipliers"):
        singan.SinGANConfig(iteration_multipliers=(1.0, 0.0))


def test_cropped_scales_use_crop_norm(tiny_model):
    config = singan.SinGANConfig(norm="instance", crop_norm="none", crop_size=80)
    assert config.norm_at((60, 80)) == "instance" and config.norm_at((71, 94)) == "none"
    assert singan.SinGANConfig(norm="instance", crop_size=80).norm_at((71, 94)) == "instance"
    model, _ = tiny_model  # diverse preset, crop 24 on a 32x40 image: the finest scale is cropped
    norms = [any(isinstance(m, torch.nn.GroupNorm) for m in g.modules()) for g in model.generators]
    expected = [model.config.norm_at(size) == "instance" for size in model.sizes]
    assert norms == expected and norms[0] and not norms[-1]


def test_instance_norm_block_normalises_each_sample_and_channel_alone():
    block = ConvBlock(3, 4, norm="instance", negative_slope=1.0)  # slope 1: LeakyReLU is the identity
    torch.nn.init.normal_(block[1].weight, 1.0, 0.5)
    torch.nn.init.normal_(block[1].bias, 0.0, 0.5)
    x = torch.randn(2, 3, 9, 11)
    conv = block[0](x)
    expected = torch.nn.functional.instance_norm(conv, weight=block[1].weight, bias=block[1].bias)
    torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(block(x[:1]), expected[:1], rtol=1e-5, atol=1e-5)  # batch-independent


def test_training_runs_each_scales_own_number_of_steps(tmp_path, texture_tensor):
    steps: dict[int, int] = {}

    def count(event: singan.TrainingEvent) -> None:
        if event.kind == "scale_end":
            steps[event.scale] = event.iterations

    config = singan.preset("diverse", **{**TINY, "iterations": 4, "iteration_multipliers": (2.0, 1.0, 0.5)})
    singan.train(texture_tensor, tmp_path / "m", config=config, device="cpu", show_progress=False, callback=count)
    assert steps == {0: 8, 1: 4, 2: 2}


def test_training_writes_complete_folder(tiny_model):
    model, folder = tiny_model
    config = json.loads((folder / "config.json").read_text())
    assert config["family"] == "singan" and config["complete"] and config["trained_scales"] == 3
    assert len(config["noise_amplitudes"]) == 3 and config["noise_amplitudes"][0] == 1.0
    assert len(list((folder / "previews").glob("scale_*.png"))) == 3
    assert model.num_trained == 3
    assert len(config["scale_seconds"]) == 3 and config["train_cpu_seconds"] > 0 and config["train_seconds"] > 0


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({}, (32, 40)),
        ({"scale_w": 2.0}, (32, 80)),
        ({"scale_h": 0.75, "scale_w": 1.3}, (24, 52)),
        ({"size": (45, 29)}, (45, 29)),
    ],
)
def test_samples_have_requested_shapes(tiny_model, kwargs, shape):
    images = singan.sample(tiny_model[0], 3, seed=1, **kwargs)
    assert images.shape == (3, 3, *shape)
    assert torch.isfinite(images).all() and images.min() >= 0 and images.max() <= 1


def test_samples_differ_and_start_scale_keeps_layout(tiny_model):
    model = tiny_model[0]
    free = singan.sample(model, 4, seed=3)
    assert (free[0] - free[1]).abs().mean() > 1e-4
    late = singan.sample(model, 4, seed=3, start_scale=2)
    reconstruction = singan.reconstruction(model)
    # starting at the last scale keeps the reconstruction's layout: closer to it than free samples are
    assert (late - reconstruction).abs().mean() < (free - reconstruction).abs().mean()
    with pytest.raises(ConfigError, match="start scale"):
        singan.sample(model, 1, start_scale=7)


def test_generate_refuses_a_size_list_of_the_wrong_length(tiny_model):
    model = tiny_model[0]
    sizes = model.sizes[: model.num_trained]
    assert model.generate(1, sizes=sizes, generator=torch.Generator().manual_seed(0)).shape[-2:] == sizes[-1]
    with pytest.raises(ConfigError, match="one \\(height, width\\) per trained scale"):
        model.generate(1, sizes=sizes[:-1])


def test_sample_with_the_training_seed_is_not_the_reconstruction(tiny_model):
    # The model was trained with seed 0; its fixed noise z* must not be the first draw of sample(seed=0).
    model = tiny_model[0]
    first_draw = model.noise_like(0, 1, model.sizes[0], torch.Generator().manual_seed(0))
    assert (first_draw[:, :1] - model.fixed_noise).abs().mean() > 0.5
    sample = singan.sample(model, 1, seed=0)
    assert (sample - singan.reconstruction(model)).abs().mean() > 1e-3


def test_same_seed_same_samples_and_batching(tiny_model):
    model = tiny_model[0]
    a = singan.sample(model, 5, seed=11, batch_size=2)
    b = singan.sample(model, 5, seed=11, batch_size=2)
    assert torch.equal(a, b)
    automatic = singan.sample(model, 5, seed=11)  # batch size picked from the output size
    assert automatic.shape == a.shape and torch.isfinite(automatic).all()
    with pytest.raises(ConfigError, match="batch size"):
        singan.sample(model, 2, batch_size=0)


def test_auto_batch_size_keeps_cpu_batches_near_the_pixel_budget():
    from patchdna.singan.sampling import auto_batch_size

    cpu = torch.device("cpu")
    assert auto_batch_size(188, 250, cpu) == 4  # 250 px: the measured optimum
    assert auto_batch_size(94, 125, cpu) == 17
    assert auto_batch_size(2000, 2000, cpu) == 1  # never zero
    assert auto_batch_size(8, 8, cpu) == 64  # capped
    assert auto_batch_size(188, 250, torch.device("cuda")) == 16


def test_save_load_in_fresh_process_gives_identical_samples(tiny_model, tmp_path):
    model, folder = tiny_model
    expected = singan.sample(model, 2, seed=5, scale_w=1.5)
    torch.save(expected, tmp_path / "expected.pt")
    code = (
        "import torch, sys; from patchdna import singan; "
        f"m = singan.load(r'{folder}'); s = singan.sample(m, 2, seed=5, scale_w=1.5); "
        f"e = torch.load(r'{tmp_path / 'expected.pt'}'); sys.exit(0 if torch.equal(s, e) else 1)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_cancel_then_resume_keeps_finished_scales(tmp_path, texture_tensor):
    folder = tmp_path / "run"
    stop = threading.Event()

    def on_event(event):
        if event.kind == "scale_end" and event.scale == 0:
            stop.set()

    config = singan.preset("diverse", **TINY)
    with pytest.raises(singan.TrainingCancelled):
        singan.train(
            texture_tensor, folder, config=config, device="cpu", show_progress=False, callback=on_event, stop_event=stop
        )
    partial = singan.load(folder)
    assert partial.num_trained == 1
    first_scale = {k: v.clone() for k, v in partial.generators[0].state_dict().items()}
    # a partial model already samples (at its last finished scale)
    assert singan.sample(partial, 1).shape[-2:] == partial.sizes[0]
    with pytest.raises(ModelFolderError, match="--resume"):
        singan.train(texture_tensor, folder, config=config, device="cpu", show_progress=False)
    resumed = singan.train(texture_tensor, folder, config=config, device="cpu", show_progress=False, resume=True)
    assert resumed.num_trained == 3
    for name, value in resumed.generators[0].state_dict().items():
        assert torch.equal(value, first_scale[name])


def test_resume_refuses_another_image(tmp_path, tiny_model):
    _, folder = tiny_model
    other = torch.rand(1, 3, 32, 40)
    with pytest.raises(ModelFolderError, match="different image"):
        singan.train(
            other, folder, config=singan.preset("diverse", **TINY), device="cpu", resume=True, show_progress=False
        )


def test_killed_cli_run_resumes(tmp_path):
    image = tmp_path / "image.png"
    Image.fromarray(make_texture(48, 64)).save(image)
    out = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "patchdna.cli",
        "singan",
        "train",
        str(image),
        "--out",
        str(out),
        "--quiet",
        "--max-size",
        "64",
        "--min-size",
        "16",
        "--num-scales",
        "3",
        "--iterations",
        "80",
        "--device",
        "cpu",
    ]
    process = subprocess.Popen(command, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "config.json").exists():
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert (out / "config.json").exists(), "the first scale should have been saved before the kill"
    trained_before = json.loads((out / "config.json").read_text())["trained_scales"]
    assert 1 <= trained_before < 3
    singan.load(out)  # what was written before the kill is a valid model
    finished = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert json.loads((out / "config.json").read_text())["trained_scales"] == 3


def test_cli_end_to_end(tmp_path, texture_path, capsys):
    out = tmp_path / "model"
    assert (
        main(
            [
                "singan",
                "train",
                str(texture_path),
                "--out",
                str(out),
                "--quiet",
                "--max-size",
                "40",
                "--min-size",
                "12",
                "--num-scales",
                "2",
                "--iterations",
                "5",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    samples = tmp_path / "samples"
    assert (
        main(["singan", "sample", str(out), "--num", "3", "--size", "20x50", "--out", str(samples), "--reconstruction"])
        == 0
    )
    written = sorted(p.name for p in samples.iterdir())
    assert written == ["reconstruction.png", "sample_000.png", "sample_001.png", "sample_002.png"]
    assert Image.open(samples / "sample_000.png").size == (50, 20)


@pytest.mark.parametrize(
    "argv_tail, message",
    [
        (["singan", "sample", "{missing}", "--out", "{tmp}"], "not found"),
        (["singan", "train", "{empty}", "--out", "{tmp}/x"], "empty"),
        (["singan", "train", "{text}", "--out", "{tmp}/x"], "not a readable image"),
        (["singan", "train", "{tiny}", "--out", "{tmp}/x"], "too small"),
        (["singan", "sample", "{foreign}", "--out", "{tmp}"], "not a patchdna model folder"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, argv_tail, message):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello")
    Image.fromarray(make_texture(6, 6)).save(tmp_path / "tiny.png")
    (tmp_path / "foreign").mkdir()
    names = {
        "missing": tmp_path / "missing",
        "empty": tmp_path / "empty.png",
        "text": tmp_path / "text.png",
        "tiny": tmp_path / "tiny.png",
        "foreign": tmp_path / "foreign",
        "tmp": tmp_path,
    }
    argv = [part.format(**names) for part in argv_tail]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("patchdna: error:") and message in err and "\n" not in err


def test_patch_loss_weight_trains_and_is_validated(tmp_path, texture_tensor):
    config = singan.preset("diverse", **{**TINY, "iterations": 3, "patch_loss_weight": 1.0, "patch_loss_size": 5})
    model = singan.train(texture_tensor, tmp_path / "m", config=config, device="cpu", show_progress=False)
    assert torch.isfinite(singan.sample(model, 2, seed=0)).all()
    assert singan.preset("paper").patch_loss_weight == 0.0
    with pytest.raises(ConfigError, match="patch_loss_weight"):
        singan.preset("diverse", patch_loss_weight=-1.0)


def test_variation_moves_samples_between_the_reconstruction_and_free_samples(tiny_model):
    model = tiny_model[0]
    reconstruction = singan.reconstruction(model)
    distance = {
        v: (singan.sample(model, 6, seed=2, variation=v) - reconstruction).abs().mean().item() for v in (0.0, 1.0)
    }
    assert distance[0.0] < distance[1.0]
    assert torch.equal(singan.sample(model, 2, seed=2, variation=1.0), singan.sample(model, 2, seed=2))
    with pytest.raises(ConfigError, match="variation must be"):
        singan.sample(model, 1, variation=1.5)
    with pytest.raises(ConfigError, match="training size"):
        singan.sample(model, 1, variation=0.5, scale_w=2.0)


def test_cli_sample_variation(tiny_model, tmp_path, capsys):
    folder = str(tiny_model[1])
    assert main(["singan", "sample", folder, "--num", "2", "--variation", "0.5", "--out", str(tmp_path / "s")]) == 0
    assert len(list((tmp_path / "s").glob("sample_*.png"))) == 2
    argv = ["singan", "sample", folder, "--variation", "0.5", "--scale-w", "2", "--out", str(tmp_path / "t")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("patchdna: error:") and "training size" in err and "\n" not in err


def test_crop_reconstruction_weight_applies_to_cropped_scales_only():
    config = singan.preset("diverse", crop_size=80, reconstruction_weight=10.0, crop_reconstruction_weight=100.0)
    assert config.reconstruction_weight_at((188, 250)) == 100.0  # trained on 80 px crops
    assert config.reconstruction_weight_at((48, 64)) == 10.0  # whole scale
    assert singan.preset("paper").reconstruction_weight_at((188, 250)) == 10.0
    with pytest.raises(ConfigError, match="crop_reconstruction_weight"):
        singan.preset("diverse", crop_reconstruction_weight=-1.0)


@pytest.mark.parametrize("mode, draws_per_step", [("random", 2), ("fixed", 1), ("image", 1)])
def test_coarsest_reconstruction_noise_is_redrawn_each_step_only_when_random(
    tmp_path, texture_tensor, monkeypatch, mode, draws_per_step
):
    # "random" (the official code's behaviour) draws a second z per coarsest step for the alpha x MSE term;
    # "fixed" (the paper's text) reuses z* and draws only the adversarial z.
    coarsest_draws = []
    original = singan.SinGAN.noise_like

    def counting(self, scale, batch, size, generator):
        if scale == 0 and self.num_trained == 0:
            coarsest_draws.append(size)
        return original(self, scale, batch, size, generator)

    monkeypatch.setattr(singan.SinGAN, "noise_like", counting)
    config = singan.preset("diverse", **{**TINY, "num_scales": 2, "iterations": 5, "iteration_multipliers": ()})
    config = config.replace(coarsest_reconstruction_noise=mode)
    singan.train(texture_tensor, tmp_path / "m", config=config, device="cpu", show_progress=False, preview=False)
    assert len(coarsest_draws) == 5 * draws_per_step


def test_image_reconstruction_input_is_the_real_coarsest_image(tmp_path, texture_tensor):
    # ConSinGAN's z_opt: G_0 reconstructs from the real coarsest image, and every consumer of the
    # reconstruction input (reconstruct, variation, animation) uses it instead of z*.
    config = singan.preset("diverse", **{**TINY, "num_scales": 2, "iterations": 4, "iteration_multipliers": ()})
    config = config.replace(coarsest_reconstruction_noise="image")
    model = singan.train(texture_tensor, tmp_path / "m", config=config, device="cpu", show_progress=False)
    coarsest_real = model.reals()[0]
    assert torch.equal(model.reconstruction_noise(2), coarsest_real.expand(2, -1, -1, -1))
    expected = model.stage(0, torch.zeros_like(coarsest_real), coarsest_real)
    assert torch.equal(model.reconstruct(0)[0], expected)
    # variation 0 is the reconstruction's input, so with zero noise above it generation is the reconstruction
    zeros_above = [None, torch.zeros(1, 3, *model.sizes[1])]
    at_zero = model.generate(1, variation=0.0, noises=zeros_above, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(at_zero, model.reconstruct()[-1], atol=1e-6)
    reloaded = singan.load_singan(tmp_path / "m")
    assert torch.allclose(reloaded.reconstruct()[-1], model.reconstruct()[-1], atol=1e-6)


def test_coarsest_reconstruction_noise_default_validation_and_old_folders():
    assert singan.preset("diverse").coarsest_reconstruction_noise == "random"
    assert singan.preset("paper").coarsest_reconstruction_noise == "random"  # what the official code does
    old = singan.preset("diverse").to_dict()
    del old["coarsest_reconstruction_noise"]  # a folder written before the option existed still loads
    assert config_from_dict(old).coarsest_reconstruction_noise == "random"
    with pytest.raises(ConfigError, match="coarsest_reconstruction_noise"):
        singan.preset("diverse", coarsest_reconstruction_noise="zeros")


def _is_window_of(window: torch.Tensor, image: torch.Tensor) -> bool:
    """Whether (3, h, w) `window` equals some h x w window of (1, 3, H, W) `image`."""
    height, width = window.shape[-2:]
    return any(
        torch.allclose(window, image[0, :, top : top + height, left : left + width], atol=1e-5)
        for top in range(image.shape[-2] - height + 1)
        for left in range(image.shape[-1] - width + 1)
    )


@pytest.mark.parametrize("real_from", [1, None])
def test_real_reconstruction_input_feeds_the_generator_the_upsampled_real_image(
    tmp_path, texture_tensor, monkeypatch, real_from
):
    from patchdna.singan.networks import StageGenerator

    # The reconstruction term's input is the second item of each training G call (fake, reconstruction).
    inputs = []
    original = StageGenerator.residual

    def spy(self, window):
        if self.training and window.shape[0] == 2:
            inputs.append(window[1].detach().clone())
        return original(self, window)

    monkeypatch.setattr(StageGenerator, "residual", spy)
    config = singan.preset("diverse", **{**TINY, "num_scales": 2, "iterations": 3, "iteration_multipliers": ()})
    config = config.replace(real_reconstruction_input_from=real_from)
    model = singan.train(
        texture_tensor, tmp_path / "m", config=config, device="cpu", show_progress=False, preview=False
    )
    assert [config.real_reconstruction_input_at(scale) for scale in (0, 1)] == [False, real_from == 1]
    pad = config.receptive_padding
    upsampled_real = resize(model.reals()[0], model.sizes[1])
    upsampled_reconstruction = resize(model.reconstruct(0)[-1], model.sizes[1])
    assert not torch.allclose(upsampled_real, upsampled_reconstruction, atol=1e-3)
    expected, other = (
        (upsampled_real, upsampled_reconstruction) if real_from else (upsampled_reconstruction, upsampled_real)
    )
    cropped = [window[:, pad:-pad, pad:-pad] for window in inputs[-3:]]  # the 3 G steps of scale 1
    assert all(_is_window_of(window, expected) for window in cropped)
    assert not any(_is_window_of(window, other) for window in cropped)


def test_real_reconstruction_input_defaults_validation_and_old_folders():
    assert singan.preset("paper").real_reconstruction_input_from is None  # SinGAN's reconstruction chain
    old = singan.preset("diverse").to_dict()
    del old["real_reconstruction_input_from"]  # a folder written before the option existed still loads
    assert config_from_dict(old).real_reconstruction_input_from is None
    with pytest.raises(ConfigError, match="real_reconstruction_input_from"):
        singan.preset("diverse", real_reconstruction_input_from=0)


def test_faithful_preset_trains_the_coarse_scales_concurrently(tmp_path, texture_path):
    faithful, diverse = singan.preset("faithful"), singan.preset("diverse")
    assert faithful == diverse.replace(
        concurrent_stages=3,
        crop_concurrent_stages=1,
        coarsest_reconstruction_noise="image",
        noise_amplitude_weight=0.3,
    )
    sizes = pyramid_sizes(188, 250, faithful)  # a 250 px photo: chains on the uncropped scales 0-3 only
    assert [faithful.concurrent_stages_at(scale, size) for scale, size in enumerate(sizes)] == [1, 2, 3, 3, 1, 1, 1]
    out = tmp_path / "model"
    argv = ["singan", "train", str(texture_path), "--out", str(out), "--quiet", "--preset", "faithful"]
    argv += ["--max-size", "40", "--min-size", "12", "--num-scales", "3", "--iterations", "3", "--device", "cpu"]
    assert main(argv) == 0
    model = singan.load_singan(out)
    assert model.config.concurrent_stages == 3 and model.num_trained == 3


@pytest.mark.parametrize(
    "norm, stages, lr_scale, older_changes",
    [("instance", 2, 0.1, True), ("batch", 2, 0.1, True), ("instance", 1, 0.1, False), ("instance", 2, 0.0, False)],
)
def test_concurrent_stages_train_the_scale_below_at_its_scaled_rate(
    tmp_path, texture_tensor, norm, stages, lr_scale, older_changes
):
    from safetensors.torch import load_file

    # 3 scales: scale 2's chain starts at scale 1, so its inputs come from the pool of scale-0 samples
    config = singan.preset("diverse", **{**TINY, "iterations": 4, "iteration_multipliers": ()})
    config = config.replace(norm=norm, concurrent_stages=stages, concurrent_lr_scale=lr_scale, crop_size=None)
    folder = tmp_path / "m"
    after_scale_0 = {}

    def snapshot(event):
        if event.kind == "scale_end" and event.scale == 0:  # the folder then holds G_0 as scale 0 left it
            after_scale_0.update(load_file(folder / "model.safetensors"))

    model = singan.train(
        texture_tensor, folder, config=config, device="cpu", show_progress=False, preview=False, callback=snapshot
    )
    names = [name for name in after_scale_0 if name.startswith("generators.0.")]
    assert names
    final = load_file(folder / "model.safetensors")
    changed = any(not torch.equal(after_scale_0[name], final[name]) for name in names)
    assert changed == older_changes  # G_0 learned through scale 1's losses only with a chain and a rate > 0
    # the model in memory is the saved one, frozen again, and samples reload identically
    assert all(not p.requires_grad for p in model.generators.parameters())
    reloaded = singan.load_singan(folder)
    generator = torch.Generator().manual_seed(3)
    expected = model.generate(2, generator=generator)
    assert torch.equal(reloaded.generate(2, generator=torch.Generator().manual_seed(3)), expected)


def test_concurrent_stages_per_scale_validation_and_old_folders():
    config = singan.preset("diverse", **TINY).replace(concurrent_stages=3, crop_concurrent_stages=1, crop_size=30)
    sizes = pyramid_sizes(32, 40, config)
    assert [config.is_cropped(size) for size in sizes] == [False, False, True]
    # capped by the scales that exist below; cropped scales use their own k
    assert [config.concurrent_stages_at(scale, size) for scale, size in enumerate(sizes)] == [1, 2, 1]
    above_first = config.replace(crop_concurrent_stages=None, concurrent_lowest_scale=1)  # chains leave G_0 alone
    assert [above_first.concurrent_stages_at(scale, size) for scale, size in enumerate(sizes)] == [1, 1, 2]
    assert singan.preset("paper").concurrent_stages == 1  # SinGAN: each scale alone
    old = singan.preset("diverse").to_dict()
    for name in ("concurrent_stages", "concurrent_lr_scale", "crop_concurrent_stages", "concurrent_lowest_scale"):
        del old[name]  # a folder written before the option existed still loads
    assert config_from_dict(old).concurrent_stages == 1
    bad_values = [{"concurrent_stages": 0}, {"crop_concurrent_stages": 0}, {"concurrent_lr_scale": 2.0}]
    for bad in bad_values + [{"concurrent_lowest_scale": -1}]:
        with pytest.raises(ConfigError, match=next(iter(bad))):
            singan.preset("diverse", **bad)
    with pytest.raises(ConfigError, match="real_reconstruction_input_from needs concurrent_stages 1"):
        singan.preset("diverse", concurrent_stages=2, real_reconstruction_input_from=4)


@pytest.mark.parametrize("every, expected_calls", [(1, 7), (3, 3)])
def test_gradient_penalty_every_kth_critic_step(tmp_path, texture_tensor, monkeypatch, every, expected_calls):
    from patchdna.singan import training

    calls = []
    original = training.gradient_penalty

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(training, "gradient_penalty", counting)
    config = singan.preset("diverse", **{**TINY, "num_scales": 2, "iterations": 7, "iteration_multipliers": ()})
    config = config.replace(gradient_penalty_every=every)
    singan.train(texture_tensor, tmp_path / "m", config=config, device="cpu", show_progress=False, preview=False)
    assert len(calls) == 2 * expected_calls  # steps 0, k, 2k, ... of each of the 2 scales


def test_crop_gradient_penalty_every_applies_to_cropped_scales_only(tmp_path, texture_tensor, monkeypatch):
    from patchdna.singan import training

    calls = []
    original = training.gradient_penalty
    monkeypatch.setattr(training, "gradient_penalty", lambda *a, **k: calls.append(1) or original(*a, **k))
    config = singan.preset("diverse", **{**TINY, "num_scales": 2, "iterations": 7, "iteration_multipliers": ()})
    config = config.replace(crop_gradient_penalty_every=3)
    model = singan.train(
        texture_tensor, tmp_path / "m", config=config, device="cpu", show_progress=False, preview=False
    )
    assert [config.is_cropped(size) for size in model.sizes] == [False, True]
    assert [config.gradient_penalty_every_at(size) for size in model.sizes] == [1, 3]
    assert len(calls) == 7 + 3  # every step of the coarse scale, steps 0, 3, 6 of the cropped one


def test_crop_noise_amplitude_weight_scales_sigma_of_cropped_scales_only(tmp_path, texture_tensor):
    base = singan.preset("diverse", **{**TINY, "num_scales": 2, "iterations": 3, "iteration_multipliers": ()})
    amplitudes = []
    for crop_weight in (None, 0.3):
        config = base.replace(crop_noise_amplitude_weight=crop_weight)
        folder = tmp_path / f"m{crop_weight}"
        model = singan.train(texture_tensor, folder, config=config, device="cpu", show_progress=False, preview=False)
        assert [config.is_cropped(size) for size in model.sizes] == [False, True]
        amplitudes.append(model.noise_amplitudes.tolist())
    default, weighted = amplitudes
    assert weighted[0] == default[0] == 1.0  # the coarsest scale's noise is the input itself
    # The same seed trains the same scale 0, so the RMSE at scale 1 is the same: sigma_1 is 3x (0.3 vs 0.1).
    assert weighted[1] == pytest.approx(3 * default[1], rel=1e-5)
    assert base.noise_amplitude_weight_at(model.sizes[0]) == 0.1
    old = base.to_dict()
    del old["crop_noise_amplitude_weight"]  # a folder written before the option existed still loads
    assert config_from_dict(old).crop_noise_amplitude_weight is None
    with pytest.raises(ConfigError, match="crop_noise_amplitude_weight"):
        singan.preset("diverse", crop_noise_amplitude_weight=-1.0)


def test_gradient_penalty_every_validation_and_old_folders():
    assert singan.preset("paper").gradient_penalty_every == 1  # the official code: every critic step
    old = singan.preset("diverse").to_dict()
    del old["gradient_penalty_every"]  # a folder written before the option existed still loads
    assert config_from_dict(old).gradient_penalty_every == 1
    with pytest.raises(ConfigError, match="gradient_penalty_every"):
        singan.preset("diverse", gradient_penalty_every=0)
    del old["crop_gradient_penalty_every"]
    assert config_from_dict(old).crop_gradient_penalty_every is None
    with pytest.raises(ConfigError, match="crop_gradient_penalty_every"):
        singan.preset("diverse", crop_gradient_penalty_every=0)


@pytest.mark.parametrize("norm, batched", [("instance", True), ("none", True), ("batch", False)])
def test_critic_scores_real_and_fake_in_one_call_only_with_a_per_sample_norm(
    tmp_path, texture_tensor, monkeypatch, norm, batched
):
    from patchdna.singan.networks import StageDiscriminator, StageGenerator

    # Per-sample norms give each item the same output alone or in a batch (what makes batching exact) ...
    torch.manual_seed(0)
    a, b = torch.randn(1, 3, 20, 24), torch.randn(1, 3, 20, 24)
    pair = torch.cat([a, b])
    critic, generator = StageDiscriminator(norm=norm), StageGenerator(norm=norm)
    assert torch.allclose(critic(a), critic(pair)[:1], atol=1e-5) == batched
    assert torch.allclose(generator(a, a), generator(pair, pair)[:1], atol=1e-5) == batched
    # ... so training batches the critic's real and fake (and G's fake and reconstruction) only then.
    batch_sizes = []
    original = StageDiscriminator.forward

    def recording(self, image):
        batch_sizes.append(image.shape[0])
        return original(self, image)

    monkeypatch.setattr(StageDiscriminator, "forward", recording)
    config = singan.preset("diverse", **{**TINY, "num_scales": 2, "iterations": 2, "iteration_multipliers": ()})
    config = config.replace(norm=norm, crop_norm=None)
    singan.train(texture_tensor, tmp_path / "m", config=config, device="cpu", show_progress=False, preview=False)
    assert (2 in batch_sizes) == batched
