"""Training one scale of the feature cascade (`SinGANConfig.cascade_max_size`; ConSinGAN, Hinz et al. 2021).

Per cascade scale n (the newest `concurrent_stages` blocks j = low..n train together, block j at
lr_g x concurrent_lr_scale^(n - j); the shared tail always at lr_g):
  1. the new block starts as a copy of the block below (`SinGAN.new_stage`); its fixed reconstruction noise
     z*_n (C channels) is drawn, and sigma_n = noise_amplitude_weight x RMSE(real_n, tail(F_rec_n)) with the
     new block run at sigma_n = 0 (scale 0: 1, its noise is the input itself);
  2. the frozen blocks below `low` give a pool of random features and the reconstruction's features once;
  3. each iteration makes the fake and the reconstruction in one batch-2 pass through blocks low..n and the
     tail, then one critic step (WGAN-GP) on the whole image with that fake detached, then one generator step:
     adversarial + alpha x MSE(reconstruction, real_n) + the patch SWD term.
The reconstruction input of scale 0 is `SinGAN.reconstruction_noise()` (the real coarsest image with
`coarsest_reconstruction_noise` "image", ConSinGAN's z_opt), z*_j above it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from patchdna.errors import TrainingCancelled
from patchdna.ops import gradient_penalty, patch_swd_loss, wgan_d_loss, wgan_g_loss
from patchdna.singan.model import SinGAN
from patchdna.singan.networks import CascadeBlock, StageDiscriminator, cascade_features

__all__ = ["train_cascade_scale"]


def train_cascade_scale(
    model: SinGAN,
    scale: int,
    block: CascadeBlock,
    discriminator: StageDiscriminator,
    rng: torch.Generator,
    iterations: int,
    report: Callable[[int, dict[str, float]], None],
    stop_event: threading.Event | None,
    concurrent_stages: int,
) -> tuple[float, Tensor | None]:
    """Train cascade scale `scale` in place (its block, the `concurrent_stages` - 1 blocks below, the tail).

    Appends sigma_n to `model.noise_amplitudes` (as `training._train_scale` does) and returns it with the
    scale's fixed reconstruction noise z*_n (None at scale 0), which the caller stores once the scale is done.
    """
    config = model.config
    device = model.real.device
    tail = model.cascade_tail
    assert tail is not None
    real = model.reals()[scale]
    height, width = model.sizes[scale]
    blocks = [*model.generators[:scale], block]
    low = scale - concurrent_stages + 1
    pad_mode = model.pad_mode

    def image(features: Tensor) -> Tensor:
        return tail(features, pad_mode)

    # 1. z*_n and sigma_n.
    fixed = model.noise_like(scale, 1, (height, width), rng) if scale > 0 else None
    reconstruction_noises = [model.reconstruction_noise_at(j) for j in range(scale)] + [fixed]
    if scale == 0:
        reconstruction_noises[0] = model.reconstruction_noise()
        amplitude = 1.0
    else:
        amplitudes = [*model.noise_amplitudes, torch.zeros((), device=device)]
        with torch.no_grad():
            reconstruction = image(cascade_features(blocks, reconstruction_noises, amplitudes, pad_mode=pad_mode))
        amplitude = config.noise_amplitude_weight * torch.sqrt(F.mse_loss(reconstruction, real)).item()
    model.noise_amplitudes = torch.cat([model.noise_amplitudes, torch.tensor([amplitude], device=device)])
    amplitudes = list(model.noise_amplitudes)

    # 2. Inputs from the frozen blocks below `low`: a pool of random features and the reconstruction's.
    pool: list[Tensor] = []
    reconstruction_low: Tensor | None = None

    def random_low() -> Tensor:
        noises = [model.noise_like(j, 1, model.sizes[j], rng) for j in range(low)]
        return cascade_features(blocks[:low], noises, amplitudes, pad_mode=pad_mode)

    if low > 0:
        with torch.no_grad():
            pool = [random_low() for _ in range(config.sample_pool)]
            reconstruction_low = cascade_features(
                blocks[:low], reconstruction_noises[:low], amplitudes, pad_mode=pad_mode
            )

    betas = (config.beta1, 0.999)
    fused = {"fused": True} if device.type in ("cpu", "cuda") else {"foreach": True}
    groups: list[dict[str, Any]] = [{"params": list(tail.parameters()), "lr": config.lr_g}]
    for j in range(low, scale + 1):
        trained = blocks[j].train().requires_grad_(True)
        rate = config.lr_g * config.concurrent_lr_scale ** (scale - j)  # older blocks learn more slowly
        groups.append({"params": list(trained.parameters()), "lr": rate})
    tail.train().requires_grad_(True)
    optimizer_g = torch.optim.Adam(groups, lr=config.lr_g, betas=betas, **fused)
    optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=betas, **fused)
    milestone = [max(1, int(iterations * config.lr_decay_at))]
    schedulers = [torch.optim.lr_scheduler.MultiStepLR(o, milestone, gamma=0.1) for o in (optimizer_g, optimizer_d)]
    discriminator.train()
    alpha = config.reconstruction_weight  # the cascade's scales always train on the whole image
    penalty_every = config.gradient_penalty_every
    penalty = loss_d = loss_adv = loss_rec = loss_patch = torch.zeros((), device=device)

    # 3. One batch-2 pass (fake, reconstruction) per iteration; the critic scores that same fake, detached.
    for iteration in range(iterations):
        if stop_event is not None and stop_event.is_set():
            raise TrainingCancelled(f"training cancelled during scale {scale + 1}; finished scales are saved")
        noises: list[Tensor | None] = [None] * low
        for j in range(low, scale + 1):
            rec_noise = reconstruction_noises[j]
            assert rec_noise is not None
            noises.append(torch.cat([model.noise_like(j, 1, model.sizes[j], rng), rec_noise]))
        if low == 0:
            features = cascade_features(blocks, noises, amplitudes, pad_mode=pad_mode)
        else:
            assert reconstruction_low is not None
            lower = pool[int(torch.randint(len(pool), (1,), generator=rng))] if pool else random_low()
            start = torch.cat([lower, reconstruction_low])
            features = cascade_features(blocks, noises, amplitudes, start=low, features=start, pad_mode=pad_mode)
        fake, reconstruction = image(features).chunk(2)

        optimizer_d.zero_grad(set_to_none=True)
        loss_penalty = torch.zeros((), device=device)
        if iteration % penalty_every == 0:
            penalty = gradient_penalty(discriminator, real, fake, generator=rng)
            loss_penalty = config.gradient_penalty_weight * penalty_every * penalty
        real_scores, fake_scores = discriminator(torch.cat([real, fake.detach()])).chunk(2)
        loss_d = wgan_d_loss(real_scores, fake_scores)
        (loss_d + loss_penalty).backward()
        optimizer_d.step()

        discriminator.requires_grad_(False)
        optimizer_g.zero_grad(set_to_none=True)
        loss_adv = wgan_g_loss(discriminator(fake))
        if config.patch_loss_weight > 0:
            loss_patch = patch_swd_loss(fake, real, config.patch_loss_size, generator=rng)
        loss_rec = F.mse_loss(reconstruction, real)
        (loss_adv + config.patch_loss_weight * loss_patch + alpha * loss_rec).backward()
        optimizer_g.step()
        discriminator.requires_grad_(True)
        for scheduler in schedulers:
            scheduler.step()
        if iteration % 25 == 0 or iteration == iterations - 1:
            losses = {"d": loss_d.item(), "gp": penalty.item(), "g": loss_adv.item(), "rec": loss_rec.item()}
            if config.patch_loss_weight > 0:
                losses["patch"] = loss_patch.item()
            report(iteration + 1, losses)
        else:
            report(iteration + 1, {})
    for trained in blocks[low:]:
        trained.eval().requires_grad_(False)
    tail.eval().requires_grad_(False)
    return amplitude, fixed
