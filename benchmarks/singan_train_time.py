"""Wall-clock training time of the SinGAN fast preset, one image after another with all of torch's threads:
the issue-2 target is a median <= 300 s per 250 px image on the project's 2-core CPU.

    python benchmarks/singan_train_time.py [--images places/1,places/0,lsun/0] [--out runs/train_time] [--preset P]
        [--set JSON] [--quick]

Run it on an otherwise idle machine: it measures wall time. Each image trains into a fresh folder under --out
(previews off, as a benchmark should not time PNG writing); the table gives wall and process CPU seconds per
image and the median wall time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

import torch
from singan_places import USER_STUDIES, json_object

from patchdna import singan
from patchdna.io import load_image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="places/1,places/0,lsun/0", help="DATASET/INDEX of the user studies")
    parser.add_argument("--out", default="runs/train_time")
    parser.add_argument("--preset", default="fast")
    parser.add_argument(
        "--set", type=json_object, default={}, help="JSON overrides of the preset, e.g. '{\"iterations\": 400}'"
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: one image, 20 iterations per scale")
    args = parser.parse_args()
    config = singan.preset(args.preset, **{**args.set, **({"iterations": 20} if args.quick else {})})
    if args.quick:
        args.images = args.images.split(",")[0]
    rows = []
    for item in args.images.split(","):
        dataset, index = item.split("/")
        folder = Path(args.out) / f"{dataset}_{index}"
        shutil.rmtree(folder, ignore_errors=True)
        image = load_image(USER_STUDIES / dataset / "Real" / f"{index}.jpg")
        started, cpu = time.perf_counter(), time.process_time()
        model = singan.train(image, folder, config=config, device="cpu", show_progress=False, preview=False)
        rows.append((item, time.perf_counter() - started, time.process_time() - cpu, model.sizes[-1]))
        print(f"{item}: {rows[-1][1]:.1f} s wall", flush=True)
    overrides = f" with {json.dumps(args.set)}" if args.set else ""
    threads = torch.get_num_threads()
    print(f"<!-- table:singan_train_time -->\n\n{args.preset} preset{overrides}, {threads} torch threads\n")
    print("| image | size | wall s | CPU s |\n|---|---|---|---|")
    for item, wall, cpu, size in rows:
        print(f"| {item} | {size[1]}x{size[0]} | {wall:.1f} | {cpu:.1f} |")
    print(f"| median | | **{statistics.median(r[1] for r in rows):.1f}** | |\n\n<!-- /table:singan_train_time -->")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
