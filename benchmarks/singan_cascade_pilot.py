# ruff: noqa: B023  (the per-stage closures are called only inside their own stage's loop)
"""Pilot for issue 2: ConSinGAN's feature cascade on the coarse scales, SinGAN's per-scale stages above.

An experiment: it trains one image and prints one JSON line with the mean patch SWD and the diversity of its
free samples (the ruler of benchmarks/singan_places.py: seed-1 samples rounded to 8 bits, 10 by default as for
LSUN). BENCHMARKS.md, sessions 16-17, holds what it measured. Its default ("hybrid", "batch") is now the
library's `cascade` preset (singan/networks.py, singan/cascade_training.py); the pilot keeps its own copy of
the networks so its recorded figures reproduce, and for variants the preset does not have a field for.

    python benchmarks/singan_cascade_pilot.py lsun 0 --out runs/cascade [--set '{"hybrid": false}']

The generator of the scales up to `crop` px (the `fast` preset's whole-image scales) is ConSinGAN's (Hinz et
al. 2021): a shared head (3 -> C channels) and tail (C -> 3, Tanh), one block of L convolutions per scale
that refines the upsampled *features* of the scale below, with C-channel noise added to its input, every
stage's block started from a copy of the previous one, and the newest k blocks trained together (older ones
at lr x lr_scale^distance; the head in the first `head_stages` stages; the tail always). Reconstruction input:
the real coarsest image at stage 0 (ConSinGAN's z_opt), fixed C-channel noise x sigma above.
With "hybrid" (the default) the scales above `crop` px are the `fast` preset's per-scale image generators,
trained alone on random crops from a pool of lower samples (alpha 100, the patch SWD term, no norm). Without
it the cascade goes on up the pyramid, its fine blocks trained alone on crops of pooled lower features.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from singan_places import USER_STUDIES, json_object
from torch import Tensor, nn

from patchdna.errors import PatchDNAError
from patchdna.io import load_image, save_image
from patchdna.layers import ConvBlock, init_gan_weights
from patchdna.metrics import diversity, patch_swd
from patchdna.ops import gradient_penalty, patch_swd_loss, resize, wgan_d_loss, wgan_g_loss
from patchdna.singan.config import preset
from patchdna.singan.networks import StageDiscriminator, StageGenerator
from patchdna.singan.pyramid import pyramid_sizes
from patchdna.video import image_grid

DEFAULTS = {
    "C": 32,  # feature channels of the cascade (ConSinGAN: 64)
    "L": 3,  # convolutions per cascade block (ConSinGAN: 3)
    "norm": "instance",  # cascade norm (ConSinGAN: none; none gave junk here, BENCHMARKS.md session 16)
    "slope": 0.05,  # LeakyReLU slope of the cascade (ConSinGAN)
    "dnorm": "instance",  # critic norm on the cascade's scales (the `fast` preset's)
    "dslope": 0.2,
    "iters": [1500, 1500, 1000, 500, 500, 500, 500],  # per scale, as `fast` (500 x 3, 3, 2, 1, ...)
    "crop": 80,  # px: scales above are trained on crops of this side
    "k": 3,  # cascade blocks trained at once (ConSinGAN's train_depth)
    "lr": 5e-4,
    "lr_scale": 0.1,
    "alpha": 10.0,  # reconstruction weight on whole-image scales
    "crop_alpha": 100.0,  # on cropped scales (as `fast`)
    "amp_w": 0.1,  # sigma_n = amp_w x RMSE of the reconstruction
    "patch_w": 1.0,  # patch SWD term (as `fast`)
    "cascade_patch_w": None,  # the patch SWD term on the cascade's scales (None: patch_w)
    "d_steps": 1,
    "pool": 16,  # lower samples drawn once per cropped scale
    "head_stages": 3,
    "seed": 0,
    "samples": 10,
    "hybrid": True,
    "batch": True,  # whole-image stages: fake and reconstruction in one batched pass, its fake reused by the critic
}


class Cascade(nn.Module):
    """ConSinGAN's generator: features flow up the pyramid; one shared tail makes the image."""

    def __init__(self, p: dict, sizes: list[tuple[int, int]]):
        super().__init__()
        self.p, self.sizes = p, sizes
        self.head = ConvBlock(3, p["C"], norm=p["norm"], negative_slope=p["slope"])
        self.body = nn.ModuleList()
        self.tail = nn.Sequential(nn.Conv2d(p["C"], 3, 3), nn.Tanh())
        init_gan_weights(self)

    def add_block(self) -> None:
        if len(self.body):
            block = copy.deepcopy(self.body[-1])
        else:
            p = self.p
            block = nn.Sequential(
                *[ConvBlock(p["C"], p["C"], norm=p["norm"], negative_slope=p["slope"]) for _ in range(p["L"])]
            )
            init_gan_weights(block)
        self.body.append(block)

    def stage0(self, z0: Tensor) -> Tensor:
        """(B, 3, h0, w0) noise (or the real coarsest image) -> (B, C, h0, w0) features."""
        h, w, L = z0.shape[-2], z0.shape[-1], self.p["L"]
        x = self.head(F.pad(z0, (1, 1, 1, 1)))
        x = resize(x, (h + 2, w + 2))
        return self.body[0](F.pad(x, (L - 1,) * 4))

    def step(self, i: int, feat: Tensor, noise: Tensor, amp: float) -> Tensor:
        """features of scale i-1 -> features of scale i; noise (B, C, h_i + 2L, w_i + 2L)."""
        (h, w), L = self.sizes[i], self.p["L"]
        up1 = resize(feat, (h, w))
        up2 = resize(feat, (h + 2 * L, w + 2 * L))
        return self.body[i](up2 + amp * noise) + up1

    def features(self, noises: list, amps: list, upto: int, start: int = 0, feat: Tensor | None = None) -> Tensor:
        if start == 0:
            feat = self.stage0(noises[0])
            start = 1
        assert feat is not None
        for i in range(start, upto + 1):
            feat = self.step(i, feat, noises[i], amps[i])
        return feat

    def image(self, feat: Tensor) -> Tensor:
        return self.tail(F.pad(feat, (1, 1, 1, 1)))


def critic_step(critic: nn.Module, optimizer: torch.optim.Optimizer, real: Tensor, fake: Tensor, rng) -> None:
    """One WGAN-GP step (penalty weight 0.1) on a real and a fake window, scored in one call."""
    optimizer.zero_grad(set_to_none=True)
    penalty = gradient_penalty(critic, real, fake, generator=rng)
    real_scores, fake_scores = critic(torch.cat([real, fake])).chunk(2)
    (wgan_d_loss(real_scores, fake_scores) + 0.1 * penalty).backward()
    optimizer.step()


def schedule(p: dict, scale: int, *optimizers: torch.optim.Optimizer) -> tuple[int, list]:
    """Iterations of `scale` and the x0.1 learning-rate drop at 80% of them for each optimizer."""
    iters = p["iters"][scale] if scale < len(p["iters"]) else p["iters"][-1]
    return iters, [torch.optim.lr_scheduler.MultiStepLR(o, [int(0.8 * iters)], 0.1) for o in optimizers]


def run(dataset: str, index: int, out: Path, p: dict) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(p["seed"])
    rng = torch.Generator().manual_seed(p["seed"])
    picture = load_image(USER_STUDIES / dataset / "Real" / f"{index}.jpg", max_size=250)
    real_full = picture * 2 - 1
    sizes = pyramid_sizes(real_full.shape[-2], real_full.shape[-1], preset("diverse"))
    reals = [resize(real_full, s) for s in sizes]
    C, L = p["C"], p["L"]

    def noise(i: int, gen: torch.Generator = rng) -> Tensor:
        h, w = sizes[i]
        if i == 0:
            return torch.randn(1, 3, h, w, generator=gen)
        return torch.randn(1, C, h + 2 * L, w + 2 * L, generator=gen)

    def corner(h: int, w: int, ch: int, cw: int) -> tuple[int, int]:
        return int(torch.randint(h - ch + 1, (1,), generator=rng)), int(torch.randint(w - cw + 1, (1,), generator=rng))

    G = Cascade(p, sizes)
    amps: list[float] = []
    fixed: list[Tensor] = []
    D_prev: StageDiscriminator | None = None
    started, wall0 = time.process_time(), time.perf_counter()
    first_fine = len(sizes)
    lr_ = torch.zeros(())
    for n, (h, w) in enumerate(sizes):
        t0, w0 = time.process_time(), time.perf_counter()
        if p["hybrid"] and max(h, w) > p["crop"]:
            first_fine = n
            break
        G.add_block()
        if n == 0:
            fixed.append(reals[0])
            amps.append(1.0)
        else:
            fixed.append(torch.randn(1, C, h + 2 * L, w + 2 * L, generator=rng))
            amps.append(0.0)
            with torch.no_grad():
                rec = G.image(G.features(fixed, amps, n))
            amps[n] = p["amp_w"] * torch.sqrt(F.mse_loss(rec, reals[n])).item()
        D = StageDiscriminator(width=C, num_layers=5, norm=p["dnorm"], negative_slope=p["dslope"])
        if D_prev is not None:
            D.load_state_dict(D_prev.state_dict())
        cropped = max(h, w) > p["crop"]
        alpha = p["crop_alpha"] if cropped else p["alpha"]
        low = max(0, n - (1 if cropped else p["k"]) + 1)
        groups = [
            {"params": list(G.body[j].parameters()), "lr": p["lr"] * p["lr_scale"] ** (n - j)}
            for j in range(low, n + 1)
        ]
        if n < p["head_stages"] and low == 0:
            groups.append({"params": list(G.head.parameters()), "lr": p["lr"] * p["lr_scale"] ** n})
        groups.append({"params": list(G.tail.parameters()), "lr": p["lr"]})
        G.requires_grad_(False)
        for group in groups:
            for parameter in group["params"]:
                parameter.requires_grad_(True)
        opt_g = torch.optim.Adam(groups, lr=p["lr"], betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(D.parameters(), lr=p["lr"], betas=(0.5, 0.999))
        iters, schedulers = schedule(p, n, opt_g, opt_d)
        ch, cw = min(h, p["crop"]), min(w, p["crop"])
        pool: list = []
        rec_low = None
        if low > 0:  # frozen lower features: drawn once
            with torch.no_grad():
                for _ in range(p["pool"]):
                    pool.append(G.features([noise(j) for j in range(low)], amps, low - 1))
                rec_low = G.features(fixed, amps, low - 1)
                if cropped and low == n:  # resized once: they do not change during this stage

                    def ups(f: Tensor, h: int = h, w: int = w) -> tuple[Tensor, Tensor]:
                        up1 = F.pad(resize(f, (h, w)), (1, 1, 1, 1))
                        return up1, F.pad(resize(f, (h + 2 * L, w + 2 * L)), (1, 1, 1, 1))

                    pool = [ups(f) for f in pool]
                    rec_low = ups(rec_low)
        real = reals[n]
        patch_w = p["patch_w"] if p["cascade_patch_w"] is None else p["cascade_patch_w"]
        border = torch.zeros(1, 1, h + 2, w + 2)
        border[..., 1:-1, 1:-1] = 1

        def make(noises: list, recon: bool, top: int, left: int, **k: object) -> Tensor:
            """The fake (or reconstruction) window (1, 3, ch, cw) at (top, left)."""
            feat_in = None
            if low > 0:
                feat_in = rec_low if recon else pool[int(torch.randint(len(pool), (1,), generator=rng))]
            if not cropped:
                if low == 0:
                    return G.image(G.features(noises, amps, n))
                return G.image(G.features([None] * low + noises[low:], amps, n, start=low, feat=feat_in))
            assert low == n and feat_in is not None  # cropped: only this block (and the tail) train
            up1, up2 = feat_in
            zn = F.pad(noises[n], (1, 1, 1, 1))
            win_in = (up2 + amps[n] * zn)[..., top : top + ch + 2 + 2 * L, left : left + cw + 2 + 2 * L]
            o = G.body[n](win_in) + up1[..., top : top + ch + 2, left : left + cw + 2]
            # zero outside the image, as the whole-image tail's zero padding would see it
            return G.tail(o * border[..., top : top + ch + 2, left : left + cw + 2])

        if p["batch"] and not cropped:
            # One pass of batch 2 (fake, reconstruction) per iteration; the critic scores the same fake, detached.
            # Same mathematics as the loop below with d_steps = 1, about a third fewer generator passes.
            for _ in range(iters):
                noises = [torch.cat([noise(j), fixed[j]]) if j >= low else None for j in range(n + 1)]
                if low == 0:
                    fake, rec = G.image(G.features(noises, amps, n)).chunk(2)
                else:
                    assert rec_low is not None
                    feat_in = torch.cat([pool[int(torch.randint(len(pool), (1,), generator=rng))], rec_low])
                    fake, rec = G.image(G.features(noises, amps, n, start=low, feat=feat_in)).chunk(2)
                critic_step(D, opt_d, real, fake.detach(), rng)
                D.requires_grad_(False)
                opt_g.zero_grad(set_to_none=True)
                lr_ = F.mse_loss(rec, real)
                lp = patch_swd_loss(fake, real, 7, generator=rng) if patch_w > 0 else torch.zeros(())
                (wgan_g_loss(D(fake)) + alpha * lr_ + patch_w * lp).backward()
                opt_g.step()
                D.requires_grad_(True)
                for scheduler in schedulers:
                    scheduler.step()
            iters = 0
        for _ in range(iters):
            top, left = corner(h, w, ch, cw)
            noises = [noise(j) if j >= low else None for j in range(n + 1)]
            real_window = real[..., top : top + ch, left : left + cw]
            for _ in range(p["d_steps"]):
                rt, rl = corner(h, w, ch, cw)
                real_d = real[..., rt : rt + ch, rl : rl + cw]
                with torch.no_grad():
                    fake = make(noises, False, top, left)
                critic_step(D, opt_d, real_d, fake, rng)
            D.requires_grad_(False)
            opt_g.zero_grad(set_to_none=True)
            fake = make(noises, False, top, left)
            rec = make([fixed[j] if j >= low else None for j in range(n + 1)], True, top, left)
            lr_ = F.mse_loss(rec, real_window)
            lp = patch_swd_loss(fake, real, 7, generator=rng) if patch_w > 0 else torch.zeros(())
            (wgan_g_loss(D(fake)) + alpha * lr_ + patch_w * lp).backward()
            opt_g.step()
            D.requires_grad_(True)
            for scheduler in schedulers:
                scheduler.step()
        D_prev = D
        line = {"scale": n, "size": [h, w], "amp": amps[n], "rec": lr_.item()}
        line |= {"cpu": time.process_time() - t0, "wall": time.perf_counter() - w0}
        print(json.dumps(line), flush=True)

    # Hybrid: the fast preset's per-scale image generators above the cascade.
    fine_g: list[StageGenerator] = []
    fine_amp: list[float] = []
    top_cascade = first_fine - 1
    G.requires_grad_(False)

    def cascade_image(noises: list) -> Tensor:
        return G.image(G.features(noises, amps, top_cascade))

    def fine_up(img: Tensor, upto: int, gen: torch.Generator) -> Tensor:
        for j in range(first_fine, upto + 1):
            prev = resize(img, sizes[j])
            z = torch.randn(img.shape[0], 3, *sizes[j], generator=gen)
            img = fine_g[j - first_fine](fine_amp[j - first_fine] * z + prev, prev)
        return img

    with torch.no_grad():
        rec_img = cascade_image(fixed)
    prev_g: StageGenerator | None = None
    prev_d: StageDiscriminator | None = None
    for n in range(first_fine, len(sizes)):
        t0, w0 = time.process_time(), time.perf_counter()
        h, w = sizes[n]
        real = reals[n]
        prev_rec = resize(rec_img, (h, w))
        amp = p["amp_w"] * torch.sqrt(F.mse_loss(prev_rec, real)).item()
        gn = StageGenerator(width=C, num_layers=5, norm="none", negative_slope=0.2)
        dn = StageDiscriminator(width=C, num_layers=5, norm="none", negative_slope=0.2)
        if prev_g is not None and prev_d is not None:
            gn.load_state_dict(prev_g.state_dict())
            dn.load_state_dict(prev_d.state_dict())
        with torch.no_grad():
            lower = []
            for _ in range(p["pool"]):
                noises = [noise(j) for j in range(first_fine)]
                lower.append(resize(fine_up(cascade_image(noises), n - 1, rng), (h, w)))
        opt_g = torch.optim.Adam(gn.parameters(), lr=p["lr"], betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(dn.parameters(), lr=p["lr"], betas=(0.5, 0.999))
        iters, schedulers = schedule(p, n, opt_g, opt_d)
        ch, cw = min(h, p["crop"]), min(w, p["crop"])
        pad = 5
        for _ in range(iters):
            top, left = corner(h, w, ch, cw)
            prev = lower[int(torch.randint(len(lower), (1,), generator=rng))]
            z = torch.randn(1, 3, h, w, generator=rng)

            def window(zz: Tensor, pv: Tensor, top: int = top, left: int = left) -> Tensor:
                padded = F.pad(amp * zz + pv, (pad,) * 4)
                win = padded[..., top : top + ch + 2 * pad, left : left + cw + 2 * pad]
                return gn.residual(win) + pv[..., top : top + ch, left : left + cw]

            rt, rl = corner(h, w, ch, cw)
            real_d = real[..., rt : rt + ch, rl : rl + cw]
            with torch.no_grad():
                fake = window(z, prev)
            critic_step(dn, opt_d, real_d, fake, rng)
            dn.requires_grad_(False)
            opt_g.zero_grad(set_to_none=True)
            fake, rec = window(torch.cat([z, torch.zeros_like(z)]), torch.cat([prev, prev_rec])).chunk(2)
            lr_ = F.mse_loss(rec, real[..., top : top + ch, left : left + cw])
            lp = patch_swd_loss(fake, real, 7, generator=rng)
            (wgan_g_loss(dn(fake)) + p["crop_alpha"] * lr_ + p["patch_w"] * lp).backward()
            opt_g.step()
            dn.requires_grad_(True)
            for scheduler in schedulers:
                scheduler.step()
        gn.eval().requires_grad_(False)
        dn.eval().requires_grad_(False)
        fine_g.append(gn)
        fine_amp.append(amp)
        prev_g, prev_d = gn, dn
        with torch.no_grad():
            rec_img = gn(prev_rec, prev_rec)
        line = {"scale": n, "size": [h, w], "amp": amp, "rec": lr_.item()}
        line |= {"cpu": time.process_time() - t0, "wall": time.perf_counter() - w0}
        print(json.dumps(line), flush=True)

    cpu, wall = time.process_time() - started, time.perf_counter() - wall0
    G.eval()
    sample_rng = torch.Generator().manual_seed(p["seed"] + 1)
    with torch.no_grad():
        samples = []
        for _ in range(p["samples"]):
            noises = [noise(j, gen=sample_rng) for j in range(first_fine)]
            img = (fine_up(cascade_image(noises), len(sizes) - 1, sample_rng) + 1) / 2
            samples.append((img.clamp(0, 1) * 255).round() / 255)
        reconstruction = ((rec_img + 1) / 2).clamp(0, 1)
    swd = sum(patch_swd(picture, s) for s in samples) / len(samples)
    tiles = [picture, reconstruction] + samples[:7]
    save_image(image_grid(tiles, columns=3), out / f"{dataset}{index}.png")
    result = {"dataset": dataset, "index": index, "swd": swd, "div": diversity(samples, picture), "cpu": cpu}
    result |= {"wall": wall, "params": p}
    with open(out / "results.jsonl", "a") as f:
        f.write(json.dumps(result) + "\n")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["places", "lsun"])
    parser.add_argument("index", type=int)
    parser.add_argument("--out", default="runs/cascade_pilot")
    parser.add_argument(
        "--set", type=json_object, default={}, help="JSON overrides of DEFAULTS, e.g. '{\"hybrid\": false}'"
    )
    args = parser.parse_args()
    if not USER_STUDIES.is_dir():
        print(f"needs {USER_STUDIES} (the shared user-study images)", file=sys.stderr)
        return 2
    unknown = sorted(set(args.set) - set(DEFAULTS))
    if unknown:
        print(f"error: unknown --set keys {unknown}; known: {', '.join(DEFAULTS)}", file=sys.stderr)
        return 2
    try:
        result = run(args.dataset, args.index, Path(args.out), DEFAULTS | args.set)
    except PatchDNAError as error:  # e.g. an index with no image
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
