"""SinGAN fast preset on Places50 (images 0-9, 4 samples) and LSUN50 (images 0-4, 10 samples), beside the
published SinGAN, ConSinGAN (and, for Places, GPNN) samples of the same images, plus sampling speed.

    python benchmarks/singan_places.py [--quick] [--places 0-9] [--lsun 0-4] [--threads N] [--out DIR]
        [--variations 1,0.6] [--skip-speed]

Trained folders in --out are reused, so parallel partial runs (e.g. --places 0-4 / --places 5-9 --lsun '')
followed by one full run only re-score the samples.

Prints markdown tables between `<!-- table:NAME -->` markers (the protocol of benchmarks/run_all.py).
Quality uses the project's ruler (patchdna.metrics == ../shared/tools/patchmetrics.py); our samples are
rounded to 8 bits first, like the published files.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from patchdna import singan
from patchdna.errors import ConfigError
from patchdna.io import load_image, save_image
from patchdna.metrics import diversity, patch_swd

USER_STUDIES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "user-studies"


def parse_range(text: str) -> list[int]:
    if not text:
        return []
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(part) for part in text.split(",")]


def json_object(text: str) -> dict:
    """argparse type for --set: a JSON object, or a one-line usage error."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {error}") from error
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object, e.g. '{\"iterations\": 300}'")
    return value


def published(dataset: str, method: str, index: int) -> list[torch.Tensor]:
    folder = USER_STUDIES / dataset / method
    files = sorted(folder.glob(f"{index}.*")) + sorted(
        folder.glob(f"{index}_*.*"), key=lambda p: int(p.stem.split("_")[1])
    )
    return [load_image(path) for path in files]


def score(real: torch.Tensor, samples: list[torch.Tensor]) -> tuple[float, float | None]:
    swd = statistics.mean(patch_swd(real, sample) for sample in samples)
    return swd, (diversity(samples, real) if len(samples) > 1 else None)


def run_image(
    dataset: str,
    index: int,
    num_samples: int,
    config: singan.SinGANConfig,
    out: Path,
    seed: int,
    variations: list[float],
) -> dict:
    path = USER_STUDIES / dataset / "Real" / f"{index}.jpg"
    real = load_image(path, max_size=config.max_size)
    folder = out / f"{dataset}_{index}"
    wall, cpu = time.perf_counter(), time.process_time()
    model = singan.train(
        path, folder, config=config, device="cpu", seed=seed, resume=True, show_progress=False, preview=False
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    stored = json.loads((folder / "config.json").read_text())
    # A folder trained by an earlier run keeps its recorded times (older folders have no CPU seconds: None).
    cpu_s = stored.get("train_cpu_seconds", cpu if cpu > 1 else None)
    row = {"dataset": dataset, "index": index, "train_s": stored.get("train_seconds", wall), "cpu_s": cpu_s}
    for variation in variations:
        samples = singan.sample(model, num_samples, seed=seed + 1, variation=variation)
        samples = [(s[None] * 255).round() / 255 for s in samples]
        suffix = "" if variation == 1.0 else f"_v{variation:g}"
        for k, sample in enumerate(samples):
            save_image(sample, folder / f"samples{suffix}" / f"{index}_{k}.png")
        row[f"ours v={variation:g}"] = score(real, samples)
    for method in ("SinGAN", "ConSinGAN", "GPNN"):
        if (USER_STUDIES / dataset / method).is_dir():
            row[method] = score(real, published(dataset, method, index))
    return row


def sampling_speed(model: singan.SinGAN, repeats: int = 3, count: int = 16) -> float:
    """Median samples/s of `count` samples at the training size, with the default (automatic) batch size."""
    singan.sample(model, 2, seed=0)  # warm-up
    rates = []
    for repeat in range(repeats):
        started = time.perf_counter()
        singan.sample(model, count, seed=repeat)
        rates.append(count / (time.perf_counter() - started))
    return statistics.median(rates)


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one Places image, 50 iterations per scale (smoke run)")
    parser.add_argument("--places", default="0-9", help="Places50 indices, e.g. 0-9 or 0,3")
    parser.add_argument("--lsun", default="0-4", help="LSUN50 indices")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch default)")
    parser.add_argument("--out", default="runs/bench_singan_places", help="model folders and samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default="fast", choices=sorted(singan.PRESETS), help="the preset trained")
    parser.add_argument(
        "--variations",
        default="1",
        help="comma-separated sampling variations to score (1 = the paper's free samples; lower keeps more of "
        "the image's layout, see `singan.sample`)",
    )
    parser.add_argument("--skip-speed", action="store_true", help="do not time sampling (e.g. for a partial run)")
    parser.add_argument(
        "--set",
        type=json_object,
        default={},
        help="JSON overrides of the preset, e.g. '{\"iteration_multipliers\": [2, 2, 1.5]}'",
    )
    args = parser.parse_args()
    if not USER_STUDIES.is_dir():
        print(f"needs {USER_STUDIES} (the shared user-study images)", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        config = singan.preset(args.preset, **args.set)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    places, lsun = parse_range(args.places), parse_range(args.lsun)
    if args.quick:
        config, places, lsun = config.replace(iterations=50), places[:1], []
    out = Path(args.out)
    variations = [float(v) for v in args.variations.split(",")]
    rows = [run_image("places", i, 4, config, out, args.seed, variations) for i in places]
    rows += [run_image("lsun", i, 10, config, out, args.seed, variations) for i in lsun]

    for dataset in ("places", "lsun"):
        subset = [r for r in rows if r["dataset"] == dataset]
        if not subset:
            continue
        ours = [f"ours v={v:g}" for v in variations]
        methods = ours + ["SinGAN", "ConSinGAN"] + (["GPNN"] if dataset == "places" else [])
        print(f"<!-- table:singan_{dataset} -->")
        print("| image | train s (wall) | CPU s | " + " | ".join(f"{m} SWD | {m} div" for m in methods) + " |")
        print("|---" * (3 + 2 * len(methods)) + "|")
        for r in subset:
            cells = [f"{fmt(r[m][0])} | {fmt(r[m][1])}" for m in methods]
            cpu_cell = "-" if r["cpu_s"] is None else f"{r['cpu_s']:.0f}"
            print(f"| {r['index']} | {r['train_s']:.0f} | {cpu_cell} | " + " | ".join(cells) + " |")
        means = []
        for m in methods:
            swd = statistics.mean(r[m][0] for r in subset)
            divs = [r[m][1] for r in subset if r[m][1] is not None]
            means.append(f"**{swd:.3f}** | {fmt(statistics.mean(divs)) if divs else '-'}")
        median_train = statistics.median(r["train_s"] for r in subset)
        cpus = [r["cpu_s"] for r in subset if r["cpu_s"] is not None]
        median_cpu = f"{statistics.median(cpus):.0f}" if cpus else "-"
        print(f"| mean (train: median) | {median_train:.0f} | {median_cpu} | " + " | ".join(means) + " |")
        print(f"<!-- /table:singan_{dataset} -->")

    if args.skip_speed:
        return 0
    model = singan.load(out / f"{rows[0]['dataset']}_{rows[0]['index']}")
    height, width = model.sizes[-1]
    rate = sampling_speed(model)
    print("<!-- table:singan_sampling -->")
    print(f"| model | output | samples/s (median of 3 runs of 16 samples, {torch.get_num_threads()} threads) |")
    print("|---|---|---|")
    print(f"| fast preset, {rows[0]['dataset']} {rows[0]['index']} | {width}x{height} | {rate:.1f} |")
    print("<!-- /table:singan_sampling -->")
    return 0


if __name__ == "__main__":
    sys.exit(main())
