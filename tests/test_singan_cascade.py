"""SinGAN's feature-cascade option (`cascade_max_size`, preset `cascade`): structure, training, sampling,
model folders, resume and the applications' limits (tiny sizes)."""

from __future__ import annotations

import subprocess
import sys
import threading

import pytest
import torch
from images_fixtures import make_texture

import patchdna.singan.training as training_module
from patchdna import singan
from patchdna.cli import main
from patchdna.errors import ConfigError
from patchdna.io import save_image
from patchdna.singan._apps import retrain_scale
from patchdna.singan.animation import noise_walk
from patchdna.singan.networks import CascadeBlock, StageGenerator
from patchdna.singan.pyramid import pyramid_sizes

# 32x40 image -> scales (12, 15), (16, 20), (24, 29) in the cascade, (32, 40) an image scale trained on crops.
# Two blocks train at once, so scale 2 also exercises the frozen-feature pool below the trained blocks.
TINY = dict(min_size=12, max_size=40, num_scales=4, iterations=6, crop_size=24, sample_pool=3, cascade_max_size=30)
TINY_CONFIG = dict(TINY, concurrent_stages=2)


def _image(height: int = 32, width: int = 40, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(make_texture(height, width, seed)).permute(2, 0, 1)[None].float() / 255


@pytest.fixture(scope="module")
def cascade_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cascade") / "model"
    config = singan.preset("cascade", **TINY_CONFIG)
    model = singan.train(_image(), folder, config=config, device="cpu", show_progress=False, preview=False)
    return model, folder


def test_cascade_preset_and_validation():
    # `fast`, the default, is `diverse` with the feature cascade; `cascade` is its name of sessions 17-19.
    cascade, diverse = singan.preset("fast"), singan.preset("diverse")
    assert singan.preset("cascade") == cascade
    assert cascade == diverse.replace(
        cascade_max_size=80,
        concurrent_stages=3,
        crop_concurrent_stages=1,
        coarsest_reconstruction_noise="image",
        gradient_penalty_every=4,
        crop_gradient_penalty_every=1,
        crop_norm="instance",
        crop_noise_amplitude_weight=0.5,
    )
    sizes = pyramid_sizes(188, 250, cascade)  # a 250 px photo: the 4 whole-image scales are the cascade
    assert [cascade.is_cascade(size) for size in sizes] == [True] * 4 + [False] * 3
    # Its cropped scales (and their critics) are instance-normalised; `diverse`'s have no norm.
    assert [cascade.norm_at(size) for size in sizes[4:]] == ["instance"] * 3
    assert [cascade.critic_norm_at(size) for size in sizes[4:]] == ["instance"] * 3
    assert diverse.norm_at(sizes[-1]) == "none"
    for bad, message in [
        (dict(d_steps=3), "d_steps = g_steps = 1"),
        (dict(coarsest_reconstruction_noise="random"), "fixed reconstruction input"),
        (dict(cascade_max_size=10), "cascade_max_size must be"),
        (dict(cascade_layers=0), "cascade_layers"),
        (dict(real_reconstruction_input_from=1, concurrent_stages=1), "per-scale generators"),
    ]:
        with pytest.raises(ConfigError, match=message):
            singan.preset("cascade", **bad)
    assert all(singan.preset(name).cascade_max_size is None for name in ("diverse", "faithful", "paper"))


def test_structure_noise_shapes_and_reconstruction(cascade_model):
    model, _ = cascade_model
    assert model.num_cascade == 3 and model.num_trained == 4
    assert [type(g) for g in model.generators] == [CascadeBlock] * 3 + [StageGenerator]
    assert model.generators[0].head is not None and model.generators[1].head is None
    channels, margin = model.config.width, 2 * model.config.cascade_layers
    assert model.noise_like(0, 2, (12, 15), None).shape == (2, 3, 12, 15)
    assert model.noise_like(1, 2, (16, 20), None).shape == (2, channels, 16 + margin, 20 + margin)
    assert model.noise_like(3, 2, (32, 40), None).shape == (2, 3, 32, 40)
    for scale in (1, 2):  # stored fixed feature noise, drawn at the training size
        assert model.reconstruction_noise_at(scale).shape == (1, channels, *(s + margin for s in model.sizes[scale]))
    # ConSinGAN's reconstruction input at scale 0 is the real coarsest image
    assert torch.equal(model.reconstruction_noise_at(0), model.reals()[0])
    reconstructions = model.reconstruct()
    assert [tuple(r.shape[-2:]) for r in reconstructions] == model.sizes
    assert all(r.shape[1] == 3 and torch.isfinite(r).all() for r in reconstructions)
    assert all(r.abs().max() <= 1 for r in reconstructions[:3])  # the tail's Tanh bounds the cascade's images
    # the reconstruction follows the image closely (far closer than a random sample does)
    real = model.reals()[-1]
    sample = model.generate(1, generator=torch.Generator().manual_seed(3))
    assert (reconstructions[-1] - real).abs().mean() < (sample - real).abs().mean()
    assert model.noise_amplitudes.shape == (4,) and float(model.noise_amplitudes[0]) == 1.0


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({}, (3, 3, 32, 40)),
        ({"scale_w": 2.0}, (3, 3, 32, 80)),
        ({"size": (27, 53)}, (3, 3, 27, 53)),
        ({"start_scale": 1}, (3, 3, 32, 40)),
        ({"start_scale": 3}, (3, 3, 32, 40)),
        ({"variation": 0.5}, (3, 3, 32, 40)),
    ],
)
def test_samples_of_any_size_and_start_scale(cascade_model, kwargs, shape):
    model, _ = cascade_model
    samples = singan.sample(model, 3, seed=1, **kwargs)
    assert tuple(samples.shape) == shape and torch.isfinite(samples).all()
    assert not torch.equal(samples[0], samples[1])  # random samples differ (little from the finest scale on)
    assert torch.equal(samples, singan.sample(model, 3, seed=1, **kwargs))  # and a seed repeats them


def test_save_load_in_fresh_process_gives_identical_samples(cascade_model, tmp_path):
    model, folder = cascade_model
    expected = singan.sample(model, 2, seed=5, scale_w=1.5)
    torch.save(expected, tmp_path / "expected.pt")
    code = (
        "import torch, sys; from patchdna import singan; "
        f"m = singan.load(r'{folder}'); s = singan.sample(m, 2, seed=5, scale_w=1.5); "
        f"e = torch.load(r'{tmp_path / 'expected.pt'}'); sys.exit(0 if torch.equal(s, e) else 1)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_concurrent_blocks_train_and_older_ones_stay(tmp_path, monkeypatch):
    """Scale 1 also trains block 0 (two at once); scale 2 trains blocks 1-2 and leaves block 0 as it was."""
    block0 = []  # block 0's weights after each cascade scale

    def spy(model, *args, **kwargs):
        result = real_train_cascade_scale(model, *args, **kwargs)
        block0.append({k: v.clone() for k, v in (list(model.generators) + [args[1]])[0].state_dict().items()})
        return result

    real_train_cascade_scale = training_module.train_cascade_scale
    monkeypatch.setattr(training_module, "train_cascade_scale", spy)
    config = singan.preset("cascade", **TINY_CONFIG)
    singan.train(_image(), tmp_path / "m", config=config, device="cpu", show_progress=False, preview=False)
    assert len(block0) == 3
    assert any(not torch.equal(block0[0][k], block0[1][k]) for k in block0[0]), "block 0 trains with scale 1"
    assert all(torch.equal(block0[1][k], block0[2][k]) for k in block0[1]), "block 0 is frozen at scale 2"


def test_cancel_then_resume_continues_like_an_uninterrupted_run(tmp_path):
    # crop_norm "none": TINY's scale 2 (29 px) counts as cropped (crop_size 24), and instance norm over its few
    # pixels magnifies the float-rounding difference of a resumed run (~1e-8) to ~1e-2 in 6 steps, which would
    # hide a real resume bug behind a loose tolerance.
    config = singan.preset("cascade", **TINY_CONFIG, crop_norm="none")
    straight = singan.train(_image(), tmp_path / "straight", config=config, device="cpu", show_progress=False)
    stop = threading.Event()

    def on_event(event):
        if event.kind == "scale_end" and event.scale == 1:  # inside the cascade
            stop.set()

    folder = tmp_path / "resumed"
    with pytest.raises(singan.TrainingCancelled):
        singan.train(
            _image(), folder, config=config, device="cpu", show_progress=False, callback=on_event, stop_event=stop
        )
    partial = singan.load(folder)
    assert partial.num_trained == 2 and singan.sample(partial, 1).shape[-2:] == partial.sizes[1]
    resumed = singan.train(_image(), folder, config=config, device="cpu", show_progress=False, resume=True)
    assert resumed.num_trained == 4
    # block 0 is frozen from scale 2 on (two blocks train at once): kept exactly, as the straight run has it
    for name, value in resumed.generators[0].state_dict().items():
        assert torch.equal(value, partial.generators[0].state_dict()[name])
        assert torch.equal(value, straight.generators[0].state_dict()[name])
    # the rest continues from the saved weights, tail, fixed noise and random state: the same model up to
    # float rounding (resuming `diverse` differs at that level too; samples here differ by ~1e-5)
    torch.testing.assert_close(singan.sample(resumed, 2, seed=4), singan.sample(straight, 2, seed=4), atol=1e-3, rtol=0)


def test_images_enter_only_at_image_scales(cascade_model):
    model, _ = cascade_model
    paint, mask = _image(seed=2), torch.zeros(1, 1, 32, 40)
    mask[..., 10:20, 10:20] = 1
    with pytest.raises(ConfigError, match="feature cascade.*start at scale 3"):
        singan.paint_to_image(model, paint, start_scale=1)
    with pytest.raises(ConfigError, match="feature cascade"):
        singan.harmonize(model, paint, mask, start_scale=2)
    with pytest.raises(ConfigError, match="feature cascade"):
        model.generate(1, start_scale=0, start_image=paint * 2 - 1)
    with pytest.raises(ConfigError, match="only image scales are retrained"):
        retrain_scale(model, 2, iterations=2)
    # from the first image scale on they work as with per-scale generators
    out = singan.paint_to_image(model, paint, start_scale=3, seed=1)
    assert out.shape == (1, 3, 32, 40) and torch.isfinite(out).all()
    result = singan.harmonize(model, paint, mask, start_scale=3, fine_tune=True, fine_tune_iterations=2)
    assert result.blended.shape == (1, 3, 32, 40) and torch.isfinite(result.raw).all()


def test_animation_walks_the_feature_noise(cascade_model, tmp_path):
    model, _ = cascade_model
    noises = noise_walk(model, 4, alpha=0.1, beta=0.9, start_scale=1, generator=torch.Generator().manual_seed(0))
    assert noises[0] is None
    assert noises[1] is not None and noises[1].shape == (4, *model.reconstruction_noise_at(1).shape[1:])
    frames = singan.animate(model, tmp_path / "walk.gif", frames=4, start_scale=1)
    assert frames.shape == (4, 3, 32, 40) and (tmp_path / "walk.gif").stat().st_size > 0
    # consecutive frames of the walk move less than independent samples differ
    samples = singan.sample(model, 2, seed=9)
    assert (frames[1] - frames[0]).abs().mean() < (samples[1] - samples[0]).abs().mean()


def test_cli_trains_a_cascade_only_model_and_refuses_paint(tmp_path, capsys):
    """At 40 px every scale is within the preset's 80 px cascade: sampling works, painting says why not."""
    image = tmp_path / "in.png"
    save_image(_image(), image)
    out = tmp_path / "model"
    argv = ["singan", "train", str(image), "--out", str(out), "--quiet", "--preset", "cascade", "--device", "cpu"]
    assert main(argv + ["--max-size", "40", "--min-size", "12", "--num-scales", "3", "--iterations", "3"]) == 0
    model = singan.load(out)
    assert model.num_cascade == model.num_trained == 3
    assert main(["singan", "sample", str(out), "--num", "2", "--out", str(tmp_path / "s"), "--seed", "1"]) == 0
    assert len(list((tmp_path / "s").glob("*.png"))) == 2
    capsys.readouterr()
    code = main(["singan", "paint", str(out), str(image), "--start-scale", "2", "--out", str(tmp_path / "p.png")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "feature cascade" in err and "no image scale" in err and len(err.splitlines()) == 1
