"""InstaGAN training: LSGAN + cycle + identity + context-preserving losses, sequential mini-batches, DDP.

Paper -> code: x -> image_a, a = {a_i} -> masks_a, (y', b') = G_XY(x, a) -> fake_b, fake_b_masks,
L_cyc -> cycle, L_idt -> identity, L_ctx -> context, D_Y -> discriminator_b.

Sequential mini-batches: each iteration walks over the `ins_max` masks `ins_per` at a time. Pass p translates
the current image with masks [p k, (p+1) k), does one generator step and one discriminator step (D sees the
masks generated in earlier passes, detached, the current ones, and empty slots for the rest), and the
detached fake image becomes the next pass's input. An image with no mask in a pass is left as it is and
contributes zero loss (per-sample weights), which keeps batch size > 1 and multi-process means exact.

Data parallel: under `torchrun`, each process takes its slice of one global batch (chosen from the seed and
step, so 2 processes x batch B see what 1 process x batch 2B sees) and gradients are averaged with one
all-reduce per step (what DDP does; done explicitly because each generator runs several times per step
and discriminators run inside the generator step with frozen weights). gloo on CPU, NCCL on CUDA.
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm import tqdm

from patchdna.checkpoint import (
    flatten_optimizer_state,
    load_training_state,
    save_training_state,
    unflatten_optimizer_state,
)
from patchdna.errors import ConfigError, ModelFolderError
from patchdna.instagan.config import InstaGANConfig
from patchdna.instagan.data import InstanceDataset, to_unit
from patchdna.instagan.model import InstaGAN, build, load, save
from patchdna.instagan.visualize import comparison_sheet
from patchdna.io import save_image

__all__ = ["GENERATOR_LOSSES", "ImagePool", "Trainer", "Batch", "train", "learning_rate_factor"]

# The losses a step reports, in this order, then "d_b" and "d_a".
GENERATOR_LOSSES = (
    "g_gan_ab",
    "g_gan_ba",
    "cycle_a",
    "cycle_b",
    "identity_a",
    "identity_b",
    "context_a",
    "context_b",
)


@dataclass
class Batch:
    """image (B, 3, H, W), masks (B, N, H, W) in [-1, 1], valid (B, N) bool."""

    image: Tensor
    masks: Tensor
    valid: Tensor

    def to(self, device: torch.device) -> Batch:
        return Batch(self.image.to(device), self.masks.to(device), self.valid.to(device))


def learning_rate_factor(step: int, steps: int, decay_steps: int) -> float:
    """Constant for `steps` iterations, then linear to zero over `decay_steps` (the CycleGAN 'linear' policy)."""
    if step < steps or decay_steps == 0:
        return 1.0
    return max(0.0, 1.0 - (step - steps + 1) / (decay_steps + 1))


def lsgan_per_sample(scores: Tensor, target: float) -> Tensor:
    """(B, 1, h, w) patch scores -> (B,) mean squared distance to the target (1 real, 0 fake)."""
    return ((scores - target) ** 2).flatten(1).mean(1)


def l1_per_sample(x: Tensor, y: Tensor) -> Tensor:
    return (x - y).abs().flatten(1).mean(1)


def context_weight(masks: Tensor, fake_masks: Tensor) -> Tensor:
    """(B, k, H, W) source and generated masks in [-1, 1] -> (B, 1, H, W): 1 outside their union, 0 inside."""
    union = (((masks + 1) / 2).sum(1, keepdim=True) + ((fake_masks + 1) / 2).sum(1, keepdim=True)).clamp(0, 1)
    return 1 - union


def context_per_sample(image: Tensor, fake: Tensor, masks: Tensor, fake_masks: Tensor) -> Tensor:
    """(B,) mean of w |image - fake| with w = 0 inside the union of source and generated masks, 1 outside."""
    return (context_weight(masks, fake_masks) * (image - fake).abs()).flatten(1).mean(1)


class ImagePool:
    """The last `size` fakes (image, masks, valid per sample); a query swaps each fake for an old one with p=1/2.

    Showing D older fakes too damps oscillation (Shrivastava et al. 2017); CycleGAN and InstaGAN use 50.
    """

    def __init__(self, size: int, generator: torch.Generator) -> None:
        self.size, self.generator = size, generator
        self.items: list[tuple[Tensor, Tensor, Tensor]] = []

    def query(self, batch: Batch, active: Tensor) -> Batch:
        if self.size == 0:
            return batch
        image, masks, valid = batch.image.clone(), batch.masks.clone(), batch.valid.clone()
        for i in range(image.shape[0]):
            if not bool(active[i]):
                continue
            current = (image[i], masks[i], valid[i])
            if len(self.items) < self.size:
                self.items.append(current)
            elif float(torch.rand((), generator=self.generator)) < 0.5:
                j = int(torch.randint(0, self.size, (1,), generator=self.generator))
                image[i], masks[i], valid[i] = self.items[j]
                self.items[j] = current
        return Batch(image, masks, valid)


def _set_requires_grad(modules: Sequence[nn.Module], flag: bool) -> None:
    for module in modules:
        for parameter in module.parameters():
            parameter.requires_grad_(flag)


def _world() -> int:
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def average_gradients(modules: Sequence[nn.Module]) -> None:
    """All-reduce the gradients of `modules` into their mean over processes, in one flat buffer.

    A parameter without a gradient here (e.g. no mask in this process's batch) counts as zeros, so every
    process reduces the same buffer.
    """
    world = _world()
    if world == 1:
        return
    parameters = [p for m in modules for p in m.parameters() if p.requires_grad]
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world
    offset = 0
    for parameter in parameters:
        count = parameter.numel()
        parameter.grad = flat[offset : offset + count].view_as(parameter).clone()
        offset += count


def _any_across_processes(flag: bool, device: torch.device) -> bool:
    if _world() == 1:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value)
    return bool(value.item() > 0)


def _mean_across_processes(values: dict[str, float], device: torch.device) -> dict[str, float]:
    if _world() == 1 or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], device=device, dtype=torch.float64)
    dist.all_reduce(tensor)
    return {k: float(v) / _world() for k, v in zip(keys, tensor.tolist())}


def _pad_slots(batch: Batch, slots: int) -> Batch:
    """Pad the mask axis to `slots` with empty (-1, invalid) slots."""
    missing = slots - batch.masks.shape[1]
    if missing <= 0:
        return batch
    masks = torch.cat(
        [batch.masks, batch.masks.new_full((batch.masks.shape[0], missing, *batch.masks.shape[2:]), -1.0)], 1
    )
    valid = torch.cat([batch.valid, batch.valid.new_zeros((batch.valid.shape[0], missing))], 1)
    return Batch(batch.image, masks, valid)


class Trainer:
    """Owns the model, optimizers and pools; `step(real_a, real_b)` runs one iteration and returns its losses."""

    def __init__(self, model: InstaGAN, *, device: torch.device, pool_seed: int = 0, world: int = 1) -> None:
        self.model, self.config, self.device = model.to(device), model.config, device
        config = self.config
        betas = (config.beta1, 0.999)
        self.optimizer_g = torch.optim.Adam(
            [p for m in model.generators() for p in m.parameters()], lr=config.learning_rate, betas=betas
        )
        self.optimizer_d = torch.optim.Adam(
            [p for m in model.discriminators() for p in m.parameters()], lr=config.learning_rate, betas=betas
        )
        # Each of `world` processes keeps its share of the pool, so it fills after as many iterations as one
        # process with the whole batch would need.
        pool_size = -(-config.pool_size // world)
        self.pool_a = ImagePool(pool_size, torch.Generator().manual_seed(pool_seed))
        self.pool_b = ImagePool(pool_size, torch.Generator().manual_seed(pool_seed + 1))
        self.iteration = 0

    def set_learning_rate(self, step: int) -> float:
        lr = self.config.learning_rate * learning_rate_factor(step, self.config.steps, self.config.decay_steps)
        for optimizer in (self.optimizer_g, self.optimizer_d):
            for group in optimizer.param_groups:
                group["lr"] = lr
        return lr

    def step(self, real_a: Batch, real_b: Batch) -> dict[str, float]:
        """One iteration over all passes; returns losses averaged over passes (and processes)."""
        config, model = self.config, self.model
        k, passes = config.ins_per, config.passes
        real_a = _pad_slots(real_a.to(self.device), passes * k)
        real_b = _pad_slots(real_b.to(self.device), passes * k)
        current_a, current_b = real_a.image, real_b.image
        done_a: list[Tensor] = []  # detached generated A masks of earlier passes (from B images)
        done_b: list[Tensor] = []
        totals: dict[str, float] = {}
        ran = 0
        for p in range(passes):
            window = slice(p * k, (p + 1) * k)
            masks_a, valid_a = real_a.masks[:, window], real_a.valid[:, window]
            masks_b, valid_b = real_b.masks[:, window], real_b.valid[:, window]
            active_a, active_b = valid_a.any(1), valid_b.any(1)
            if not _any_across_processes(bool(active_a.any() or active_b.any()), self.device):
                break  # masks are sorted, so later windows are empty too
            rest = real_a.masks.new_full((real_a.masks.shape[0], (passes - p - 1) * k, *real_a.masks.shape[2:]), -1.0)
            # The discriminator's view of a fake: earlier generated masks, current ones, empty slots after.
            seen_valid_a = real_a.valid.clone()
            seen_valid_a[:, (p + 1) * k :] = False
            seen_valid_b = real_b.valid.clone()
            seen_valid_b[:, (p + 1) * k :] = False

            # 1. Generators (discriminators frozen). The generator loss is a sum over two independent graphs,
            # one per direction, so each is backpropagated as soon as it is built: the gradients add up to
            # those of the summed loss, and only one direction's activations are held at a time.
            _set_requires_grad(model.discriminators(), False)
            self.optimizer_g.zero_grad(set_to_none=True)
            fake_b, fake_b_masks, seen_b_masks, losses_a = self._generator_losses(
                "a", Batch(current_a, masks_a, valid_a), done_b, rest, seen_valid_a
            )
            fake_a, fake_a_masks, seen_a_masks, losses_b = self._generator_losses(
                "b", Batch(current_b, masks_b, valid_b), done_a, rest, seen_valid_b
            )
            average_gradients(model.generators())
            self.optimizer_g.step()
            losses = {name: {**losses_a, **losses_b}[name] for name in GENERATOR_LOSSES}

            # 2. Discriminators on real (all masks) vs pooled fakes (detached).
            _set_requires_grad(model.discriminators(), True)
            pooled_b = self.pool_b.query(Batch(fake_b, seen_b_masks, seen_valid_a), active_a)
            pooled_a = self.pool_a.query(Batch(fake_a, seen_a_masks, seen_valid_b), active_b)
            d_b = 0.5 * (
                lsgan_per_sample(model.discriminator_b(real_b.image, real_b.masks, real_b.valid), 1.0)
                + lsgan_per_sample(model.discriminator_b(pooled_b.image, pooled_b.masks, pooled_b.valid), 0.0)
            )
            d_a = 0.5 * (
                lsgan_per_sample(model.discriminator_a(real_a.image, real_a.masks, real_a.valid), 1.0)
                + lsgan_per_sample(model.discriminator_a(pooled_a.image, pooled_a.masks, pooled_a.valid), 0.0)
            )
            losses["d_b"] = (d_b * active_a.float()).mean()
            losses["d_a"] = (d_a * active_b.float()).mean()
            self.optimizer_d.zero_grad(set_to_none=True)
            (losses["d_a"] + losses["d_b"]).backward()
            average_gradients(model.discriminators())
            self.optimizer_d.step()

            # 3. The translated image is the next pass's input; an image without masks here stays as it is.
            current_a = torch.where(active_a[:, None, None, None], fake_b, current_a)
            current_b = torch.where(active_b[:, None, None, None], fake_a, current_b)
            done_b.append(fake_b_masks)
            done_a.append(fake_a_masks)
            for name, value in losses.items():
                totals[name] = totals.get(name, 0.0) + float(value.detach())
            ran += 1
        self.iteration += 1
        return _mean_across_processes({n: v / max(ran, 1) for n, v in totals.items()}, self.device)

    def _generator_losses(
        self, source: Literal["a", "b"], real: Batch, earlier: list[Tensor], rest: Tensor, seen: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, dict[str, Tensor]]:
        """One direction's generator losses (source a: x -> G_AB -> G_BA, and G_BA's identity on x), backpropagated.

        `real`: this pass's input image and its k masks (B, k, H, W); `earlier`: the detached masks generated
        in earlier passes and `rest` the empty slots after, which with `seen` (B, N) make the discriminator's
        view. Returns the detached translation, its masks, the discriminator's view of them, and the losses.
        """
        image = real.image
        model, config = self.model, self.config
        if source == "a":
            forward, backward, discriminator, gan = model.generator_ab, model.generator_ba, model.discriminator_b, "ab"
        else:
            forward, backward, discriminator, gan = model.generator_ba, model.generator_ab, model.discriminator_a, "ba"
        fake, fake_masks = forward(image, real.masks, real.valid)
        # The cycle input (the translation) and the identity input (x itself) go through the other generator
        # as one batch: its norms are per sample, so this is the same maths in one call instead of two.
        both, both_masks = backward(
            torch.cat([fake, image]), torch.cat([fake_masks, real.masks]), torch.cat([real.valid, real.valid])
        )
        (rec, idt), (rec_masks, idt_masks) = both.chunk(2), both_masks.chunk(2)
        seen_masks = torch.cat([*earlier, fake_masks, rest], 1)
        target = torch.cat([image, real.masks], 1)
        weight = real.valid.any(1).float()  # an image with no mask in this pass contributes zero loss
        terms = {
            f"g_gan_{gan}": lsgan_per_sample(discriminator(fake, seen_masks, seen), 1.0),
            f"cycle_{source}": l1_per_sample(torch.cat([rec, rec_masks], 1), target),
            f"identity_{source}": l1_per_sample(torch.cat([idt, idt_masks], 1), target),
            f"context_{source}": context_per_sample(image, fake, real.masks, fake_masks),
        }
        losses = {name: (value * weight).mean() for name, value in terms.items()}
        lambdas = (config.lambda_gan, config.lambda_cycle, config.lambda_identity, config.lambda_context)
        total = sum(scale * value for scale, value in zip(lambdas, losses.values()))
        assert isinstance(total, Tensor)
        total.backward()
        detached = {name: value.detach() for name, value in losses.items()}
        return fake.detach(), fake_masks.detach(), seen_masks.detach(), detached

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        tensors_g, meta_g = flatten_optimizer_state(self.optimizer_g, "optimizer_g")
        tensors_d, meta_d = flatten_optimizer_state(self.optimizer_d, "optimizer_d")
        return {**tensors_g, **tensors_d}, {"iteration": self.iteration, "optimizer_g": meta_g, "optimizer_d": meta_d}

    def load_state(self, tensors: dict[str, Tensor], state: dict[str, Any]) -> None:
        unflatten_optimizer_state(self.optimizer_g, "optimizer_g", tensors, state["optimizer_g"])
        unflatten_optimizer_state(self.optimizer_d, "optimizer_d", tensors, state["optimizer_d"])
        for optimizer in (self.optimizer_g, self.optimizer_d):  # moments were loaded on the CPU
            for slots in optimizer.state.values():
                for key, value in slots.items():
                    if isinstance(value, Tensor) and key != "step":
                        slots[key] = value.to(self.device)
        self.iteration = int(state["iteration"])


def reuse_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of handing it back to the kernel (Linux).

    A training step at 200x200 allocates and frees gigabytes of activations and gradients. By default glibc
    serves every buffer above 32 MB with a fresh mmap, whose pages the kernel faults in and zeroes on first
    touch, then unmaps it when freed: measured at about a fifth of the paper preset's CPU time. With mmap off
    and a high trim threshold, freed buffers stay in the heap and the next step reuses them. Process-wide, so
    call it in a process that trains; returns False where the C library is not glibc.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # from glibc's malloc.h
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 2**31 - 1))


def global_batch(
    seed: int, step: int, size_a: int, size_b: int, global_size: int
) -> tuple[list[int], list[int], list[int]]:
    """Indices into A and B and one crop seed per position for iteration `step` (the same in every process)."""
    generator = torch.Generator().manual_seed(seed * 1_000_003 + step)
    index_a = torch.randint(0, size_a, (global_size,), generator=generator).tolist()
    index_b = torch.randint(0, size_b, (global_size,), generator=generator).tolist()
    crop_seeds = torch.randint(0, 2**62, (global_size,), generator=generator).tolist()
    return index_a, index_b, crop_seeds


def setup_distributed(device: torch.device) -> tuple[int, int, bool]:
    """Join the process group that `torchrun` describes in the environment.

    Returns (rank, world size, whether this call created the group and so should destroy it).
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, False
    created = not dist.is_initialized()
    if created:
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return dist.get_rank(), dist.get_world_size(), created


def _preview(
    model: InstaGAN, data_a: InstanceDataset, data_b: InstanceDataset, path: Path, device: torch.device
) -> None:
    count = min(3, len(data_a), len(data_b))
    seeds = list(range(count))
    a = Batch(*data_a.batch(list(range(count)), seeds)).to(device)
    b = Batch(*data_b.batch(list(range(count)), seeds)).to(device)
    model.eval()
    with torch.no_grad():
        rows = []
        for source, generator in ((a, model.generator_ab), (b, model.generator_ba)):
            fake, fake_masks = generator(source.image, source.masks, source.valid)
            rows.append((to_unit(source.image), to_unit(source.masks), to_unit(fake), to_unit(fake_masks)))
    model.train()
    save_image(comparison_sheet(rows), path)


def train(
    config: InstaGANConfig,
    data_a: InstanceDataset,
    data_b: InstanceDataset,
    out: str | os.PathLike[str],
    *,
    device: torch.device | str = "cpu",
    seed: int = 0,
    resume: bool = False,
    save_every: int = 500,
    preview_every: int = 0,
    progress: bool = True,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    init_from: str | os.PathLike[str] | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> InstaGAN:
    """Train into the model folder `out` (saved every `save_every` steps and at the end; `resume` continues).

    `max_steps` / `max_seconds` stop early without changing the learning-rate schedule (a time budget).
    `init_from`: start from the weights of another model folder with the same network shapes (fine-tuning or
    continuing under a new schedule); optimizer moments start fresh.
    `on_step(step, losses)` is called after every iteration in process 0. Under `torchrun`, every process
    must call this with the same arguments.
    """
    device = torch.device(device)
    if device.type == "cuda" and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))  # one GPU per process
    rank, world, created = setup_distributed(device)
    out = Path(out)
    model: InstaGAN
    trainer: Trainer
    start = 0
    state = load_training_state(out) if resume else None
    if state is None and (out / "config.json").exists():
        if resume:
            raise ModelFolderError(f"{out} has a model but no training state to resume from")
        raise ModelFolderError(f"{out} already holds a model; pass --resume to continue it or choose another folder")
    if state is not None:
        model = load(out, device)
        if model.config != config:
            raise ConfigError(f"{out} was trained with another config; resume with the same options or a new folder")
        model.train()
        trainer = Trainer(model, device=device, pool_seed=seed * 7 + rank, world=world)
        trainer.load_state(*state)
        start = trainer.iteration
    else:
        model = build(config, seed=seed)
        if init_from is not None:
            source = load(init_from)
            try:
                model.load_state_dict(source.state_dict())
            except RuntimeError as error:
                raise ConfigError(
                    f"{init_from} has other network widths than this config; cannot start from it"
                ) from error
        trainer = Trainer(model, device=device, pool_seed=seed * 7 + rank, world=world)
    if world > 1:  # same seed gives the same init; broadcasting makes sure of it
        for tensor in model.state_dict().values():
            dist.broadcast(tensor, 0)
    model.train()
    end = min(config.total_steps, max_steps) if max_steps is not None else config.total_steps
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        if state is None:
            (out / "losses.jsonl").unlink(missing_ok=True)
    bar = tqdm(total=end, initial=start, disable=not progress or rank != 0, desc="instagan", unit="it")
    b = config.batch_size
    losses: dict[str, float] = {}
    started = time.perf_counter()
    for step in range(start, end):
        trainer.set_learning_rate(step)
        index_a, index_b, crop_seeds = global_batch(seed, step, len(data_a), len(data_b), b * world)
        mine = slice(rank * b, (rank + 1) * b)
        real_a = Batch(*data_a.batch(index_a[mine], crop_seeds[mine]))
        real_b = Batch(*data_b.batch(index_b[mine], [s ^ 0x5EED for s in crop_seeds[mine]]))
        losses = trainer.step(real_a, real_b)
        out_of_time = max_seconds is not None and time.perf_counter() - started > max_seconds
        if rank == 0:
            if not all(math.isfinite(v) for v in losses.values()):
                raise ConfigError(f"training diverged at step {step} (losses {losses}); try a lower learning rate")
            bar.update(1)
            bar.set_postfix({k: f"{v:.3f}" for k, v in losses.items() if k in ("g_gan_ab", "cycle_a", "d_b")})
            with open(out / "losses.jsonl", "a") as log:  # one line per iteration, for curves
                log.write(json.dumps({"step": step + 1, **losses}) + "\n")
            if on_step is not None:
                on_step(step, losses)
            if preview_every and (step + 1) % preview_every == 0:
                _preview(model, data_a, data_b, out / "previews" / f"step_{step + 1:06d}.png", device)
            if save_every and (step + 1) % save_every == 0 and step + 1 < end:
                _save(model, trainer, out, losses, time.perf_counter() - started)
        if _any_across_processes(out_of_time, device):  # every process stops at the same step
            break
    bar.close()
    if rank == 0:
        _save(model, trainer, out, losses, time.perf_counter() - started)
    if world > 1:
        dist.barrier()
        if created:
            dist.destroy_process_group()
    return model.eval()


def _save(model: InstaGAN, trainer: Trainer, out: Path, losses: dict[str, float], seconds: float) -> None:
    save(model, out, metadata={"iteration": trainer.iteration, "last_losses": losses, "train_seconds": seconds})
    save_training_state(out, *trainer.state())
