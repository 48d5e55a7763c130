"""Run the project's benchmarks and rewrite the tables of BENCHMARKS.md from what they print.

    python benchmarks/run_all.py                      # every registered benchmark, rewrites BENCHMARKS.md
    python benchmarks/run_all.py published_anchors    # a named subset
    python benchmarks/run_all.py --quick              # smoke run: scripts get --quick; writes runs/BENCHMARKS.quick.md
    python benchmarks/run_all.py --list               # what is registered and present

Protocol (docs/eval.md): each script is run as `python benchmarks/NAME.py [--quick]` with src/ on PYTHONPATH and
prints its tables as markdown between marker lines
    <!-- table:TABLE_NAME -->
    | ... |
    <!-- /table:TABLE_NAME -->
run_all replaces the region with the same markers in BENCHMARKS.md (or appends a new section when there is none
yet). A script may also print points for the time-vs-quality figure, one per line:
    @point {"method": "SinGAN", "preset": "fast", "train_seconds": 812.0, "patch_swd": 1.9}
run_all draws them (log time vs patch SWD, a colour per method, a marker per preset) into time_vs_swd.png next
to BENCHMARKS.md. The header region `run_all_meta` records date, machine, load, commit and each script's status.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = re.compile(r"<!-- table:(?P<name>[\w.-]+) -->\n(?P<body>.*?)\n?<!-- /table:(?P=name) -->", re.DOTALL)
POINT = re.compile(r"^@point\s+(?P<json>\{.*\})\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Benchmark:
    name: str  # benchmarks/NAME.py
    what: str
    owner: str  # who keeps the script


# Registry, in run order (cheap first). A script that is not in the tree yet is reported as missing, not an error.
REGISTRY = (
    Benchmark("ruler_agreement", "patchdna.metrics vs the shared ruler on user-study images", "eval"),
    Benchmark("eval_speed", "`patchdna eval` speed: one 250 px pair and the Places50 folder", "eval"),
    Benchmark("published_anchors", "published SinGAN/ConSinGAN/GPNN samples scored with our ruler", "eval"),
    Benchmark("singan_places", "SinGAN/ConSinGAN presets on Places50: training time and quality", "singan"),
    Benchmark("singan_train_time", "SinGAN fast preset: wall-clock training time (idle machine)", "singan"),
    Benchmark("singan_apps_gallery", "SinGAN applications gallery", "singan"),
    Benchmark("ingan_retarget", "InGAN retargeting quality and speed", "ingan"),
    Benchmark("instagan_shapes", "InstaGAN on the sheep/giraffe set", "instagan"),
)


@dataclass
class Outcome:
    benchmark: Benchmark
    status: str  # "ok", "missing", "failed (exit N)", "timed out"
    seconds: float
    tables: dict[str, str]
    points: list[dict]


def run_benchmark(benchmark: Benchmark, quick: bool, timeout: float | None, log_folder: Path) -> Outcome:
    script = ROOT / "benchmarks" / f"{benchmark.name}.py"
    if not script.is_file():
        return Outcome(benchmark, "missing", 0.0, {}, [])
    command = [sys.executable, str(script)] + (["--quick"] if quick else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    print(f"run_all: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        # stderr goes straight to the terminal (progress bars); stdout carries the tables.
        completed = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True, timeout=timeout)
        stdout, status = (
            completed.stdout,
            "ok" if completed.returncode == 0 else f"failed (exit {completed.returncode})",
        )
    except subprocess.TimeoutExpired as error:
        out = error.stdout
        stdout = out.decode() if isinstance(out, bytes) else (out or "")
        status = f"timed out after {timeout:.0f} s"
    seconds = time.perf_counter() - started
    log_folder.mkdir(parents=True, exist_ok=True)
    (log_folder / f"{benchmark.name}.txt").write_text(stdout)
    tables = {match.group("name"): match.group("body").strip("\n") for match in TABLE.finditer(stdout)}
    points = []
    for match in POINT.finditer(stdout):
        try:
            points.append({"script": benchmark.name, **json.loads(match.group("json"))})
        except json.JSONDecodeError:
            print(f"run_all: {benchmark.name}: ignoring a malformed @point line", file=sys.stderr)
    return Outcome(benchmark, status, seconds, tables, points)


def replace_region(text: str, name: str, body: str, heading: str) -> str:
    """Put `body` between the `name` markers of `text`, or append a new section holding them."""
    block = f"<!-- table:{name} -->\n{body}\n<!-- /table:{name} -->"
    pattern = re.compile(rf"<!-- table:{re.escape(name)} -->\n.*?<!-- /table:{re.escape(name)} -->", re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return text.rstrip("\n") + f"\n\n## {heading}\n\n{block}\n"


def machine_description() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kilobytes = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kilobytes / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    description = f"{model}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}"
    try:
        import torch

        description += f", torch {torch.__version__}"
        if torch.cuda.is_available():
            description += f", GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return description


def commit_description() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return "unknown"
    if commit.returncode != 0:
        return "unknown"
    return commit.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def draw_figure(points: list[dict], path: Path) -> bool:
    """Training time (log) vs patch SWD, a colour per method and a marker per preset; False without points."""
    usable = [
        p
        for p in points
        if isinstance(p.get("train_seconds"), int | float) and isinstance(p.get("patch_swd"), int | float)
    ]
    if not usable:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = sorted({str(p.get("method", "?")) for p in usable})
    presets = sorted({str(p.get("preset", "-")) for p in usable})
    markers = "os^Dv<>P*X"
    figure, axes = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    for color_index, method in enumerate(methods):
        for marker_index, preset in enumerate(presets):
            chosen = [p for p in usable if str(p.get("method", "?")) == method and str(p.get("preset", "-")) == preset]
            if chosen:
                axes.scatter(
                    [p["train_seconds"] / 60 for p in chosen],
                    [p["patch_swd"] for p in chosen],
                    color=f"C{color_index}",
                    marker=markers[marker_index % len(markers)],
                    label=f"{method} ({preset})",
                    s=40,
                )
    axes.set_xscale("log")
    axes.set_xlabel("training time per image (minutes, log scale)")
    axes.set_ylabel("patch SWD ×10 (lower is better)")
    axes.set_title("Training time vs patch SWD")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all registered)")
    parser.add_argument("--quick", action="store_true", help="pass --quick to every script (smoke run)")
    parser.add_argument("--benchmarks-md", type=Path, default=ROOT / "BENCHMARKS.md", help="the file to update")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="where to write (default: --benchmarks-md; with --quick: "
        "runs/BENCHMARKS.quick.md so smoke numbers never overwrite real ones)",
    )
    parser.add_argument("--timeout", type=float, default=None, help="seconds allowed per script (default: none)")
    parser.add_argument("--list", action="store_true", help="list the registered benchmarks and exit")
    args = parser.parse_args(argv)
    if args.list:
        for benchmark in REGISTRY:
            present = (ROOT / "benchmarks" / f"{benchmark.name}.py").is_file()
            print(f"{benchmark.name:22} {'present' if present else 'missing':8} {benchmark.what}")
        return 0
    known = {benchmark.name: benchmark for benchmark in REGISTRY}
    unknown = [name for name in args.names if name not in known]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; registered: {', '.join(known)}")
    selected = [known[name] for name in args.names] if args.names else list(REGISTRY)
    output = args.output or (ROOT / "runs" / "BENCHMARKS.quick.md" if args.quick else args.benchmarks_md)

    load_before = os.getloadavg()[0]
    started = datetime.now(timezone.utc)
    outcomes = [run_benchmark(b, args.quick, args.timeout, ROOT / "runs" / "benchmark_logs") for b in selected]
    load_after = os.getloadavg()[0]

    text = args.benchmarks_md.read_text() if args.benchmarks_md.is_file() else "# Benchmarks\n"
    for outcome in outcomes:
        for name, body in outcome.tables.items():
            text = replace_region(
                text, name, body, f"{outcome.benchmark.what} (`benchmarks/{outcome.benchmark.name}.py`)"
            )
    points = [point for outcome in outcomes for point in outcome.points]
    figure = output.parent / "time_vs_swd.png"
    if draw_figure(points, figure):
        text = replace_region(
            text, "time_vs_swd", f"![training time vs patch SWD]({figure.name})", "Training time vs quality"
        )
    status_rows = "\n".join(
        f"| `{o.benchmark.name}` | {o.status} | {o.seconds:.0f} s | {', '.join(sorted(o.tables)) or '-'} |"
        for o in outcomes
    )
    meta = (
        f"Last run: {started:%Y-%m-%d %H:%M} UTC, `python benchmarks/run_all.py{' --quick' if args.quick else ''}"
        f"{' ' + ' '.join(args.names) if args.names else ''}`, commit {commit_description()}.\n"
        f"Machine: {machine_description()}; load average {load_before:.1f} at the start, {load_after:.1f} at the end "
        "(other jobs may share the machine).\n\n"
        "| script | status | time | tables updated |\n|---|---|---|---|\n" + status_rows
    )
    text = replace_region(text, "run_all_meta", meta, "Last benchmark run")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"run_all: wrote {output}" + (f" and {figure}" if points else ""), file=sys.stderr)
    for outcome in outcomes:
        print(
            f"  {outcome.benchmark.name:22} {outcome.status:24} {outcome.seconds:7.0f} s  tables: {len(outcome.tables)}"
        )
    return 0 if all(o.status in ("ok", "missing") for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
