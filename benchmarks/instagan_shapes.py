"""InstaGAN benchmark: throughput (paper vs fast preset) and the ellipse -> rectangle shapes task.

    python benchmarks/instagan_shapes.py shapes --data /tmp/shapes --out /tmp/shapes_model [--minutes 25]
    python benchmarks/instagan_shapes.py throughput --iterations 3 [--presets paper --profile]

`shapes`: makes the data set if missing (`patchdna instagan make-shapes`), trains the `fast` preset (its own
schedule, or `--iterations`, or one fitted to `--minutes` of single-thread CPU time from the speed of a few
probe iterations), then translates every held-out A image (all its masks, 2 per pass) and reports: the share
of translated masks classified as rectangles by the fill-ratio rule, the mean L1 change of the image outside
the union of the source and translated masks (images in [0, 1]), and iterations per CPU second.
`throughput`: one training iteration at 200x200 with 4 instances, 2 per pass, batch 1, for the paper preset
and the fast preset's networks at the same size (and at its own size); medians of `--iterations`, with the
first iteration's losses (to check that a speed-up leaves the maths alone) and the peak resident memory.
Runs single-threaded by default (`--threads`): on a shared 2-core machine, 2 threads per job oversubscribe."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

import torch

from patchdna.instagan import (
    InstaGANConfig,
    InstanceDataset,
    classify_shape,
    load,
    load_masks,
    make_shapes,
    scan_official,
    train,
    translate,
)
from patchdna.instagan.shapes import render_scene
from patchdna.instagan.train import Batch, Trainer, reuse_freed_memory
from patchdna.io import load_image


def _peak_rss_gb() -> float:
    """Peak resident memory of this process so far (ru_maxrss, KiB on Linux), GB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def iteration_seconds(
    config: InstaGANConfig, size: int, iterations: int, profile: bool = False
) -> tuple[float, float, float, float]:
    """Median wall and CPU seconds per training iteration (scenes with exactly ins_max instances), G params (M),
    and the median share of the CPU time spent in the kernel (page faults of fresh allocations, mostly).

    CPU time (process_time) is what one thread needs on an idle core; on a shared machine wall time is larger.
    `profile`: also run torch.profiler over one more iteration and print the operators by self CPU time.
    """
    generator = torch.Generator().manual_seed(0)
    batches = []
    for kind in ("ellipse", "rectangle"):
        image, masks = render_scene(size, kind, config.ins_max, generator)
        while masks.shape[0] < config.ins_max:  # crowded: retry
            image, masks = render_scene(size, kind, config.ins_max, generator)
        batches.append(
            Batch(image[None] * 2 - 1, masks[None] * 2 - 1, torch.ones((1, config.ins_max), dtype=torch.bool))
        )
    from patchdna.instagan.model import build

    model = build(config, seed=0)
    trainer = Trainer(model, device=torch.device("cpu"))
    times, cpu_times, system_shares = [], [], []
    for index in range(iterations):
        start, cpu_start, os_start = time.perf_counter(), time.process_time(), os.times()
        losses = trainer.step(*batches)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        system_shares.append((os.times().system - os_start.system) / max(cpu_times[-1], 1e-9))
        print(
            f"    {size}px iteration {index + 1}: {times[-1]:.2f} s wall, {cpu_times[-1]:.2f} s CPU "
            f"({system_shares[-1]:.0%} kernel), peak RSS {_peak_rss_gb():.2f} GB",
            flush=True,
        )
        if index == 0:
            print("    first-iteration losses: " + json.dumps({k: round(v, 6) for k, v in losses.items()}), flush=True)
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as torch_profile

        with torch_profile(activities=[ProfilerActivity.CPU], record_shapes=True) as profiler:
            trainer.step(*batches)
        print(profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=25), flush=True)
        by_shape = profiler.key_averages(group_by_input_shape=True)
        print(by_shape.table(sort_by="self_cpu_time_total", row_limit=30, max_name_column_width=40), flush=True)
    parameters = sum(p.numel() for p in model.generator_ab.parameters()) / 1e6
    return statistics.median(times), statistics.median(cpu_times), parameters, statistics.median(system_shares)


def run_throughput(args: argparse.Namespace) -> None:
    size = 200
    rows = []
    common = {"ins_max": 4, "ins_per": 2, "batch_size": 1, "load_size": (size, size), "crop_size": (size, size)}
    fast = InstaGANConfig.preset("fast")
    runs = {
        "paper": (InstaGANConfig.preset("paper", **common), size),
        "fast@200": (InstaGANConfig.preset("fast", **common), size),
        "fast": (InstaGANConfig.preset("fast", ins_max=4, ins_per=2, batch_size=1), fast.crop_size[0]),
    }
    if args.reuse_memory:
        print(f"reuse_freed_memory(): {reuse_freed_memory()}", flush=True)
    for name in args.presets.split(","):
        config, at = runs[name]
        seconds, cpu, parameters, system = iteration_seconds(config, at, args.iterations, args.profile)
        rows.append((name, at, parameters, seconds, cpu, system, _peak_rss_gb()))
        print(f"  measured {name}: {seconds:.2f} s/it wall, {cpu:.2f} s/it CPU", flush=True)
    paper_cpu = rows[0][4]
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} thread(s), load average {os.getloadavg()}")
    print(
        f"| preset | size | G params (M) | wall s/it | CPU s/it | kernel share | iterations/s (CPU) "
        f"| x {rows[0][0]} (CPU) | peak RSS so far (GB) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, at, parameters, seconds, cpu, system, rss in rows:
        rate, speedup = 1 / cpu, paper_cpu / cpu
        print(
            f"| {name} | {at}x{at} | {parameters:.2f} | {seconds:.1f} | {cpu:.2f} | {system:.0%} | {rate:.3f} "
            f"| {speedup:.1f} | {rss:.2f} |"
        )
    print("\nofficial implementation, same CPU (reference/instagan.md): 45 s/iteration (0.022 it/s), 8.6 GB peak")


def evaluate(model_dir: Path, data: Path, phase: str, ins_per: int) -> dict[str, float]:
    model = load(model_dir)
    shares, changes, counts = [], [], 0
    for sample in scan_official(data, phase, "A"):
        image = load_image(sample.image)
        masks = load_masks(sample.masks, tuple(image.shape[-2:]))[None]
        result = translate(model, image, masks, "AtoB", ins_per)
        for mask in result.masks[0]:
            shares.append(classify_shape(mask) == "rectangle")
        union = torch.cat([masks, result.masks], 1).amax(1, keepdim=True) > 0.5
        outside = (~union).float()
        changes.append(float(((image - result.image).abs() * outside).sum() / (3 * outside.sum()).clamp_min(1)))
        counts += 1
    return {
        "images": counts,
        "masks": len(shares),
        "rectangle_share": sum(shares) / max(len(shares), 1),
        "background_l1": statistics.mean(changes),
    }


def shapes_sheet(model_dir: Path, data: Path, path: Path, count: int = 6, cell: int = 128) -> None:
    """Held-out A images: source with masks | translation with translated masks, both directions' style."""
    from patchdna.instagan.visualize import comparison_sheet
    from patchdna.io import save_image
    from patchdna.ops import resize

    model = load(model_dir)
    rows = []
    for sample in scan_official(data, "test", "A")[:count]:
        image = load_image(sample.image)
        masks = load_masks(sample.masks, tuple(image.shape[-2:]))[None]
        result = translate(model, image, masks, "AtoB", 2)
        big = lambda t: resize(t, (cell, cell), mode="nearest")  # noqa: E731
        rows.append((big(image), big(masks), big(result.image), big(result.masks)))
    save_image(comparison_sheet(rows), path)
    print(f"wrote {path}: source | source masks | translation | translated masks")


def run_shapes(args: argparse.Namespace) -> None:
    data, out = Path(args.data), Path(args.out)
    if not (data / "trainA").is_dir():
        make_shapes(data, n=args.n, size=64, seed=0)
    overrides = json.loads(args.overrides)  # e.g. '{"crop_size": [64, 64]}' for experiments
    config = InstaGANConfig.preset("fast", **overrides)
    samples_a, samples_b = scan_official(data, "train", "A"), scan_official(data, "train", "B")
    make = lambda s: InstanceDataset(  # noqa: E731
        s, load_size=config.load_size, crop_size=config.crop_size, ins_max=config.ins_max, flip=config.flip
    )
    # 1. The schedule: the preset's own, or `--iterations` (`--constant-share` of them at a constant learning
    # rate, the rest decaying linearly to zero), or fitted to `--minutes` of single-thread CPU time from the
    # speed of a few probe iterations (CPU time is what an idle core needs; wall time depends on the load).
    init_from = Path(args.init_from) if args.init_from else None
    total = args.iterations
    if not total and args.minutes:
        # 15 iterations, timed after the first 5 (loading the images and the first allocations are slow).
        probe = InstaGANConfig.preset("fast", **{**overrides, "steps": 15, "decay_steps": 0})
        marks: list[float] = []
        with tempfile.TemporaryDirectory() as probe_dir:
            train(
                probe,
                make(samples_a),
                make(samples_b),
                probe_dir,
                seed=1,
                progress=False,
                init_from=init_from,
                on_step=lambda step, losses: marks.append(time.process_time()),
            )
        per_iteration = (marks[-1] - marks[4]) / (len(marks) - 5)
        total = max(10, int(args.minutes * 60 / per_iteration))
        print(f"probe: {per_iteration:.2f} CPU s/it -> {total} iterations in {args.minutes} CPU min", flush=True)
    if total:
        constant = int(total * (0.0 if init_from else args.constant_share))  # continuing: only the decay
        config = InstaGANConfig.preset("fast", **{**overrides, "steps": constant, "decay_steps": total - constant})
    print(f"config: {json.dumps(config.to_dict())}", flush=True)
    # 2. Train.
    start, cpu_start = time.perf_counter(), time.process_time()
    train(
        config,
        make(samples_a),
        make(samples_b),
        out,
        seed=args.seed,
        preview_every=args.preview_every,
        max_seconds=args.max_wall_minutes * 60 if args.max_wall_minutes else None,
        init_from=init_from,
        progress=True,
    )
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    load = os.getloadavg()
    iterations = json.loads((out / "config.json").read_text())["iteration"]
    # 3. Evaluate on held-out A images.
    result = evaluate(out, data, "test", ins_per=2)
    print("\n| metric | value | target |")
    print("|---|---|---|")
    print(
        f"| translated masks classified as rectangles (A->B, test) | {result['rectangle_share']:.1%} "
        f"({result['masks']} masks, {result['images']} images) | >= 80% |"
    )
    print(f"| background L1 change outside masks | {result['background_l1']:.4f} | <= 0.05 |")
    print(
        f"| training | {iterations} iterations in {seconds / 60:.1f} min wall, {cpu_seconds / 60:.1f} min CPU "
        f"= {iterations / cpu_seconds:.2f} it/s (CPU); load average at the end {load[0]:.1f} (1 min), "
        f"{load[2]:.1f} (15 min) | |"
    )


def run_gallery(args: argparse.Namespace) -> None:
    """Train the fast networks on the 7 + 7 shp2gir_coco sample and sheet ours next to the official outputs."""
    from patchdna.instagan.visualize import overlay
    from patchdna.io import save_image
    from patchdna.ops import resize
    from patchdna.video import image_grid

    data, out, official = Path(args.data), Path(args.out), Path(args.official)
    size = args.size
    config = InstaGANConfig.preset(
        "fast", load_size=(size + size // 8, size + size // 8), crop_size=(size, size), steps=10**6, decay_steps=0
    )
    make = lambda d: InstanceDataset(  # noqa: E731
        scan_official(data, "sample", d), load_size=config.load_size, crop_size=config.crop_size, ins_max=config.ins_max
    )
    if args.retrain and out.exists():
        import shutil

        shutil.rmtree(out)
    if not (out / "config.json").is_file():
        start = time.perf_counter()
        train(config, make("A"), make("B"), out, seed=0, max_seconds=args.minutes * 60, progress=True)
        print(
            f"trained {json.loads((out / 'config.json').read_text())['iteration']} iterations "
            f"in {(time.perf_counter() - start) / 60:.1f} min"
        )
    model = load(out)
    cell = 160
    samples = {d: scan_official(data, "sample", d) for d in "AB"}
    inputs = {d: [(s, load_image(s.image)) for s in samples[d]] for d in "AB"}
    tiles = []
    for real_path in sorted(official.glob("*_real_A_img.png")):
        stem = real_path.name.split("_")[0]
        for source, target in (("A", "B"), ("B", "A")):
            real = resize(load_image(official / f"{stem}_real_{source}_img.png"), (cell, cell)).clamp(0, 1)
            # The official sheet pairs A and B images by index: find our sample with the same picture.
            sample, image = min(inputs[source], key=lambda p: float((resize(p[1], (cell, cell)) - real).abs().mean()))
            masks = load_masks(sample.masks, tuple(image.shape[-2:]))[None]
            result = translate(model, image, masks, f"{source}to{target}", 2, max_size=size + size // 8)
            theirs = resize(load_image(official / f"{stem}_fake_{target}_img.png"), (cell, cell)).clamp(0, 1)
            their_seg = resize(load_image(official / f"{stem}_fake_{target}_seg.png"), (cell, cell)).mean(1)
            small = lambda t: resize(t, (cell, cell)).clamp(0, 1)  # noqa: E731
            tiles += [
                overlay(small(image)[0], small(masks)[0])[None],
                overlay(small(result.image)[0], small(result.masks)[0])[None],
                overlay(theirs[0], their_seg.clamp(0, 1))[None],
            ]
    sheet = image_grid(tiles, columns=3)
    save_image(sheet, args.sheet)
    print(f"wrote {args.sheet}: columns = input with masks | ours (fast preset) | official InstaGAN (200 epochs)")


def run_ddp(args: argparse.Namespace) -> None:
    """Same data and seed: 2 processes x batch 1 (torchrun, gloo) vs 1 process x batch 2; mean losses."""
    import os
    import socket
    import subprocess
    import sys

    data, out = Path(args.data), Path(args.out)
    if not (data / "trainA").is_dir():
        make_shapes(data, n=40, size=48, seed=0)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    common = [
        "--data",
        str(data),
        "--crop-size",
        "32x32",
        "--steps",
        str(args.steps),
        "--decay-steps",
        "0",
        "--quiet",
        "--device",
        "cpu",
        "--seed",
        "0",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    runs = {
        "torchrun 2 x batch 1": [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nnodes",
            "1",
            "--nproc-per-node",
            "2",
            "--master-addr",
            "127.0.0.1",
            "--master-port",
            str(port),
            "-m",
            "patchdna.cli",
            "instagan",
            "train",
            str(out / "ddp"),
            "--batch-size",
            "1",
            *common,
        ],
        "1 process x batch 2": [
            sys.executable,
            "-m",
            "patchdna.cli",
            "instagan",
            "train",
            str(out / "single"),
            "--batch-size",
            "2",
            *common,
        ],
        # The noise level: the same single-process run with another seed (other init, data order, crops).
        "same, seed 1": [
            sys.executable,
            "-m",
            "patchdna.cli",
            "instagan",
            "train",
            str(out / "seed1"),
            "--batch-size",
            "2",
            *common[:-1],
            "1",
        ],
    }
    curves = {}
    for name, command in runs.items():
        start = time.perf_counter()
        subprocess.run(command, env=env, check=True)
        folder = Path(command[command.index("train") + 1])
        curves[name] = [json.loads(line) for line in (folder / "losses.jsonl").read_text().splitlines()]
        print(f"  {name}: {time.perf_counter() - start:.0f} s", flush=True)
    keys = [k for k in curves["1 process x batch 2"][0] if k != "step"]
    names = list(curves)
    print(f"\n| loss (mean over {args.steps} steps) | {' | '.join(names)} | torchrun vs 1 process | seed 1 vs seed 0 |")
    print("|---|---|---|---|---|---|")
    for key in keys:
        m = [statistics.mean(row[key] for row in curves[n]) for n in names]
        ddp_change, seed_change = (m[0] - m[1]) / m[1], (m[2] - m[1]) / m[1]
        print(f"| {key} | {m[0]:.4f} | {m[1]:.4f} | {m[2]:.4f} | {ddp_change:+.1%} | {seed_change:+.1%} |")
    first = [curves[n][0] for n in names]
    worst = max(abs(first[0][k] - first[1][k]) / abs(first[1][k]) for k in keys)
    print(f"\nfirst iteration, largest relative difference: {worst:.1e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    sub = parser.add_subparsers(dest="part", required=True)
    shapes = sub.add_parser("shapes", help="train fast on the shapes task and score A->B on held-out images")
    shapes.add_argument("--data", default="/tmp/instagan_shapes")
    shapes.add_argument("--out", default="/tmp/instagan_shapes_model")
    shapes.add_argument("--n", type=int, default=500, help="images per domain (20%% held out)")
    shapes.add_argument("--minutes", type=float, help="fit the schedule to this many single-thread CPU minutes")
    shapes.add_argument("--max-wall-minutes", type=float, help="also stop after this much wall time")
    shapes.add_argument("--constant-share", type=float, default=0.7, help="share of iterations before the decay")
    shapes.add_argument("--overrides", default="{}", help="JSON of fast-preset fields to change (experiments)")
    shapes.add_argument("--seed", type=int, default=0)
    shapes.add_argument("--preview-every", type=int, default=200)
    shapes.add_argument("--iterations", type=int, help="this many iterations instead of the preset's schedule")
    shapes.add_argument("--init-from", help="continue from this model folder with a linear decay over the budget")
    evaluate_parser = sub.add_parser("evaluate", help="score an already trained model folder")
    evaluate_parser.add_argument("--data", default="/tmp/instagan_shapes")
    evaluate_parser.add_argument("--out", default="/tmp/instagan_shapes_model")
    evaluate_parser.add_argument("--sheet", help="also write a sheet of the first held-out translations here")
    gallery = sub.add_parser("gallery", help="train on the shp2gir_coco sample and sheet ours vs official")
    gallery.add_argument("--data", default="/work/shared/datasets/shp2gir_coco")
    gallery.add_argument(
        "--official",
        default="/work/shared/datasets/instagan-reference-outputs/shp2gir_coco_instagan/sample_200/images",
    )
    gallery.add_argument("--out", default="/tmp/instagan_shp2gir_model")
    gallery.add_argument("--size", type=int, default=64, help="training crop (default 64)")
    gallery.add_argument("--minutes", type=float, default=15.0)
    gallery.add_argument("--retrain", action="store_true")
    gallery.add_argument("--sheet", default="docs/gallery/instagan_shp2gir.png")
    ddp = sub.add_parser("ddp", help="2-process torchrun vs 1 process with the doubled batch")
    ddp.add_argument("--data", default="/tmp/instagan_ddp_shapes")
    ddp.add_argument("--out", default="/tmp/instagan_ddp")
    ddp.add_argument("--steps", type=int, default=30)
    throughput = sub.add_parser("throughput", help="seconds per iteration at 200x200, 4 instances, 2 per pass")
    throughput.add_argument("--iterations", type=int, default=3)
    throughput.add_argument(
        "--presets", default="paper,fast@200,fast", help="comma-separated: paper, fast@200, fast (the first is the 1x)"
    )
    throughput.add_argument("--profile", action="store_true", help="print a torch.profiler table of one more iteration")
    throughput.add_argument("--reuse-memory", action="store_true", help="call reuse_freed_memory() first (glibc)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.part == "shapes":
        run_shapes(args)
    elif args.part == "ddp":
        run_ddp(args)
    elif args.part == "gallery":
        run_gallery(args)
    elif args.part == "evaluate":
        print(evaluate(Path(args.out), Path(args.data), "test", ins_per=2))
        if args.sheet:
            shapes_sheet(Path(args.out), Path(args.data), Path(args.sheet))
    else:
        run_throughput(args)


if __name__ == "__main__":
    main()
