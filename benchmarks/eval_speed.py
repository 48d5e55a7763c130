"""Speed of `patchdna eval`: one 250 px pair (swd + bds + psnr + ssim) and a whole Places50 method folder.

    nice -n 5 python benchmarks/eval_speed.py [--quick]
Wall time depends on what else runs on the machine, so CPU time (user + system, all threads) is printed too.
Times (a) the metrics in-process (median of 3 runs, after one warm-up), (b) the `patchdna eval` command as a fresh
process, median of 5 (interpreter start and imports included; beside it a process that only imports torch,
the part no change to patchdna can remove), (c) `patchdna eval Real/ SinGAN/` with the default metrics (swd,
diversity, bds) over all 50 images (--quick: 5), once. Prints a table between <!-- table:eval_speed --> markers.
Targets from issue 4: (b) <= 2 s, (c) <= 3 min, on this 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from patchdna.io import load_image
from patchdna.metrics import bidirectional_similarity, patch_swd, psnr, ssim

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets" / "user-studies" / "places"


def timed(function, repeats: int = 3) -> tuple[float, float]:
    """Median wall and CPU seconds (all threads) of `function` over `repeats` runs after a warm-up."""
    function()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def command_seconds(arguments: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system of the child) of one fresh `python ARGUMENTS` process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([sys.executable, *arguments], check=True, env=env, stdout=subprocess.DEVNULL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return time.perf_counter() - started, cpu


def median_command_seconds(arguments: list[str], repeats: int = 5) -> tuple[float, float]:
    """Median wall and CPU seconds of `repeats` fresh processes (start-up time varies from run to run)."""
    runs = [command_seconds(arguments) for _ in range(repeats)]
    return statistics.median(wall for wall, _ in runs), statistics.median(cpu for _, cpu in runs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="5 folder images instead of 50")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"eval_speed: data folder not found: {args.data}", file=sys.stderr)
        return 2
    real_path, fake_path = args.data / "Real" / "0.jpg", args.data / "SinGAN" / "0.jpg"
    real, fake = load_image(real_path), load_image(fake_path)
    load_start = os.getloadavg()[0]
    count = 5 if args.quick else 50
    torch_only = ["-c", "import gc, torch; gc.freeze()"]  # gc.freeze: as the CLI does, see cli.main
    eval_command = ["-m", "patchdna.cli", "eval"]
    pair = [*eval_command, str(real_path), str(fake_path), "--metrics", "swd,bds,psnr,ssim"]
    folder = [*eval_command, str(args.data / "Real"), str(args.data / "SinGAN"), "--limit", str(count)]
    # Fresh processes first: after in-process torch work the parent's idle OpenMP threads keep spinning for a
    # while and steal a core from the child (measured: 2.4 s instead of 1.8 s for the pair command).
    measurements = [
        (
            "`python -c 'import gc, torch; gc.freeze()'` (fresh process: start, import torch, exit; the floor)",
            lambda: median_command_seconds(torch_only),
        ),
        ("`patchdna eval REAL FAKE --metrics swd,bds,psnr,ssim` (fresh process)", lambda: median_command_seconds(pair)),
        (f"`patchdna eval Real/ SinGAN/` (swd, bds; {count} images)", lambda: command_seconds(folder)),
        ("patch SWD, one pair (in process)", lambda: timed(lambda: patch_swd(real, fake))),
        ("bds (1024 queries), one pair (in process)", lambda: timed(lambda: bidirectional_similarity(real, fake))),
        ("psnr + ssim, one pair (in process)", lambda: timed(lambda: (psnr(real, fake), ssim(real, fake)))),
    ]
    print("<!-- table:eval_speed -->")
    print("| what | wall seconds | CPU seconds (all threads) | load average after |")
    print("|---|---|---|---|")
    for name, measure in measurements:  # each row as soon as it is measured
        wall, cpu = measure()
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {os.getloadavg()[0]:.1f} |", flush=True)
    print("<!-- /table:eval_speed -->")
    threads = os.environ.get("OMP_NUM_THREADS", "unset (torch's default: one per core)")
    print(
        f"\nload average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (2-core CPU, shared); "
        f"OMP_NUM_THREADS={threads}, torch.get_num_threads()={torch.get_num_threads()}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
