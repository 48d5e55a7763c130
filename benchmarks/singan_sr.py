"""SinGAN super-resolution against bicubic upsampling on Places50 (issue 3 target).

Each image is downscaled x`factor` (antialiased bicubic), super-resolved back by SinGAN (trained on the small
image with the SR settings, `fast` preset as base) and by plain bicubic; both are compared with the original:
patch SWD (patchdna.metrics.patch_swd, lower = closer patch distribution) and PSNR (dB, higher = closer pixels).
Target: SWD_singan <= 0.7 x SWD_bicubic and PSNR_singan >= PSNR_bicubic - 1.5 dB.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/singan_sr.py --images 0-9 --iterations 500
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from patchdna.io import load_image, save_image
from patchdna.metrics import patch_swd
from patchdna.ops import resize
from patchdna.singan import preset, super_resolve

PLACES = Path("/work/shared/datasets/user-studies/places/Real")


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = torch.mean((a.clamp(0, 1) - b.clamp(0, 1)) ** 2).item()
    return 10 * torch.log10(torch.tensor(1.0 / max(mse, 1e-12))).item()


def parse_range(text: str) -> list[int]:
    if "-" in text:
        low, high = text.split("-")
        return list(range(int(low), int(high) + 1))
    return [int(part) for part in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="0-9", help="Places50 indices, e.g. 0-9 or 0,3,5")
    parser.add_argument("--factor", type=float, default=4.0)
    parser.add_argument("--iterations", type=int, help="iterations per scale (default: the fast preset's)")
    parser.add_argument("--save", help="folder for the LR, bicubic and SinGAN images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = preset("fast", **({"iterations": args.iterations} if args.iterations else {}))
    rows = []
    print(
        f"{'image':>5} {'size':>9} {'swd_bic':>8} {'swd_sg':>8} {'ratio':>6} {'psnr_bic':>8} {'psnr_sg':>8}"
        f" {'cpu_s':>7}"
    )
    for index in parse_range(args.images):
        original = load_image(PLACES / f"{index}.jpg")
        height, width = original.shape[-2:]
        small = resize(original, (round(height / args.factor), round(width / args.factor))).clamp(0, 1)
        bicubic = resize(small, (height, width)).clamp(0, 1)
        cpu, wall = time.process_time(), time.perf_counter()
        result = super_resolve(small, args.factor, device="cpu", seed=args.seed, config=config)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        result = resize(result, (height, width))  # round(s h) may differ from h by a pixel
        row = dict(
            index=index,
            swd_bicubic=patch_swd(original, bicubic),
            swd_singan=patch_swd(original, result),
            psnr_bicubic=psnr(original, bicubic),
            psnr_singan=psnr(original, result),
            cpu=cpu,
            wall=wall,
        )
        rows.append(row)
        print(
            f"{index:>5} {width:>4}x{height:<4} {row['swd_bicubic']:8.3f} {row['swd_singan']:8.3f} "
            f"{row['swd_singan'] / row['swd_bicubic']:6.2f} {row['psnr_bicubic']:8.2f} {row['psnr_singan']:8.2f} "
            f"{cpu:7.0f}",
            flush=True,
        )
        if args.save:
            folder = Path(args.save)
            save_image(small, folder / f"{index}_lr.png")
            save_image(bicubic, folder / f"{index}_bicubic.png")
            save_image(result, folder / f"{index}_singan.png")
    ratios = [r["swd_singan"] / r["swd_bicubic"] for r in rows]
    gaps = [r["psnr_singan"] - r["psnr_bicubic"] for r in rows]
    print(
        f"median: swd bicubic {statistics.median(r['swd_bicubic'] for r in rows):.3f}, "
        f"singan {statistics.median(r['swd_singan'] for r in rows):.3f}, ratio {statistics.median(ratios):.2f} "
        f"(max {max(ratios):.2f}); psnr bicubic {statistics.median(r['psnr_bicubic'] for r in rows):.2f}, "
        f"singan {statistics.median(r['psnr_singan'] for r in rows):.2f}, gap {statistics.median(gaps):+.2f} dB "
        f"(worst {min(gaps):+.2f}); train+upscale per image: {statistics.median(r['cpu'] for r in rows):.0f} CPU s, "
        f"{statistics.median(r['wall'] for r in rows):.0f} wall s"
    )
    print(
        f"target ratio <= 0.70: {'met' if statistics.median(ratios) <= 0.7 else 'NOT met'} (median); "
        f"PSNR gap >= -1.5 dB: {'met' if statistics.median(gaps) >= -1.5 else 'NOT met'} (median)"
    )


if __name__ == "__main__":
    main()
