"""`patchdna instagan ...`: train, translate, make-shapes, from-coco (thin layer over `patchdna.instagan`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from patchdna.cli_args import add_device_argument, add_seed_argument, parse_size
from patchdna.device import resolve_device
from patchdna.errors import ConfigError

__all__ = ["register"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "instagan",
        help="instance-aware translation between two image sets (InstaGAN)",
        description="InstaGAN: translate images together with their instance masks between two domains "
        "(e.g. sheep <-> giraffes), so that shapes can change. Each image needs one mask file per instance.",
    )
    commands = parser.add_subparsers(dest="instagan_command", metavar="COMMAND", required=True)

    train = commands.add_parser(
        "train",
        help="train a model on two image sets with masks",
        description="Train on DATA in the official layout (DATA/<phase>A, <phase>A_seg, <phase>B, <phase>B_seg; "
        "masks named <id>_<k>.png) or on four folders given with --a-images/--a-masks/--b-images/--b-masks. "
        "Multi-process: `torchrun --nproc-per-node 2 -m patchdna.cli instagan train ...` (gloo on CPU, NCCL on GPU).",
    )
    train.add_argument("out", type=Path, help="model folder to write (config.json + model.safetensors)")
    train.add_argument("--data", type=Path, help="dataset root in the official layout")
    train.add_argument("--phase", default="train", help="phase name of the folders under --data (default: train)")
    for flag in ("a-images", "a-masks", "b-images", "b-masks"):
        train.add_argument(f"--{flag}", type=Path, help=f"{flag.replace('-', ' ')} folder (instead of --data)")
    train.add_argument(
        "--preset",
        choices=("paper", "fast"),
        default="fast",
        help="paper: official widths and 200 px crops; fast: small networks for a CPU (default)",
    )
    train.add_argument("--steps", type=int, help="iterations at constant learning rate (default: preset)")
    train.add_argument("--decay-steps", type=int, help="iterations of linear decay to zero (default: preset)")
    train.add_argument("--batch-size", type=int, help="images per process per iteration (default: preset)")
    train.add_argument("--ins-max", type=int, help="masks per image used in training, largest first (default: 4)")
    train.add_argument("--ins-per", type=int, help="masks translated per sequential pass (default: 2)")
    train.add_argument("--load-size", type=parse_size, help="resize images to HxW before cropping (default: preset)")
    train.add_argument("--crop-size", type=parse_size, help="random crop HxW, a multiple of 4 (default: preset)")
    train.add_argument("--width", type=int, help="generator width ngf (default: preset; paper 64)")
    train.add_argument("--no-flip", action="store_true", help="disable random horizontal flips")
    train.add_argument("--resume", action="store_true", help="continue the training saved in OUT")
    train.add_argument(
        "--init-from", type=Path, help="start from the weights of this model folder (same widths), new schedule"
    )
    train.add_argument("--save-every", type=int, default=500, help="save the model every N iterations (default 500)")
    train.add_argument(
        "--preview-every",
        type=int,
        default=0,
        help="write OUT/previews/step_N.png every N iterations (default 0: never)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device_argument(train)
    add_seed_argument(train)
    train.set_defaults(func=_train)

    translate = commands.add_parser(
        "translate",
        help="translate images and their masks with a trained model",
        description="Translate IMAGES (a file or a folder) with their masks (MASKS/<id>_<k>.png or MASKS/<id>/); "
        "any number of masks, processed largest first, --ins-per at a time. Writes OUT/<id>.png, translated masks "
        "OUT/<id>_<k>.png (in the input order) and a side-by-side OUT/<id>_sheet.png.",
    )
    translate.add_argument("model", type=Path, help="trained model folder")
    translate.add_argument("images", type=Path, help="an image file or a folder of images")
    translate.add_argument("--masks", type=Path, required=True, help="folder with the instance masks")
    translate.add_argument("--direction", choices=("AtoB", "BtoA"), default="AtoB", help="default: AtoB")
    translate.add_argument("--ins-per", type=int, default=2, help="masks per sequential pass (default 2)")
    translate.add_argument("--max-size", type=int, help="shrink the long side to this many pixels first")
    translate.add_argument(
        "--out", type=Path, default=Path("instagan_out"), help="output folder (default instagan_out)"
    )
    add_device_argument(translate)
    translate.set_defaults(func=_translate)

    shapes = commands.add_parser(
        "make-shapes",
        help="generate the ellipse <-> rectangle benchmark data set",
        description="Write N images per domain with 1-6 instances each on textured backgrounds: A = warm ellipses, "
        "B = cool rectangles, in the official layout OUT/{train,test}{A,B}[_seg] (20%% held out for test).",
    )
    shapes.add_argument("out", type=Path, help="output folder")
    shapes.add_argument("--n", type=int, default=500, help="images per domain (default 500)")
    shapes.add_argument("--size", type=int, default=64, help="image side in pixels (default 64)")
    add_seed_argument(shapes)
    shapes.set_defaults(func=_make_shapes)

    coco = commands.add_parser(
        "from-coco",
        help="convert COCO instance annotations to the official layout",
        description="Write OUT/<phase>A (+_seg) from images holding the --a categories and OUT/<phase>B from the --b "
        "categories (polygon and RLE masks; images with both are skipped).",
    )
    coco.add_argument("instances", type=Path, help="COCO instances JSON (e.g. instances_train2017.json)")
    coco.add_argument("images", type=Path, help="folder with the images it names")
    coco.add_argument("out", type=Path, help="output dataset root")
    coco.add_argument("--a", required=True, help="comma-separated category names of domain A, e.g. sheep")
    coco.add_argument("--b", required=True, help="comma-separated category names of domain B, e.g. giraffe")
    coco.add_argument("--phase", default="train", help="phase name of the written folders (default train)")
    coco.add_argument("--min-area", type=float, default=0.0, help="drop instances smaller than this (pixels)")
    coco.add_argument("--include-crowd", action="store_true", help="keep crowd regions")
    coco.set_defaults(func=_from_coco)


def _train(args: argparse.Namespace) -> int:
    from patchdna.instagan import InstaGANConfig, InstanceDataset, scan_folders, scan_official, train
    from patchdna.instagan.train import reuse_freed_memory

    overrides = {
        key: value
        for key, value in {
            "steps": args.steps,
            "decay_steps": args.decay_steps,
            "batch_size": args.batch_size,
            "ins_max": args.ins_max,
            "ins_per": args.ins_per,
            "load_size": args.load_size,
            "crop_size": args.crop_size,
            "generator_width": args.width,
        }.items()
        if value is not None
    }
    if args.no_flip:
        overrides["flip"] = False
    if args.crop_size is not None and args.load_size is None:
        overrides["load_size"] = args.crop_size
    config = InstaGANConfig.preset(args.preset, **overrides)
    folders = (args.a_images, args.a_masks, args.b_images, args.b_masks)
    if args.data is not None:
        samples_a, samples_b = scan_official(args.data, args.phase, "A"), scan_official(args.data, args.phase, "B")
    elif all(f is not None for f in folders):
        samples_a, samples_b = scan_folders(args.a_images, args.a_masks), scan_folders(args.b_images, args.b_masks)
    else:
        raise ConfigError("give --data ROOT (official layout) or all of --a-images --a-masks --b-images --b-masks")

    def dataset(samples: list) -> InstanceDataset:
        return InstanceDataset(
            samples, load_size=config.load_size, crop_size=config.crop_size, ins_max=config.ins_max, flip=config.flip
        )

    device = resolve_device(args.device)
    if device.type == "cpu":
        reuse_freed_memory()  # this process trains: keep freed activations for the next step (see its docstring)
    train(
        config,
        dataset(samples_a),
        dataset(samples_b),
        args.out,
        device=device,
        seed=args.seed,
        resume=args.resume,
        init_from=args.init_from,
        save_every=args.save_every,
        preview_every=args.preview_every,
        progress=not args.quiet,
    )
    print(f"saved {args.out}")
    return 0


def _translate(args: argparse.Namespace) -> int:
    from patchdna.instagan import find_samples, load, translate_files

    model = load(args.model, resolve_device(args.device))
    samples = find_samples(args.images, args.masks)
    written = translate_files(
        model, samples, args.out, direction=args.direction, ins_per=args.ins_per, max_size=args.max_size
    )
    print(f"translated {len(written)} image(s) into {args.out}")
    return 0


def _make_shapes(args: argparse.Namespace) -> int:
    from patchdna.instagan import make_shapes

    make_shapes(args.out, args.n, size=args.size, seed=args.seed)
    print(f"wrote {args.n} images per domain to {args.out}")
    return 0


def _from_coco(args: argparse.Namespace) -> int:
    from patchdna.instagan import coco_to_folder

    count_a, count_b = coco_to_folder(
        args.instances,
        args.images,
        args.out,
        categories_a=[c.strip() for c in args.a.split(",") if c.strip()],
        categories_b=[c.strip() for c in args.b.split(",") if c.strip()],
        phase=args.phase,
        min_area=args.min_area,
        include_crowd=args.include_crowd,
    )
    print(f"wrote {count_a} A and {count_b} B images to {args.out}")
    return 0
