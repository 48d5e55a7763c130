"""InGAN retargeting benchmark: train time, realism and shape preservation vs bicubic, 1024x1024 speed.

For each image: train the `fast` preset (or --preset), then retarget to width x0.5, x1.5, x2 and height x0.5, x2
and measure, against the input, the patch SWD (realism; lower is better), the anisotropy distortion (how much
local structure was stretched; 0 = none) and the bidirectional similarity (nearest-patch completeness + coherence,
an independent check that is not a sliced-Wasserstein distance; lower is better), next to a plain bicubic resize
to the same size (which stretches).
Also: the image's blur baseline (targets: SWD <= 2.5x of it) and the median time of one 1024x1024 retarget.

    nice -n 5 python benchmarks/ingan_retarget.py --out /tmp/ingan_bench            # all 7 images
    nice -n 5 python benchmarks/ingan_retarget.py --images places0,starry --out ...  # a subset
    ... --singan runs/bench_v4      # add SinGAN samples of the same sizes from ROOT/places_{i}, ROOT/starry, ...

Metrics are the shared ruler (patchdna.metrics == ../shared/tools/patchmetrics.py). Needs ../shared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from singan_places import json_object

from patchdna import ingan, singan
from patchdna.errors import ConfigError
from patchdna.io import save_image
from patchdna.metrics import anisotropy_distortion, bidirectional_similarity, blur_baseline, patch_swd
from patchdna.ops import resize

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
if not SHARED.exists():
    SHARED = Path("/work/shared")
IMAGES = {
    **{f"places{i}": SHARED / f"datasets/user-studies/places/Real/{i}.jpg" for i in range(5)},
    # Textures: Van Gogh's brushstroke swirls and a carved stone wall (both from SinGAN's inputs).
    "starry": SHARED / "images/singan/Images/starry_night.png",
    "stonewall": SHARED / "images/singan/Images/33039_LR.png",
}
RETARGETS = {"w x0.5": (1.0, 0.5), "w x1.5": (1.0, 1.5), "w x2": (1.0, 2.0), "h x0.5": (0.5, 1.0), "h x2": (2.0, 1.0)}


def time_1024(model: ingan.InGANModel, repeats: int = 5) -> tuple[float, float]:
    """Median wall and CPU seconds of one 1024x1024 retarget."""
    ingan.retarget(model, (1024, 1024))  # warm-up: oneDNN compiles its kernels for this shape
    times, cpu = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        ingan.retarget(model, (1024, 1024))
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - cpu_start)
    return statistics.median(times), statistics.median(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default=",".join(IMAGES), help=f"comma-separated subset of {', '.join(IMAGES)}")
    parser.add_argument("--preset", default="fast", choices=("fast", "paper"))
    parser.add_argument("--iterations", type=int, default=None, help="override the preset's iterations")
    parser.add_argument("--out", default="ingan_bench", help="folder for models, outputs and results.json")
    parser.add_argument("--reuse", action="store_true", help="reuse trained models found in --out")
    parser.add_argument(
        "--set",
        type=json_object,
        default={},
        help="JSON config overrides for a design experiment, e.g. '{\"lr\": 1e-4}'",
    )
    parser.add_argument(
        "--singan",
        default=None,
        help="folder of SinGAN model folders (places_{i}, starry, stonewall): score one sample (seed 0) per size",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: on a machine shared with other jobs, 2 threads spin-waited and ran a "
        "training step ~40x slower than 1 thread in our measurement)",
    )
    parser.add_argument("--table", nargs="+", default=None, help="only print the tables of these results.json files")
    args = parser.parse_args()
    if args.table:
        print_table([row for path in args.table for row in json.loads(Path(path).read_text())])
        return
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    overrides = dict(args.set)
    if args.iterations is not None:
        overrides["iterations"] = args.iterations
    try:
        config = ingan.preset(args.preset, **overrides)
    except ConfigError as error:
        parser.error(str(error))
    singan_models = {}
    if args.singan is not None:
        for name in args.images.split(","):
            # singan_places.py names its folders places_{i}; other images by their benchmark name.
            folder = Path(args.singan) / name.replace("places", "places_")
            if (folder / "config.json").exists():
                singan_models[name] = singan.load_singan(folder, device="cpu")
    rows = []
    for name in args.images.split(","):
        folder = out / name
        start, cpu_start = time.perf_counter(), time.process_time()
        reused = args.reuse and (folder / "config.json").exists()
        if reused:
            model = ingan.load(folder, device="cpu")
        else:
            model = ingan.train(IMAGES[name], folder, config, device="cpu", progress=False, seed=0)
        train_seconds = float(model.metadata.get("train_seconds", time.perf_counter() - start))
        # CPU seconds (all threads) say more than wall time on a machine shared with other jobs.
        cpu_seconds = time.process_time() - cpu_start
        real = model.image.cpu()
        blur = blur_baseline(real)
        row: dict = {"image": name, "size": list(real.shape[-2:]), "train_s": round(train_seconds, 1)}
        row["train_cpu_s"] = None if reused else round(cpu_seconds, 1)  # a model folder stores wall time only
        row["it_per_s"] = round(config.iterations / train_seconds, 2)
        row["blur"] = round(blur, 3)
        for label, scale in RETARGETS.items():
            fake = ingan.retarget(model, scale=scale)
            bicubic = resize(real, tuple(fake.shape[-2:])).clamp(0, 1)
            save_image(fake, out / "outputs" / f"{name}_{label.replace(' ', '')}.png")
            row[label] = {
                "swd": round(patch_swd(real, fake), 3),
                "swd_bicubic": round(patch_swd(real, bicubic), 3),
                "aniso": round(anisotropy_distortion(real, fake), 3),
                "aniso_bicubic": round(anisotropy_distortion(real, bicubic), 3),
                "bds": round(bidirectional_similarity(real, fake).bds, 4),
                "bds_bicubic": round(bidirectional_similarity(real, bicubic).bds, 4),
            }
            if model.config.resize_mode == "segments":
                # T applied to the image alone (no network): how much of the result the transform already gives.
                rows_map, columns_map = model.generator.segment_maps(real, tuple(fake.shape[-2:]))
                alone = real[:, :, rows_map, columns_map]
                row[label]["swd_transform"] = round(patch_swd(real, alone), 3)
                row[label]["aniso_transform"] = round(anisotropy_distortion(real, alone), 3)
            singan_model = singan_models.get(name)
            if singan_model is not None:
                sample = singan.sample(singan_model, 1, size=tuple(fake.shape[-2:]), seed=0)
                save_image(sample, out / "outputs" / f"{name}_{label.replace(' ', '')}_singan.png")
                row[label]["swd_singan"] = round(patch_swd(real, sample), 3)
                row[label]["aniso_singan"] = round(anisotropy_distortion(real, sample), 3)
        same_size = ingan.retarget(model, scale=(1.0, 1.0))
        row["reconstruction_swd"] = round(patch_swd(real, same_size), 3)
        # G's own anisotropy at 1x (0 for a perfect reconstruction): the part of the retargets' that is not stretch.
        row["reconstruction_aniso"] = round(anisotropy_distortion(real, same_size), 3)
        wall, cpu = time_1024(model)
        row["t1024_s"], row["t1024_cpu_s"] = round(wall, 3), round(cpu, 3)
        save_image(ingan.collage(model), out / "outputs" / f"{name}_collage.png")
        rows.append(row)
        print(json.dumps(row), flush=True)
        (out / "results.json").write_text(json.dumps(rows, indent=1))
    print_table(rows)


def print_table(rows: list[dict]) -> None:
    med = statistics.median
    print(
        "\n| image | train wall s | train CPU s | blur | SWD/blur at 1x | aniso at 1x | 1024x1024 CPU s | "
        "1024x1024 wall s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['image']} {tuple(row['size'])} | {row['train_s']} | {row.get('train_cpu_s') or '-'} | "
            f"{row['blur']} | {row['reconstruction_swd'] / row['blur']:.2f} | {row.get('reconstruction_aniso', '-')} | "
            f"{row['t1024_cpu_s']} | {row['t1024_s']} |"
        )
    print("\n| image | retarget | SWD/blur InGAN | bicubic | SinGAN | aniso InGAN | bicubic | SinGAN |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        blur = row["blur"]
        for label in RETARGETS:
            cell = row[label]
            singan_swd = f"{cell['swd_singan'] / blur:.2f}" if "swd_singan" in cell else "-"
            print(
                f"| {row['image']} | {label} | {cell['swd'] / blur:.2f} | {cell['swd_bicubic'] / blur:.2f} | "
                f"{singan_swd} | {cell['aniso']} | {cell['aniso_bicubic']} | {cell.get('aniso_singan', '-')} |"
            )
    print("\nMedians over the images (SinGAN: over the images that have a SinGAN model):\n")
    print("| retarget | SWD/blur InGAN | bicubic | SinGAN | aniso InGAN | bicubic | SinGAN |")
    print("|---|---|---|---|---|---|---|")
    for label in RETARGETS:
        with_singan = [r for r in rows if "swd_singan" in r[label]]
        singan_cells = (
            (
                f"{med(r[label]['swd_singan'] / r['blur'] for r in with_singan):.2f}",
                f"{med(r[label]['aniso_singan'] for r in with_singan):.3f}",
            )
            if with_singan
            else ("-", "-")
        )
        print(
            f"| {label} | {med(r[label]['swd'] / r['blur'] for r in rows):.2f} | "
            f"{med(r[label]['swd_bicubic'] / r['blur'] for r in rows):.2f} | {singan_cells[0]} | "
            f"{med(r[label]['aniso'] for r in rows):.3f} | {med(r[label]['aniso_bicubic'] for r in rows):.3f} | "
            f"{singan_cells[1]} |"
        )
    if all("bds" in r[label] for r in rows for label in RETARGETS):
        print("\nBidirectional similarity (nearest-patch completeness + coherence; lower is better), medians:\n")
        print("| retarget | BDS InGAN | bicubic |")
        print("|---|---|---|")
        for label in RETARGETS:
            print(
                f"| {label} | {med(r[label]['bds'] for r in rows):.4f} | "
                f"{med(r[label]['bds_bicubic'] for r in rows):.4f} |"
            )
    shape_cells = [(r, label) for r in rows for label in ("w x2", "w x0.5")]
    counts = {
        "InGAN": ("swd", "aniso"),
        "bicubic": ("swd_bicubic", "aniso_bicubic"),
        "segments alone": ("swd_transform", "aniso_transform"),
    }
    print("\nTargets met (realism: SWD <= 2.5x blur in every retarget; shape: aniso at w x2 and w x0.5 <= max(0.25x")
    print("bicubic's, 0.1)):\n")
    for method, (swd_key, aniso_key) in counts.items():
        if not all(swd_key in r[label] for r in rows for label in RETARGETS):
            continue
        realism = sum(r[label][swd_key] <= 2.5 * r["blur"] for r in rows for label in RETARGETS)
        shape = sum(r[label][aniso_key] <= max(0.25 * r[label]["aniso_bicubic"], 0.1) for r, label in shape_cells)
        medians = " ".join(
            f"{label} {med(r[label][swd_key] / r['blur'] for r in rows):.2f}/"
            f"{med(r[label][aniso_key] for r in rows):.3f}"
            for label in RETARGETS
        )
        print(
            f"- {method}: realism {realism}/{len(rows) * len(RETARGETS)}, shape {shape}/{len(shape_cells)}; "
            f"medians SWD/blur / aniso: {medians}"
        )
    print(
        f"\n1024x1024 retarget, median over images: {med(r['t1024_cpu_s'] for r in rows):.3f} CPU s, "
        f"{med(r['t1024_s'] for r in rows):.3f} wall s"
    )
    cpu_times = [r["train_cpu_s"] for r in rows if r.get("train_cpu_s")]
    cpu_median = f"{med(cpu_times):.0f}" if cpu_times else "-"
    print(f"train, median: {cpu_median} CPU s, {med(r['train_s'] for r in rows):.0f} wall s")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
