"""SinGAN super-resolution against bicubic upsampling on Places50 (issue 3 target).

Each image is downscaled x`factor` (antialiased bicubic), super-resolved back by SinGAN (trained on the small
image with the SR settings, `fast` preset as base) and by plain bicubic; both are compared with the original:
patch SWD (patchdna.metrics.patch_swd, lower = closer patch distribution) and PSNR (dB, higher = closer pixels).
Target: SWD_singan <= 0.7 x SWD_bicubic and PSNR_singan >= PSNR_bicubic - 1.5 dB.
One model per image; it upscales twice: with the paper's loop (`detail=1, consistency=False`) and with
patchdna's default loop (detail 0.7, back-projection), printed side by side.

    OMP_NUM_THREADS=1 python benchmarks/singan_sr.py --images 0-9 --models runs/sr_models
--models keeps each trained model in DIR/places_<i> and reuses it on the next run.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from singan_places import USER_STUDIES, parse_range

from patchdna.io import load_image, save_image
from patchdna.metrics import patch_swd
from patchdna.ops import resize
from patchdna.singan import load, preset, sr_config, train, upscale

PLACES = USER_STUDIES / "places" / "Real"


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).item()
    return 10 * torch.log10(torch.tensor(1.0 / max(mse, 1e-12))).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="0-9", help="Places50 indices, e.g. 0-9 or 0,3,5")
    parser.add_argument("--factor", type=float, default=4.0)
    parser.add_argument("--iterations", type=int, help="iterations per scale (default: the diverse preset's)")
    parser.add_argument("--models", help="keep (and reuse) the trained SR models in this folder")
    parser.add_argument("--save", help="folder for the LR, bicubic and SinGAN images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = preset("diverse", **({"iterations": args.iterations} if args.iterations else {}))
    rows = []
    print(
        f"{'image':>5} {'size':>9} {'swd_bic':>8} {'psnr_bic':>8} | {'ratio_paper':>11} {'gap_paper':>9} | "
        f"{'ratio_ours':>10} {'gap_ours':>8} {'cpu_s':>7}"
    )
    for index in parse_range(args.images):
        original = load_image(PLACES / f"{index}.jpg")
        height, width = original.shape[-2:]
        small = resize(original, (round(height / args.factor), round(width / args.factor))).clamp(0, 1)
        bicubic = resize(small, (height, width)).clamp(0, 1)
        folder = Path(args.models) / f"places_{index}" if args.models else None
        cpu, wall = time.process_time(), time.perf_counter()
        if folder is not None and (folder / "config.json").exists():
            model = load(folder)
            cpu, wall = float("nan"), float("nan")
        else:
            with tempfile.TemporaryDirectory() as scratch:
                out = folder or Path(scratch) / "model"
                sr = sr_config(args.factor, config, long_side=max(small.shape[-2:]))
                model = train(small, out, config=sr, device="cpu", seed=args.seed, preview=False, show_progress=False)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        results = {
            "paper": upscale(model, small, args.factor, detail=1.0, consistency=False),
            "ours": upscale(model, small, args.factor),
        }
        row = dict(index=index, swd_bicubic=patch_swd(original, bicubic), psnr_bicubic=psnr(original, bicubic))
        for name, result in results.items():
            result = resize(result, (height, width)).clamp(0, 1)  # round(s h) may differ from h by a pixel
            row[f"ratio_{name}"] = patch_swd(original, result) / row["swd_bicubic"]
            row[f"gap_{name}"] = psnr(original, result) - row["psnr_bicubic"]
            if args.save:
                save_image(result, Path(args.save) / f"{index}_singan_{name}.png")
        row.update(cpu=cpu, wall=wall)
        rows.append(row)
        print(
            f"{index:>5} {width:>4}x{height:<4} {row['swd_bicubic']:8.3f} {row['psnr_bicubic']:8.2f} | "
            f"{row['ratio_paper']:11.2f} {row['gap_paper']:+9.2f} | {row['ratio_ours']:10.2f} {row['gap_ours']:+8.2f} "
            f"{cpu:7.0f}",
            flush=True,
        )
        if args.save:
            save_image(small, Path(args.save) / f"{index}_lr.png")
            save_image(bicubic, Path(args.save) / f"{index}_bicubic.png")
    for name in ("paper", "ours"):
        ratios, gaps = [r[f"ratio_{name}"] for r in rows], [r[f"gap_{name}"] for r in rows]
        ratio, gap = statistics.median(ratios), statistics.median(gaps)
        print(
            f"{name} loop: median SWD ratio {ratio:.2f} (max {max(ratios):.2f}), median PSNR gap {gap:+.2f} dB "
            f"(worst {min(gaps):+.2f}); target ratio <= 0.70 {'met' if ratio <= 0.7 else 'NOT met'}, "
            f"gap >= -1.5 dB {'met' if gap >= -1.5 else 'NOT met'}"
        )
    trained = [r for r in rows if r["cpu"] == r["cpu"]]  # reused models have no training time (NaN)
    if trained:
        print(
            f"training per image: median {statistics.median(r['cpu'] for r in trained):.0f} CPU s, "
            f"{statistics.median(r['wall'] for r in trained):.0f} wall s"
        )


if __name__ == "__main__":
    main()
