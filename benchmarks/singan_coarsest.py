"""Diagnostic: train only the coarsest SinGAN scale(s) of an image with config overrides and score the free
samples at that scale, to study why free samples lose the global layout (LSUN, BENCHMARKS.md session 5).

    python benchmarks/singan_coarsest.py NAME IMAGE [--scales 1] [--set '{"norm": "batch"}'] [--out /tmp/coarsest]

Prints one JSON line: CPU seconds, our patch SWD loss (ops.patch_swd_loss, 256 projections, every patch) of 20
samples against the real image of that scale for 3, 5 and 7 px patches, a pixel-diversity proxy (mean per-pixel
std over the samples / std of the real image) and the reconstruction RMSE; writes OUT/NAME.png (real + 7
samples, enlarged 4x). '{"preset": "paper"}' in --set switches the base preset.
"""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import time
from pathlib import Path

import torch
from singan_places import json_object

from patchdna import singan
from patchdna.errors import ConfigError
from patchdna.io import load_image, save_image
from patchdna.ops import patch_swd_loss, resize
from patchdna.singan.model import load_singan, to_unit
from patchdna.singan.training import TrainingCancelled, TrainingEvent
from patchdna.video import image_grid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name")
    parser.add_argument("image")
    parser.add_argument("--scales", type=int, default=1, help="how many of the coarsest scales to train")
    parser.add_argument("--set", type=json_object, default={}, help="JSON config overrides")
    parser.add_argument("--out", default="/tmp/coarsest")
    args = parser.parse_args()
    overrides = dict(args.set)
    try:
        config = singan.preset(overrides.pop("preset", "fast"), **overrides)
    except ConfigError as error:
        parser.error(str(error))
    folder = Path(args.out) / args.name
    shutil.rmtree(folder, ignore_errors=True)
    stop = threading.Event()

    def stop_after(event: TrainingEvent) -> None:
        if event.kind == "scale_end" and event.scale + 1 >= args.scales:
            stop.set()

    cpu = time.process_time()
    try:
        singan.train(load_image(args.image), folder, config=config, device="cpu", show_progress=False,
                     preview=False, seed=0, callback=stop_after, stop_event=stop)  # fmt: skip
    except TrainingCancelled:
        pass
    cpu = time.process_time() - cpu
    model = load_singan(folder)
    real = model.reals()[model.num_trained - 1]
    samples = model.generate(20, generator=torch.Generator().manual_seed(1))
    rng = torch.Generator().manual_seed(0)
    swd = {size: round(float(patch_swd_loss(samples, real, size, 256, 10**6, generator=rng)), 4) for size in (3, 5, 7)}
    spread = float(samples.std(0).mean() / real.std())
    rmse = float((model.reconstruct()[-1] - real).pow(2).mean().sqrt())
    print(json.dumps({"name": args.name, "cpu_s": round(cpu), "swd": swd, "diversity": round(spread, 3),
                      "reconstruction_rmse": round(rmse, 4)}))  # fmt: skip
    big = (real.shape[-2] * 4, real.shape[-1] * 4)
    tiles = [resize(to_unit(picture[None]), big).clamp(0, 1) for picture in (real[0], *samples[:7])]
    save_image(image_grid(tiles, columns=8), Path(args.out) / f"{args.name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
