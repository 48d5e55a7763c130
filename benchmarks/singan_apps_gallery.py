"""Every SinGAN application on the official inputs: a contact sheet per application in docs/gallery/, and the
issue-3 quality checks for harmonization, editing and animation printed as tables.

Models are trained once (--preset, diverse by default, or lighter with --iterations / --max-size) into --models and
reused.
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/singan_apps_gallery.py --iterations 150 --max-size 160
Seed check of harmonization/editing at k = N-2 (naive, plain and, with --fine-tune, fine-tuned; one row per
example and seed, and a sheet <out>/singan_<app>_seeds.png), on a subset of the examples:
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/singan_apps_gallery.py --apps edit --fine-tune 200 \
        --seeds 0-4 --examples stone_edit,tree_edit --out runs/seeds

Checks (patchdna.metrics.patch_swd, lower = closer to the background's patch distribution):
- harmonization/editing: SWD of the crop of the dilated mask's bounding box (grown to >= 32 px per side) of the
  output and of the naive paste, each against the whole background (training) image: output < naive wanted;
- animation: mean |frame_t - frame_{t-1}| / mean |sample_i - sample_j| of independent samples (<< 1 wanted),
  and the mean SWD of frames vs that of random samples against the real image (similar wanted).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from singan_places import parse_range

from patchdna.io import load_image, load_mask, save_image
from patchdna.metrics import patch_swd
from patchdna.ops import resize
from patchdna.singan import (
    PRESETS,
    SinGAN,
    animate,
    animation_config,
    edit,
    harmonize,
    load_singan,
    paint_to_image,
    preset,
    sample,
    sr_config,
    train,
    upscale,
)
from patchdna.video import image_grid

SINGAN = Path("/work/shared/images/singan")
CONSINGAN = Path("/work/shared/images/consingan")


def get_model(name: str, image: Path, folder: Path, config, seed: int) -> SinGAN:
    target = folder / name
    if (target / "config.json").exists():
        model = load_singan(target)
        if model.num_trained == len(model.sizes):
            return model
    started, cpu = time.perf_counter(), time.process_time()
    picture = load_image(image)
    model = train(picture, target, config=config, device="cpu", seed=seed, preview=False, resume=True)
    print(f"trained {name}: {time.perf_counter() - started:.0f} s wall, {time.process_time() - cpu:.0f} CPU s")
    return model


def fit(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return resize(image, size).clamp(0, 1)


def masked_swd(background: torch.Tensor, image: torch.Tensor, mask: torch.Tensor) -> float:
    """patch SWD of the bounding box of mask > 0.01 (grown to >= 32 px per side) of `image` vs `background`."""
    rows = torch.nonzero(mask[0, 0].amax(dim=1) > 0.01).flatten()
    cols = torch.nonzero(mask[0, 0].amax(dim=0) > 0.01).flatten()
    height, width = image.shape[-2:]

    def span(indices: torch.Tensor, limit: int) -> tuple[int, int]:
        low, high = int(indices.min()), int(indices.max()) + 1
        while high - low < 32:
            low, high = max(0, low - 1), min(limit, high + 1)
        return low, high

    top, bottom = span(rows, height)
    left, right = span(cols, width)
    return patch_swd(background, image[..., top:bottom, left:right])


def sheet(tiles: list[torch.Tensor], columns: int, path: Path) -> None:
    save_image(image_grid([t.cpu().clamp(0, 1) for t in tiles], columns=columns), path)
    print(f"wrote {path}")


def run_sr(args, models: Path, out: Path) -> None:
    image = load_image(SINGAN / "Images/33039_LR.png")
    config = sr_config(4, base_config(args, max_size=False), long_side=max(image.shape[-2:]))
    model = get_model("sr_33039", SINGAN / "Images/33039_LR.png", models, config, args.seed)
    big = upscale(model, image, 4)
    bicubic = fit(image, tuple(big.shape[-2:]))
    sheet([bicubic, big], 2, out / "singan_sr.png")


def run_paint(args, models: Path, out: Path) -> None:
    tiles = []
    for name, paint_name in [("cows", "cows.png"), ("trees3", "trees1.png")]:
        model = get_model(name, SINGAN / f"Images/{name}.png", models, base_config(args), args.seed)
        size = model.sizes[-1]
        paint = load_image(SINGAN / f"Paint/{paint_name}")
        tiles += [fit(paint, size), to_unit_real(model)]
        for k in (1, 2):
            tiles.append(paint_to_image(model, paint, start_scale=k, seed=args.seed))
        tiles.append(
            paint_to_image(model, paint, start_scale=2, quantize=True, seed=args.seed, iterations=args.retrain)
        )
    sheet(tiles, 5, out / "singan_paint.png")


def to_unit_real(model: SinGAN) -> torch.Tensor:
    return ((model.real + 1) / 2).clamp(0, 1).cpu()


HARMONIZATION = [
    ("starry_night", SINGAN / "Images/starry_night.png", SINGAN / "Harmonization/starry_night_naive.png",
     SINGAN / "Harmonization/starry_night_naive_mask.png"),
    ("seascape", SINGAN / "Images/seascape.png", SINGAN / "Harmonization/tree.jpg",
     SINGAN / "Harmonization/tree_mask.jpg"),
]  # fmt: skip
EDITING = [
    ("stone", SINGAN / "Images/stone.png", SINGAN / "Editing/stone_edit.png", SINGAN / "Editing/stone_edit_mask.png"),
    ("tree", SINGAN / "Images/tree.png", SINGAN / "Editing/tree_edit.png", SINGAN / "Editing/tree_edit_mask.png"),
] + [
    (name, SINGAN / f"Images/{name}.png", CONSINGAN / f"Editing/{name}_edit_{i}.png",
     CONSINGAN / f"Editing/{name}_edit_{i}_mask.png")
    for name in ("stone", "tree") for i in range(1, 6)
]  # fmt: skip


def run_blend(args, models: Path, out: Path, kind: str) -> list[dict]:
    examples = HARMONIZATION if kind == "harmonize" else EDITING
    blend = harmonize if kind == "harmonize" else edit
    tiles, rows = [], []
    for name, image, reference_path, mask_path in examples:
        if not selected(args, reference_path):
            continue
        model = get_model(name, image, models, base_config(args), args.seed)
        size = model.sizes[-1]
        background = to_unit_real(model)
        reference = fit(load_image(reference_path), size)
        scales = [len(model.sizes) - 3, len(model.sizes) - 2]
        # (start scale, fine-tuned?) -> result; the fine-tuned variants retrain the finest scale on this image
        variants = [(k, False) for k in scales] + ([(k, True) for k in scales] if args.fine_tune else [])
        results = {}
        for k, tuned in variants:
            options = {"fine_tune": True, "fine_tune_iterations": args.fine_tune} if tuned else {}
            results[k, tuned] = blend(model, reference, load_mask(mask_path), start_scale=k, seed=args.seed, **options)
        mask = results[scales[0], False].mask
        row = {"example": f"{name}:{reference_path.name}", "naive": masked_swd(background, reference, mask)}
        for k, tuned in variants:
            row[f"k={k}{' ft' if tuned else ''}"] = masked_swd(background, results[k, tuned].blended, mask)
        rows.append(row)
        if reference_path.parent.parent.name == "singan" or reference_path.name.endswith("_1.png"):
            tiles += [reference, results[scales[0], False].raw] + [results[v].blended for v in variants]
    sheet(tiles, 2 + len(variants), out / f"singan_{'harmonization' if kind == 'harmonize' else 'editing'}.png")
    keys = [k for k in rows[0] if k != "example"]
    print(f"{kind}: patch SWD inside the dilated mask vs the background image (lower = closer)")
    print(f"{'example':<32}" + "".join(f"{k:>9}" for k in keys) + "  better than naive: plain / fine-tuned")
    for row in rows:
        plain = min(row[k] for k in keys if k.startswith("k=") and not k.endswith("ft")) < row["naive"]
        tuned = [row[k] for k in keys if k.endswith("ft")]
        verdict = f"{plain} / {min(tuned) < row['naive']}" if tuned else f"{plain} / -"
        print(f"{row['example']:<32}" + "".join(f"{row[k]:9.3f}" for k in keys) + f"  {verdict}")
    return rows


def run_seeds(args, models: Path, out: Path, kind: str) -> list[dict]:
    """Naive / plain / fine-tuned scores at k = N-2 for each seed of --seeds, on the --examples subset."""
    examples = [e for e in (HARMONIZATION if kind == "harmonize" else EDITING) if selected(args, e[2])]
    blend = harmonize if kind == "harmonize" else edit
    seeds = parse_range(args.seeds)
    tiles, rows = [], []
    for name, image, reference_path, mask_path in examples:
        model = get_model(name, image, models, base_config(args), args.seed)
        background = to_unit_real(model)
        reference = fit(load_image(reference_path), model.sizes[-1])
        k = len(model.sizes) - 2
        tiles.append(reference)
        for seed in seeds:
            started = time.process_time()
            plain = blend(model, reference, load_mask(mask_path), start_scale=k, seed=seed)
            row = {"example": f"{reference_path.stem}", "seed": seed, "k": k}
            row["naive"] = masked_swd(background, reference, plain.mask)
            row["plain"] = masked_swd(background, plain.blended, plain.mask)
            if args.fine_tune:
                tuned = blend(
                    model,
                    reference,
                    load_mask(mask_path),
                    start_scale=k,
                    seed=seed,
                    fine_tune=True,
                    fine_tune_iterations=args.fine_tune,
                )
                row["ft"] = masked_swd(background, tuned.blended, plain.mask)
                tiles.append(tuned.blended)
            else:
                tiles.append(plain.blended)
            row["cpu_s"] = time.process_time() - started
            rows.append(row)
            print(
                f"{kind} {row['example']:<16} seed {seed} k={k}: naive {row['naive']:.3f}  plain {row['plain']:.3f}"
                + (f"  ft {row['ft']:.3f}" if "ft" in row else "")
                + f"  ({row['cpu_s']:.0f} CPU s)",
                flush=True,
            )
    label = f"ft {args.fine_tune}" if args.fine_tune else "plain"
    column = "ft" if args.fine_tune else "plain"
    print(f"{kind}: patch SWD inside the dilated mask vs the background image, k = N-2; sheet columns: {label}")
    for name in dict.fromkeys(row["example"] for row in rows):
        mine = [row for row in rows if row["example"] == name]
        wins = sum(row[column] < row["naive"] for row in mine)
        scores = " / ".join(f"{row[column]:.3f}" for row in mine)
        print(f"  {name:<16} naive {mine[0]['naive']:.3f}  {label}: {scores}  (better on {wins} of {len(mine)})")
    sheet(tiles, 1 + len(seeds), out / f"singan_{kind}_seeds.png")
    return rows


def selected(args, reference_path: Path) -> bool:
    return not args.examples or reference_path.stem in args.examples.split(",")


def run_animation(args, models: Path, out: Path) -> None:
    config = animation_config(base_config(args))
    model = get_model("lightning1_anim", CONSINGAN / "Animation/lightning1.png", models, config, args.seed)
    frames = animate(model, out / "singan_animation.gif", frames=args.frames, fps=10, seed=args.seed)
    animate(model, models / "lightning1.mp4", frames=args.frames, fps=10, seed=args.seed)
    samples = sample(model, 8, seed=args.seed + 1)
    step = (frames[1:] - frames[:-1]).abs().mean().item()
    independent = statistics.mean(
        (samples[i] - samples[j]).abs().mean().item() for i in range(8) for j in range(i + 1, 8)
    )
    real = to_unit_real(model)
    frame_swd = statistics.mean(
        patch_swd(real, frames[t : t + 1]) for t in range(0, len(frames), max(1, len(frames) // 8))
    )
    sample_swd = statistics.mean(patch_swd(real, samples[i : i + 1]) for i in range(8))
    print("animation (lightning1):")
    print(
        f"  mean |frame_t - frame_t-1| = {step:.4f}; mean |sample_i - sample_j| = {independent:.4f}; "
        f"ratio {step / independent:.3f}"
    )
    print(f"  patch SWD vs real: frames {frame_swd:.3f}, random samples {sample_swd:.3f}")
    picks = [frames[t : t + 1] for t in range(0, len(frames), max(1, len(frames) // 8))][:8]
    sheet([real] + picks, 3, out / "singan_animation.png")


def base_config(args, max_size: bool = True):
    overrides = {}
    if args.iterations:
        overrides["iterations"] = args.iterations
    if args.max_size and max_size:
        overrides["max_size"] = args.max_size
    return preset(args.preset, **overrides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--apps", default="sr,paint,harmonize,edit,animate", help="comma-separated subset")
    parser.add_argument("--preset", default="diverse", choices=sorted(PRESETS), help="SinGAN preset of the models")
    parser.add_argument("--iterations", type=int, help="iterations per scale (default: the preset's)")
    parser.add_argument("--max-size", type=int, help="long side of the models (default: the preset's)")
    parser.add_argument("--retrain", type=int, help="iterations of the quantised retraining (default: the model's)")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument(
        "--fine-tune", type=int, default=0, help="also harmonize/edit after N fine-tuning steps of the finest scale"
    )
    parser.add_argument("--seeds", help="seed check at k = N-2 for these seeds ('0-4' or '0,2') instead of the sheets")
    parser.add_argument("--examples", help="only these references (file stems, comma-separated, e.g. stone_edit)")
    parser.add_argument("--models", default="runs/gallery_models", help="cache of trained models")
    parser.add_argument("--out", default="docs/gallery")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    models, out = Path(args.models), Path(args.out)
    apps = args.apps.split(",")
    started, cpu = time.perf_counter(), time.process_time()
    if "sr" in apps:
        run_sr(args, models, out)
    if "paint" in apps:
        run_paint(args, models, out)
    for kind in ("harmonize", "edit"):
        if kind in apps:
            (run_seeds if args.seeds else run_blend)(args, models, out, kind)
    if "animate" in apps:
        run_animation(args, models, out)
    print(f"total {time.perf_counter() - started:.0f} s wall, {time.process_time() - cpu:.0f} CPU s")


if __name__ == "__main__":
    main()
