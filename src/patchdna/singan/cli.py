"""`patchdna singan ...` subcommands: thin wrappers over the patchdna.singan API."""

from __future__ import annotations

import argparse
from pathlib import Path

from patchdna.cli_args import DefaultsHelpFormatter, add_device_argument, add_seed_argument, parse_size
from patchdna.device import resolve_device
from patchdna.errors import ConfigError
from patchdna.io import save_image
from patchdna.singan.apps_cli import APP_COMMANDS
from patchdna.singan.config import PRESETS, preset
from patchdna.singan.model import load_singan
from patchdna.singan.sampling import reconstruction, sample
from patchdna.singan.training import train

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "singan",
        help="SinGAN: learn one image, then sample variations of any size",
        description="SinGAN: a coarse-to-fine pyramid of small GANs trained on a single image.",
    )
    commands = parser.add_subparsers(dest="singan_command", metavar="COMMAND", required=True)
    _add_train(commands)
    _add_sample(commands)
    for extra in _EXTRA_COMMANDS:
        extra(commands)


def _add_train(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train",
        help="train a SinGAN on one image",
        description="Train a SinGAN on IMAGE and write the model folder DIR (config.json + model.safetensors), "
        "rewritten after every finished scale, with a preview sheet per scale in DIR/previews. "
        "An interrupted run continues with --resume.",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("image", help="the training image (PNG, JPEG, WebP, TIFF, BMP; EXIF rotation applied)")
    parser.add_argument("--out", required=True, help="model folder to write")
    parser.add_argument(
        "--preset",
        default="fast",
        choices=sorted(PRESETS),
        help="fast: patchdna's CPU design (minutes; ConSinGAN's feature cascade on the coarse scales, so "
        "paint/harmonize/edit start at its first image scale); diverse: the same pyramid with every scale trained "
        "on its own (more varied samples that keep less of the image's layout, any start scale); faithful: "
        "diverse with ConSinGAN's concurrent training of the coarse scales (less varied; ~1.1x the time); "
        "cascade: another name of fast; paper: the official SinGAN defaults (hours on a GPU)",
    )
    parser.add_argument("--iterations", type=int, help="override the preset's iterations per scale")
    parser.add_argument("--max-size", type=int, help="override the long side of the finest scale (px)")
    parser.add_argument("--min-size", type=int, help="override the short side of the coarsest scale (px)")
    parser.add_argument("--num-scales", type=int, help="override the number of scales")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    parser.add_argument("--no-preview", action="store_true", help="do not write DIR/previews/scale_NN.png")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device_argument(parser)
    add_seed_argument(parser)
    parser.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    overrides = {}
    if args.iterations is not None:
        overrides["iterations"] = args.iterations
    for name in ("max_size", "min_size", "num_scales"):
        if getattr(args, name) is not None:
            overrides[name] = getattr(args, name)
    try:
        config = preset(args.preset, **overrides)
    except TypeError as error:
        raise ConfigError(str(error)) from error
    model = train(
        args.image,
        args.out,
        config=config,
        device=resolve_device(args.device),
        seed=args.seed,
        resume=args.resume,
        preview=not args.no_preview,
        show_progress=not args.quiet,
    )
    height, width = model.sizes[-1]
    print(f"trained {model.num_trained} scales up to {width}x{height}; model folder: {args.out}")
    return 0


def _add_sample(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sample",
        help="write random samples from a trained model",
        description="Write NUM random samples of a trained SinGAN as PNG files, at any size or aspect ratio. "
        "Example: patchdna singan sample runs/photo --num 8 --scale-w 2 --out samples/",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("model", help="model folder written by `patchdna singan train`")
    parser.add_argument("--num", type=int, default=8, help="number of samples")
    parser.add_argument("--scale-h", type=float, default=1.0, help="output height as a multiple of the training height")
    parser.add_argument("--scale-w", type=float, default=1.0, help="output width as a multiple of the training width")
    parser.add_argument("--size", type=parse_size, help="exact output size HEIGHTxWIDTH (overrides --scale-h/-w)")
    parser.add_argument(
        "--start-scale",
        type=int,
        default=0,
        help="first scale that gets random noise; below it the reconstruction is kept (0 = fully random layout; "
        "higher keeps more of the original arrangement)",
    )
    parser.add_argument(
        "--variation",
        type=float,
        default=1.0,
        help="0..1: how far samples may stray from the training image's global layout (1 = the paper's free "
        "samples; 0.5 keeps the layout recognisable; 0 = the reconstruction's layout). Needs the training size",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="samples generated per forward pass (default: on CPU as many as make about 200k output pixels, "
        "which measured fastest; 16 on a GPU); changes which samples a seed gives",
    )
    parser.add_argument("--reconstruction", action="store_true", help="also write reconstruction.png")
    parser.add_argument("--out", required=True, help="folder for sample_000.png, sample_001.png, ...")
    add_device_argument(parser)
    add_seed_argument(parser)
    parser.set_defaults(func=_sample)


def _sample(args: argparse.Namespace) -> int:
    model = load_singan(args.model, device=resolve_device(args.device))
    images = sample(
        model,
        args.num,
        scale_h=args.scale_h,
        scale_w=args.scale_w,
        size=args.size,
        start_scale=args.start_scale,
        seed=args.seed,
        batch_size=args.batch_size,
        variation=args.variation,
    )
    out = Path(args.out)
    for index, image in enumerate(images):
        save_image(image, out / f"sample_{index:03d}.png")
    if args.reconstruction:
        save_image(reconstruction(model), out / "reconstruction.png")
    print(f"wrote {len(images)} samples of {images.shape[-1]}x{images.shape[-2]} to {out}")
    return 0


# Application subcommands (super-resolution, paint, harmonize, edit, animate) append their `add_*` here.
_EXTRA_COMMANDS: list = [*APP_COMMANDS]
