"""`patchdna ingan train|retarget`: thin command-line layer over `patchdna.ingan`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from patchdna.cli_args import add_device_argument, add_seed_argument, parse_float_list, parse_size
from patchdna.errors import ConfigError
from patchdna.io import save_image

__all__ = ["register"]


def _parse_color(text: str) -> tuple[float, float, float] | None:
    """'transparent', '#rrggbb' or 'r,g,b' (0-255) -> RGB in [0, 1], or None for transparency."""
    text = text.strip().lower()
    if text in ("transparent", "none", "alpha"):
        return None
    try:
        if text.startswith("#") and len(text) == 7:
            values = [int(text[i : i + 2], 16) for i in (1, 3, 5)]
        else:
            values = [int(part) for part in text.split(",")]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"colour must be 'transparent', '#rrggbb' or 'r,g,b'; got {text!r}") from error
    if len(values) != 3 or not all(0 <= v <= 255 for v in values):
        raise argparse.ArgumentTypeError(f"colour needs 3 values in 0..255, got {text!r}")
    return (values[0] / 255, values[1] / 255, values[2] / 255)


def _parse_scale_pairs(text: str) -> list[tuple[float, float]]:
    """'0.5,1,2' (each used for height and width) or '0.5x1,1x2' (height x width pairs)."""
    pairs = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        try:
            if "x" in part:
                h, w = part.split("x", 1)
                pair = (float(h), float(w))
            else:
                pair = (float(part), float(part))
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"scales look like 0.5,1,2 or 1x0.5,1x2; got {text!r}") from error
        if not all(0 < s <= 16 for s in pair):
            raise argparse.ArgumentTypeError(f"scales must lie in (0, 16], got {part!r}")
        pairs.append(pair)
    if not pairs:
        raise argparse.ArgumentTypeError("expected at least one scale")
    return pairs


def _train(args: argparse.Namespace) -> int:
    from patchdna import ingan

    overrides = {}
    if args.iterations is not None:
        overrides["iterations"] = args.iterations
    config = ingan.preset(args.preset, **overrides)
    start = time.perf_counter()
    model = ingan.train(
        args.image,
        args.out,
        config,
        resume=args.resume,
        device=args.device,
        seed=args.seed,
        max_size=args.max_size,
        previews=not args.no_previews,
    )
    height, width = model.image_size
    print(f"trained InGAN on {width}x{height} in {time.perf_counter() - start:.0f} s -> {args.out}")
    return 0


def _retarget(args: argparse.Namespace) -> int:
    from patchdna import ingan

    model = ingan.load(args.model, device=args.device)
    out = Path(args.out)
    stem = model.metadata.get("name", "ingan")
    written: list[Path] = []
    warps = [w for w in (args.homography, args.affine, args.shift) if w is not None]
    if len(warps) > 1:
        raise ConfigError("choose one of --homography, --affine, --shift")
    if warps:
        if args.homography is not None:
            forward = ingan.homography_matrix(args.homography)
        elif args.affine is not None:
            forward = ingan.affine_matrix(args.affine)
        else:
            if len(args.shift) != 2:
                raise ConfigError(f"--shift needs two numbers a,b, got {len(args.shift)}")
            forward = ingan.shift_matrix(args.shift[0], args.shift[1])
        result = ingan.warp_output(model, forward, args.size, background=args.background)
        written.append(save_image(result, out / f"{stem}_warp.png"))
    elif args.size is not None:
        image = ingan.retarget(model, args.size, tile=args.tile)
        written.append(save_image(image, out / f"{stem}_{args.size[0]}x{args.size[1]}.png"))
    for sh, sw in args.scales or []:
        image = ingan.retarget(model, scale=(sh, sw), tile=args.tile)
        written.append(save_image(image, out / f"{stem}_scale_{sh:g}x{sw:g}.png"))
    if args.collage:
        written.append(save_image(ingan.collage(model), out / f"{stem}_collage.png"))
    if args.video is not None:
        written.append(ingan.video(model, args.video, frames=args.frames, fps=args.fps))
    if not written:
        raise ConfigError("nothing to do: give --size, --scales, --collage, --video or a warp (--shift ...)")
    for path in written:
        print(path)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingan",
        help="InGAN: retarget one image to any size or shape",
        description="InGAN (Shocher et al. 2019): train on one image, then retarget it to any size, aspect ratio "
        "or non-rectangular shape in one forward pass, keeping its local structure instead of stretching it.",
    )
    commands = parser.add_subparsers(dest="ingan_command", metavar="COMMAND", required=True)

    train = commands.add_parser("train", help="train a model on one image", description="Train InGAN on IMAGE.")
    train.add_argument("image", help="the input image (PNG, JPEG, ...)")
    train.add_argument("--out", required=True, help="model folder to write (config.json + model.safetensors)")
    train.add_argument(
        "--preset",
        choices=("fast", "paper"),
        default="fast",
        help=(
            "fast (default): a small network, minutes on a CPU; it resizes by repeating or skipping 24 px strips of"
            " the image at its own scale, with quilted joins, so shapes are not stretched. paper: the official"
            " defaults (a bilinear stretch G learns to undo; 75k iterations, meant for a GPU)"
        ),
    )
    train.add_argument("--iterations", type=int, default=None, help="override the preset's number of iterations")
    train.add_argument(
        "--max-size", type=int, default=250, help="shrink the image so its long side is at most this (default: 250)"
    )
    train.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    train.add_argument("--no-previews", action="store_true", help="do not write preview strips to OUT/previews/")
    add_device_argument(train)
    add_seed_argument(train)
    train.set_defaults(func=_train)

    retarget = commands.add_parser(
        "retarget",
        help="retarget a trained model's image",
        description="Retarget the image of MODEL (a folder written by `patchdna ingan train`). Combine any of "
        "--size, --scales, --collage, --video; or make a non-rectangular output with one of --homography, "
        "--affine, --shift (warps use normalised coordinates: the image spans -1..1 in x and y).",
    )
    retarget.add_argument("model", help="model folder")
    retarget.add_argument("--out", default="ingan_output", help="folder for the images (default: ingan_output)")
    retarget.add_argument("--size", type=parse_size, help="output HEIGHTxWIDTH in pixels, any size, e.g. 250x517")
    retarget.add_argument(
        "--scales",
        type=_parse_scale_pairs,
        help="factors relative to the input: '0.5,1,2' (same for height and width) or '1x0.5,1x2' (height x width)",
    )
    retarget.add_argument("--collage", action="store_true", help="a 5x5 grid of scales with the input in the centre")
    retarget.add_argument("--video", help="write continuous retargeting to this .mp4 or .gif file")
    retarget.add_argument("--frames", type=int, default=96, help="video frames (default: 96)")
    retarget.add_argument("--fps", type=float, default=24.0, help="video frames per second (default: 24)")
    retarget.add_argument(
        "--homography", type=parse_float_list, help="9 numbers: a forward 3x3 homography (row-major), input -> output"
    )
    retarget.add_argument(
        "--affine", type=parse_float_list, help="6 numbers a,b,c,d,e,f: x' = ax + by + c, y' = dx + ey + f"
    )
    retarget.add_argument(
        "--shift",
        type=parse_float_list,
        help="a,b: move the top-left / top-right corner right by these fractions of the width (InGAN's warp)",
    )
    retarget.add_argument(
        "--background",
        type=_parse_color,
        default=(1.0, 1.0, 1.0),
        help="warps only: 'transparent' (RGBA PNG), '#rrggbb' or 'r,g,b' (default: white)",
    )
    retarget.add_argument(
        "--tile", type=int, default=None, help="process in tiles of this many pixels (auto above 4 MP; for textures)"
    )
    add_device_argument(retarget)
    retarget.set_defaults(func=_retarget)
