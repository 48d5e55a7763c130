"""Training a SinGAN pyramid, one scale at a time, coarsest first.

Per scale n (paper section 2 and the official code, without its in-place bug):
  1. inputs from below: the upsampled reconstruction up(x_rec_{n+1}) and, per step, an upsampled random sample;
  2. sigma_n = noise_amplitude_weight x RMSE(real_n, up(x_rec_{n+1})) (1 at the coarsest scale; cropped
     scales may use crop_noise_amplitude_weight);
  3. each iteration: `d_steps` critic steps (WGAN-GP, per-pixel gradient norm), then `g_steps` generator
     steps (adversarial + alpha x MSE reconstruction from the fixed noise), each recomputing the fake. At the
     coarsest scale the reconstruction noise is redrawn every step by default, as the official code does
     (`coarsest_reconstruction_noise`): MSE(G(z), x_N) for every z is what keeps the global layout in free
     samples, while a fixed z* lets G memorise z* -> x_N and map every other z to layout-free texture;
  4. the finished networks are frozen, appended to the model and the model folder is rewritten, so an
     interrupted run resumes from the last finished scale (`resume=True`).
patchdna's speed options (off in the `paper` preset): `crop_size` trains large scales on random windows
(fully convolutional nets see the true surrounding context through a margin, so nothing but the batch of
positions changes), and `sample_pool` draws the lower-scale input from samples made once per scale.
ConSinGAN's concurrent training (`concurrent_stages` k > 1): step 3 also updates the generators of the k - 1
scales below n (learning rate x `concurrent_lr_scale` per scale of distance), the fake and the reconstruction
of scale n being made by that chain from the frozen scales' sample or reconstruction; step 4 then saves them too.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from tqdm.auto import tqdm

from patchdna.checkpoint import load_training_state, read_config, save_training_state
from patchdna.device import resolve_device
from patchdna.errors import ConfigError, ModelFolderError, TrainingCancelled
from patchdna.io import load_image, resize_long_side, save_image
from patchdna.ops import gradient_penalty, patch_swd_loss, resize, wgan_d_loss, wgan_g_loss
from patchdna.singan.cascade_training import train_cascade_scale
from patchdna.singan.config import SinGANConfig, preset
from patchdna.singan.model import SinGAN, from_unit, load_singan, save_singan, to_unit
from patchdna.singan.networks import CascadeBlock, StageDiscriminator, StageGenerator
from patchdna.singan.pyramid import pyramid_sizes
from patchdna.video import image_grid

__all__ = ["TrainingCancelled", "TrainingEvent", "train"]

FIXED_NOISE_SEED_OFFSET = 0x9E3779B9  # any constant far from the small seeds users pass


@dataclass
class TrainingEvent:
    """What a progress callback receives: kind is 'scale_start', 'step', 'scale_end' or 'done'."""

    kind: str
    scale: int
    num_scales: int
    iteration: int = 0
    iterations: int = 0
    elapsed: float = 0.0
    eta: float | None = None  # seconds left for the whole run (estimated from per-pixel cost so far)
    losses: dict[str, float] = field(default_factory=dict)
    preview: Tensor | None = None  # (1, 3, H, W) in [0, 1] at 'scale_end'


Callback = Callable[[TrainingEvent], None]


def _window(tensor: Tensor, top: int, left: int, height: int, width: int) -> Tensor:
    return tensor[..., top : top + height, left : left + width]


def _train_scale(
    model: SinGAN,
    scale: int,
    generator: StageGenerator,
    discriminator: StageDiscriminator,
    rng: torch.Generator,
    iterations: int,
    report: Callable[[int, dict[str, float]], None],
    stop_event: threading.Event | None,
    input_transform: Callable[[Tensor], Tensor] | None = None,
    extra_inputs: Sequence[Tensor] = (),
    concurrent_stages: int = 1,
) -> float:
    """Train the networks of `scale` in place; returns its noise amplitude sigma_n.

    Hooks for the applications (patchdna.singan.paint / harmonize), off by default: `input_transform` maps
    every random lower-scale input (e.g. colour quantisation for paint-to-image), `extra_inputs` are
    (1, 3, h_n, w_n) inputs in [-1, 1] drawn half of the time instead of random ones (e.g. a naive image).
    concurrent_stages k > 1 (ConSinGAN): the trained generators of scales scale-k+1 .. scale-1 train too, in
    place, and the random and reconstruction inputs enter at scale scale-k+1 (see SinGANConfig).
    """
    config = model.config
    device = model.real.device
    real = model.reals()[scale]
    height, width = model.sizes[scale]
    pad = config.receptive_padding
    pad_mode = "replicate" if config.noise_padding else "constant"
    alpha = config.reconstruction_weight_at((height, width))
    if concurrent_stages > 1 and (input_transform is not None or extra_inputs):
        raise ValueError("the application hooks retrain one scale alone (concurrent_stages 1)")
    # The chain: older trained scales that train with this one (empty for SinGAN). Inputs enter at `base`.
    base = scale - concurrent_stages + 1
    chain = list(range(base, scale))
    base_size = model.sizes[base]

    # 1. Inputs from the frozen lower scales.
    if scale == 0:
        previous_reconstruction = torch.zeros_like(real)
        amplitude = 1.0
        reconstruction_noise = model.reconstruction_noise()
    else:
        previous_reconstruction = resize(model.reconstruct()[-1], (height, width))
        # 2. sigma_n from how far the coarser reconstruction is from this scale's real image.
        rmse = torch.sqrt(F.mse_loss(previous_reconstruction, real)).item()
        amplitude = config.noise_amplitude_weight_at((height, width)) * rmse
        reconstruction_noise = torch.zeros_like(real)
        if config.real_reconstruction_input_at(scale):
            previous_reconstruction = resize(model.reals()[scale - 1], (height, width))
    model.noise_amplitudes = torch.cat([model.noise_amplitudes, torch.tensor([amplitude], device=device)])
    if chain:
        # The chain's reconstruction starts from the frozen scales' reconstruction (zeros at scale 0, whose
        # reconstruction input is `model.reconstruction_noise()`).
        base_reconstruction = torch.zeros(1, 3, *base_size, device=device)
        if base > 0:
            base_reconstruction = resize(model.reconstruct(base - 1)[-1], base_size)
    pool: list[Tensor] = []
    if base > 0 and config.sample_pool > 0:
        with torch.no_grad():
            for _ in range(config.sample_pool):
                pool.append(resize(_lower_sample(model, base, rng), base_size))

    def previous_sample() -> Tensor:
        if extra_inputs and bool(torch.rand((), generator=rng) < 0.5):
            return extra_inputs[int(torch.randint(len(extra_inputs), (1,), generator=rng))].to(device)
        sample = random_previous()
        return input_transform(sample) if input_transform is not None else sample

    def random_previous() -> Tensor:
        if base == 0:
            return torch.zeros(1, 3, *base_size, device=device)
        if pool:
            return pool[int(torch.randint(len(pool), (1,), generator=rng))]
        with torch.no_grad():
            return resize(_lower_sample(model, base, rng), base_size)

    def chain_noises(batch: int, reconstruction: bool) -> list[Tensor]:
        """z_j for the chain's scales: random, or the reconstruction's (its input at scale 0, zeros above).

        The chain keeps the fixed input even with `coarsest_reconstruction_noise` "random": that pulls
        G_0(any z) to the image while scale 0 trains; pulling G_0 through later scales' reconstructions too
        collapsed free samples onto the reconstruction (diversity 0.12 on LSUN 0, BENCHMARKS.md session 13).
        """
        noises = []
        for j in chain:
            if not reconstruction:
                noises.append(model.noise_like(j, batch, model.sizes[j], rng))
            elif j == 0:
                noises.append(model.reconstruction_noise(batch))
            else:
                noises.append(torch.zeros(batch, 3, *model.sizes[j], device=device))
        return noises

    def through_chain(inputs: Tensor, noises: Sequence[Tensor]) -> Tensor:
        """(B, 3, h_base, w_base) inputs -> (B, 3, h_n, w_n) upsampled output of the chain (identity if empty)."""
        output = inputs
        for j, noise in zip(chain, noises):
            if j > base:
                output = resize(output, model.sizes[j])
            output = model.stage(j, output, noise)
        return resize(output, (height, width)) if chain else output

    crop_h = min(height, config.crop_size or height)
    crop_w = min(width, config.crop_size or width)

    def random_corner() -> tuple[int, int]:
        top = int(torch.randint(height - crop_h + 1, (1,), generator=rng))
        left = int(torch.randint(width - crop_w + 1, (1,), generator=rng))
        return top, left

    def fake_window(noise: Tensor, previous: Tensor, top: int, left: int) -> Tensor:
        # The padded full-size input is cut with a `pad` margin, so the valid convolutions see exactly the
        # context they would see on the whole image. noise and previous: (B, 3, h_n, w_n), B >= 1.
        padded = F.pad(amplitude * noise + previous, (pad, pad, pad, pad), mode=pad_mode)
        window = _window(padded, top, left, crop_h + 2 * pad, crop_w + 2 * pad)
        return generator.residual(window) + _window(previous, top, left, crop_h, crop_w)

    # With a per-sample norm (instance or none) a network gives each batch item the same output alone or in a
    # batch, so the critic scores real and fake in one call and the generator makes the fake and the
    # reconstruction in one call: fewer, larger kernels (the coarse scales are bound by per-call overhead).
    # BatchNorm (the `paper` preset) normalises over the batch, so there the calls stay separate.
    batched = config.norm_at((height, width)) != "batch"
    # Lazy regularisation: the penalty on every k-th critic step only.
    penalty_every = config.gradient_penalty_every_at((height, width))

    # One fused kernel per update (CPU and CUDA) instead of ~10 small ops per parameter, which weigh at tiny
    # scales: a few percent of a coarse-scale step against the multi-tensor `foreach` update (BENCHMARKS.md).
    betas = (config.beta1, 0.999)
    fused = {"fused": True} if device.type in ("cpu", "cuda") else {"foreach": True}
    # The chain's older generators learn more slowly the further they sit below this scale (ConSinGAN).
    groups: list[dict[str, Any]] = [{"params": list(generator.parameters()), "lr": config.lr_g}]
    for j in chain:
        older = model.generators[j].train().requires_grad_(True)
        rate = config.lr_g * config.concurrent_lr_scale ** (scale - j)
        groups.append({"params": list(older.parameters()), "lr": rate})
    optimizer_g = torch.optim.Adam(groups, lr=config.lr_g, betas=betas, **fused)
    optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=betas, **fused)
    milestone = [max(1, int(iterations * config.lr_decay_at))]
    schedulers = [torch.optim.lr_scheduler.MultiStepLR(o, milestone, gamma=0.1) for o in (optimizer_g, optimizer_d)]
    generator.train()
    discriminator.train()

    # 3. Alternate critic and generator steps.
    for iteration in range(iterations):
        if stop_event is not None and stop_event.is_set():
            raise TrainingCancelled(f"training cancelled during scale {scale + 1}; finished scales are saved")
        noise = model.noise_like(scale, 1, (height, width), rng)
        previous = previous_sample()  # at the chain's base scale (this scale's size without a chain)
        lower_noises = chain_noises(1, reconstruction=False)
        top, left = random_corner()
        for d_step in range(config.d_steps):
            real_top, real_left = random_corner()
            real_window = _window(real, real_top, real_left, crop_h, crop_w)
            with torch.no_grad():
                fake = fake_window(noise, through_chain(previous, lower_noises), top, left)
            optimizer_d.zero_grad(set_to_none=True)
            loss_penalty = torch.zeros((), device=device)
            if (iteration * config.d_steps + d_step) % penalty_every == 0:
                penalty = gradient_penalty(discriminator, real_window, fake, generator=rng)
                loss_penalty = config.gradient_penalty_weight * penalty_every * penalty
            if batched:
                real_scores, fake_scores = discriminator(torch.cat([real_window, fake])).chunk(2)
            else:
                real_scores, fake_scores = discriminator(real_window), discriminator(fake)
            loss_d = wgan_d_loss(real_scores, fake_scores)
            (loss_d + loss_penalty).backward()
            optimizer_d.step()
        for parameter in discriminator.parameters():
            parameter.requires_grad_(False)
        for _ in range(config.g_steps):
            optimizer_g.zero_grad(set_to_none=True)
            if alpha > 0 and scale == 0 and config.coarsest_reconstruction_noise == "random":
                reconstruction_noise = model.noise_like(0, 1, (height, width), rng)
            if alpha > 0 and batched:
                if chain:
                    pairs = zip(lower_noises, chain_noises(1, reconstruction=True))
                    inputs = torch.cat([previous, base_reconstruction])
                    previous_both = through_chain(inputs, [torch.cat(pair) for pair in pairs])
                else:
                    previous_both = torch.cat([previous, previous_reconstruction])
                both = fake_window(torch.cat([noise, reconstruction_noise]), previous_both, top, left)
                fake, reconstruction = both.chunk(2)
            else:
                fake = fake_window(noise, through_chain(previous, lower_noises), top, left)
                if alpha > 0:
                    if chain:
                        noises = chain_noises(1, reconstruction=True)
                        previous_reconstruction = through_chain(base_reconstruction, noises)
                    reconstruction = fake_window(reconstruction_noise, previous_reconstruction, top, left)
            loss_adv = wgan_g_loss(discriminator(fake))
            loss_patch = torch.zeros((), device=device)
            if config.patch_loss_weight > 0:
                loss_patch = patch_swd_loss(fake, real, config.patch_loss_size, generator=rng)
            loss_rec = torch.zeros((), device=device)
            if alpha > 0:
                loss_rec = F.mse_loss(reconstruction, _window(real, top, left, crop_h, crop_w))
            (loss_adv + config.patch_loss_weight * loss_patch + alpha * loss_rec).backward()
            optimizer_g.step()
        for parameter in discriminator.parameters():
            parameter.requires_grad_(True)
        for scheduler in schedulers:
            scheduler.step()
        if iteration % 25 == 0 or iteration == iterations - 1:
            losses = {"d": loss_d.item(), "gp": penalty.item(), "g": loss_adv.item(), "rec": loss_rec.item()}
            if config.patch_loss_weight > 0:
                losses["patch"] = loss_patch.item()
            report(iteration + 1, losses)
        else:
            report(iteration + 1, {})
    for j in chain:
        model.generators[j].eval().requires_grad_(False)
    return amplitude


def _lower_sample(model: SinGAN, scale: int, rng: torch.Generator) -> Tensor:
    """A random sample from the scales below `scale` (during concurrent training, scales above are trained too)."""
    return model.generate(1, up_to=scale - 1, generator=rng)


def _prepare_folder(out: Path, resume: bool, real: Tensor) -> SinGAN | None:
    """Return the model to continue from (resume) or None for a fresh run; refuse to overwrite a model."""
    if not (out / "config.json").exists():
        return None
    if not resume:
        raise ModelFolderError(f"{out} already holds a model; pass --resume to continue it or choose another --out")
    stored = read_config(out)
    if stored.get("family") != "singan":
        raise ModelFolderError(f"{out} holds a {stored.get('family')!r} model, not a SinGAN")
    model = load_singan(out, device=real.device)
    if tuple(model.real.shape) != tuple(real.shape) or (model.real - real).abs().max().item() > 2e-2:
        raise ModelFolderError(f"{out} was trained on a different image; use another --out for this one")
    return model


def train(
    image: str | os.PathLike[str] | Tensor,
    out: str | os.PathLike[str],
    *,
    config: SinGANConfig | None = None,
    preset_name: str = "fast",
    device: str | torch.device = "auto",
    seed: int = 0,
    resume: bool = False,
    preview: bool = True,
    show_progress: bool = True,
    callback: Callback | None = None,
    stop_event: threading.Event | None = None,
) -> SinGAN:
    """Train a SinGAN on one image and write it to the model folder `out` as it goes.

    image: a path, or a (1, 3, H, W) tensor in [0, 1]. config: overrides `preset_name` ('fast' or 'paper').
    resume: continue an interrupted run in `out` from its last finished scale (its stored config is used).
    Returns the trained model (eval mode). Raises `PatchDNAError` subclasses for every user mistake.
    """
    out = Path(out)
    torch_device = device if isinstance(device, torch.device) else resolve_device(device)
    config = config or preset(preset_name)
    if isinstance(image, Tensor):
        if image.dim() != 4 or image.shape[:2] != (1, 3):
            raise ConfigError(f"image tensor must be (1, 3, H, W) in [0, 1], got {tuple(image.shape)}")
        picture = resize_long_side(image.float(), config.max_size).clamp(0, 1)
    else:
        picture = load_image(image, max_size=config.max_size)
    min_side = 2 * config.num_layers + 2
    if min(picture.shape[-2:]) < min_side:
        raise ConfigError(
            f"image is too small ({picture.shape[-1]}x{picture.shape[-2]}); the short side must be >= {min_side} px"
        )
    real = from_unit(picture).to(torch_device)

    existing = _prepare_folder(out, resume, real)
    if existing is not None:
        model = existing
        config = model.config
    else:
        sizes = pyramid_sizes(real.shape[-2], real.shape[-1], config)
        torch.manual_seed(seed)  # before the model: a cascade's shared tail is initialised with it
        model = SinGAN(config, sizes, real).to(torch_device)
        # z* from its own stream: drawn from `seed` itself it would equal the first random sample of
        # `sample(seed=seed)`, whose coarsest noise would then be the reconstruction's.
        fixed_noise_rng = torch.Generator().manual_seed((seed + FIXED_NOISE_SEED_OFFSET) % 2**63)
        model.fixed_noise = torch.randn(1, 1, *sizes[0], generator=fixed_noise_rng).to(torch_device)
    rng = torch.Generator().manual_seed(seed)
    state = load_training_state(out) if existing is not None else None
    elapsed_before = cpu_before = 0.0
    if state is not None:
        tensors, meta = state
        if int(meta.get("completed_scales", -1)) == model.num_trained and "rng" in tensors:
            rng.set_state(tensors["rng"])
            elapsed_before = float(meta.get("elapsed", 0.0))
            cpu_before = float(meta.get("cpu", 0.0))
    num_scales = len(model.sizes)
    if model.num_trained == num_scales:
        if show_progress:
            print(f"{out}: all {num_scales} scales are already trained")
        return model.eval()

    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    cpu_started = time.process_time()  # all threads of this process: comparable across machine loads
    cost = [h * w for h, w in model.sizes]  # per-iteration work grows with the (cropped) pixel count
    if config.crop_size:
        cost = [min(h, config.crop_size) * min(w, config.crop_size) for h, w in model.sizes]
    # concurrent training adds the chain's whole-image scales to each step
    for scale, size in enumerate(model.sizes):
        below = range(scale - config.concurrent_stages_at(scale, size) + 1, scale)
        cost[scale] += sum(model.sizes[j][0] * model.sizes[j][1] for j in below)
    # fixed per-step overhead, measured to matter at small scales; times the scale's number of steps
    cost = [(c + 200) * config.iterations_at(scale) for scale, c in enumerate(cost)]
    finished_cost = [0.0]  # a list so the per-scale report closure sees updates

    for scale in range(model.num_trained, num_scales):
        torch.manual_seed(seed * 1000 + scale)  # network init of this scale does not depend on resume
        generator, discriminator = model.new_stage()
        height, width = model.sizes[scale]
        steps = config.iterations_at(scale)
        bar = tqdm(
            total=steps,
            desc=f"scale {scale + 1}/{num_scales} {height}x{width}",
            disable=not show_progress,
            leave=True,
            dynamic_ncols=True,
        )
        scale_started = time.perf_counter()

        def report(
            iteration: int, losses: dict[str, float], bar: Any = bar, scale: int = scale, steps: int = steps
        ) -> None:
            bar.update(1)
            if losses:
                bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items()}, refresh=False)
            if callback is not None and (losses or iteration == steps):
                elapsed = time.perf_counter() - started
                work = finished_cost[0] + cost[scale] * iteration / steps
                remaining = sum(cost[scale:]) - cost[scale] * iteration / steps
                eta = elapsed / work * remaining if work > 0 else None
                callback(TrainingEvent("step", scale, num_scales, iteration, steps, elapsed, eta, losses))

        if callback is not None:
            callback(TrainingEvent("scale_start", scale, num_scales, 0, steps, time.perf_counter() - started))
        try:
            stages = config.concurrent_stages_at(scale, (height, width))
            if model.is_cascade_scale(scale):
                assert isinstance(generator, CascadeBlock)
                _, fixed = train_cascade_scale(
                    model, scale, generator, discriminator, rng, steps, report, stop_event, stages
                )
                if fixed is not None:
                    model.set_cascade_noise(scale, fixed)
            else:
                # An image scale's chain never reaches down into the cascade (it passes features, not images).
                stages = min(stages, scale - model.num_cascade + 1)
                assert isinstance(generator, StageGenerator)
                _train_scale(
                    model, scale, generator, discriminator, rng, steps, report, stop_event, concurrent_stages=stages
                )
        except BaseException:
            bar.close()
            # Drop this scale's partial amplitude so the saved folder stays consistent with its networks.
            model.noise_amplitudes = model.noise_amplitudes[: model.num_trained]
            raise
        bar.close()
        # 4. Freeze, append, save: the folder always holds every finished scale.
        generator.eval().requires_grad_(False)
        discriminator.eval().requires_grad_(False)
        model.generators.append(generator)
        model.discriminators.append(discriminator)
        seconds = time.perf_counter() - scale_started
        timings = _scale_seconds(out, model.num_trained - 1) + [seconds]
        total = elapsed_before + time.perf_counter() - started
        cpu_total = cpu_before + time.process_time() - cpu_started
        extra = {"scale_seconds": timings, "train_seconds": total, "train_cpu_seconds": cpu_total, "seed": seed}
        save_singan(model, out, extra=extra)
        progress = {"completed_scales": model.num_trained, "elapsed": total, "cpu": cpu_total}
        save_training_state(out, {"rng": rng.get_state()}, progress)
        finished_cost[0] += cost[scale]
        preview_image = _preview(model, rng_seed=seed) if (preview or callback is not None) else None
        if preview and preview_image is not None:
            save_image(preview_image, out / "previews" / f"scale_{scale:02d}.png")
        if callback is not None:
            callback(
                TrainingEvent(
                    "scale_end",
                    scale,
                    num_scales,
                    steps,
                    steps,
                    time.perf_counter() - started,
                    None,
                    {},
                    preview_image,
                )
            )
    if callback is not None:
        callback(TrainingEvent("done", num_scales - 1, num_scales, elapsed=time.perf_counter() - started))
    return model.eval()


def _scale_seconds(out: Path, count: int) -> list[float]:
    """Per-scale train seconds recorded so far (kept across resumes)."""
    try:
        stored = read_config(out).get("scale_seconds", [])
    except ModelFolderError:
        return []
    return [float(s) for s in stored][:count]


@torch.no_grad()
def _preview(model: SinGAN, rng_seed: int) -> Tensor:
    """A sheet of the real image, the reconstruction and 4 samples at the last trained scale, in [0, 1]."""
    model.eval()
    real = model.reals()[model.num_trained - 1]
    reconstruction = model.reconstruct()[-1]
    samples = model.generate(4, generator=torch.Generator().manual_seed(rng_seed))
    tiles = [to_unit(real), to_unit(reconstruction)] + [to_unit(s[None]) for s in samples]
    return image_grid(tiles, columns=3)
