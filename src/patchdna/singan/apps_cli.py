"""`patchdna singan sr | paint | harmonize | edit | animate`: thin wrappers over the application API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from patchdna.cli_args import DefaultsHelpFormatter, add_device_argument, add_seed_argument
from patchdna.device import resolve_device
from patchdna.errors import ConfigError
from patchdna.io import IMAGE_SUFFIXES, load_image, save_image
from patchdna.singan.animation import animate, is_animation_model, train_for_animation
from patchdna.singan.config import PRESETS, preset
from patchdna.singan.harmonize import edit, harmonize
from patchdna.singan.model import load_singan
from patchdna.singan.paint import paint_to_image
from patchdna.singan.superres import DEFAULT_DETAIL, super_resolve

__all__ = ["APP_COMMANDS"]

_FORMATTER = DefaultsHelpFormatter
_START_SCALE_HELP = (
    "scale (0 = coarsest .. number of scales - 1) at which the input is injected; lower changes more "
    "(layout and colours), higher keeps more of the input and changes only texture. Models of the default "
    "`fast` preset take an image only from their first image scale (scale 4 of 7 for a 250 px photo; a lower "
    "value is refused with a message naming it); train with --preset diverse to start lower"
)


def _add_sr(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sr",
        help="super-resolve an image (trains on the image itself)",
        description="Super-resolution by the SinGAN paper's procedure: train on IMAGE with the SR settings "
        "(alpha 100, coarsest side 18 px, scale step r = s^(1/k)), then apply the finest generator k times. "
        "By default each step keeps 0.7 of the generated change and is back-projected onto the input, which "
        "keeps PSNR near bicubic's while adding detail; --paper-loop runs the paper's loop unchanged. "
        "Example: patchdna singan sr photo.png --factor 4 --out photo_x4.png",
        formatter_class=_FORMATTER,
    )
    parser.add_argument("image", help="the low-resolution image (trained at its own resolution)")
    parser.add_argument("--factor", type=float, default=4.0, help="upscaling factor s, any value in 1..16")
    parser.add_argument("--out", required=True, help="output image file (.png, .jpg, ...)")
    parser.add_argument("--model", help="use this SR model folder instead of training (from --model-out)")
    parser.add_argument("--model-out", help="keep the trained SR model in this folder (default: not kept)")
    parser.add_argument("--preset", default="diverse", choices=sorted(PRESETS), help="base training preset")
    parser.add_argument("--iterations", type=int, help="override the preset's iterations per scale")
    parser.add_argument(
        "--detail",
        type=float,
        default=DEFAULT_DETAIL,
        help="fraction of each step's generated change to keep, in (0, 1]: higher = sharper, more invented detail",
    )
    parser.add_argument(
        "--no-consistency",
        action="store_true",
        help="do not back-project each step onto the input (colours and layout may drift)",
    )
    parser.add_argument("--paper-loop", action="store_true", help="the paper's loop: --detail 1 --no-consistency")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    add_device_argument(parser)
    add_seed_argument(parser)
    parser.set_defaults(func=_sr)


def _sr(args: argparse.Namespace) -> int:
    _check_image_suffix(args.out)
    config = preset(args.preset, **({"iterations": args.iterations} if args.iterations is not None else {}))
    result = super_resolve(
        load_image(args.image),
        args.factor,
        device=resolve_device(args.device),
        seed=args.seed,
        config=config,
        out=args.model_out,
        model=args.model,
        show_progress=not args.quiet,
        detail=1.0 if args.paper_loop else args.detail,
        consistency=not (args.paper_loop or args.no_consistency),
    )
    save_image(result, args.out)
    print(f"wrote {result.shape[-1]}x{result.shape[-2]} super-resolved image to {args.out}")
    return 0


def _add_paint(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "paint",
        help="turn a rough colour painting into an image of the model",
        description="Paint-to-image: PAINT (any size; resized to the model's size) is injected at --start-scale "
        "and generated upwards. Example: patchdna singan paint runs/cows cows_paint.png --start-scale 2 "
        "--quantize --out cows_out.png",
        formatter_class=_FORMATTER,
    )
    parser.add_argument("model", help="model folder written by `patchdna singan train`")
    parser.add_argument("paint", help="the painting (PNG, JPEG, ...)")
    parser.add_argument("--start-scale", type=int, required=True, help=_START_SCALE_HELP)
    parser.add_argument(
        "--quantize",
        action="store_true",
        help="map the paint to k-means colours of the real image and retrain the start scale on such inputs "
        "first (slower, truer colours)",
    )
    parser.add_argument("--colors", type=int, default=5, help="number of k-means colours with --quantize")
    parser.add_argument("--iterations", type=int, help="retraining steps with --quantize (default: the model's)")
    parser.add_argument("--out", required=True, help="output image file")
    add_device_argument(parser)
    add_seed_argument(parser)
    parser.set_defaults(func=_paint)


def _paint(args: argparse.Namespace) -> int:
    _check_image_suffix(args.out)
    model = load_singan(args.model, device=resolve_device(args.device))
    result = paint_to_image(
        model,
        load_image(args.paint),
        start_scale=args.start_scale,
        quantize=args.quantize,
        colors=args.colors,
        seed=args.seed,
        iterations=args.iterations,
        show_progress=True,
    )
    save_image(result, args.out)
    print(f"wrote {args.out}")
    return 0


def _add_blend_command(commands: argparse._SubParsersAction, name: str) -> None:
    is_harmonize = name == "harmonize"
    what = "NAIVE (the image with an object pasted in)" if is_harmonize else "EDITED (the image after your edit)"
    parser = commands.add_parser(
        name,
        help="blend a pasted object into the image's style" if is_harmonize else "make an image edit seamless",
        description=f"{name.capitalize()}: {what} of any size is resized to the model's size, injected at "
        "--start-scale and regenerated; inside the dilated, blurred mask the output is the generation, outside "
        f"it is your image. Writes OUT (the blend) and the raw generation beside it. Example: patchdna singan "
        f"{name} runs/starry starry_naive.png --mask starry_mask.png --start-scale 3 --out starry_out.png",
        formatter_class=_FORMATTER,
    )
    parser.add_argument("model", help="model folder trained on the background image")
    parser.add_argument("reference", metavar="NAIVE" if is_harmonize else "EDITED", help=what)
    parser.add_argument(
        "--mask",
        required=True,
        help="mask image, white = the region to regenerate; any size, 8-bit gray, RGB or the alpha channel of a PNG",
    )
    parser.add_argument("--start-scale", type=int, required=True, help=_START_SCALE_HELP)
    parser.add_argument(
        "--fine-tune",
        action="store_true",
        help=f"first fine-tune the finest scale on this {'naive' if is_harmonize else 'edited'} image (slower)",
    )
    parser.add_argument("--fine-tune-iterations", type=int, help="fine-tuning steps (default: the model's)")
    parser.add_argument("--out", required=True, help="output file for the masked blend")
    parser.add_argument("--raw-out", help="output file for the raw generation (default: OUT with a _raw suffix)")
    add_device_argument(parser)
    add_seed_argument(parser)
    parser.set_defaults(func=_blend)


def _blend(args: argparse.Namespace) -> int:
    _check_image_suffix(args.out)
    out = Path(args.out)
    raw_out = Path(args.raw_out) if args.raw_out else out.with_name(f"{out.stem}_raw{out.suffix}")
    model = load_singan(args.model, device=resolve_device(args.device))
    reference = load_image(args.reference)
    blend = harmonize if args.singan_command == "harmonize" else edit
    result = blend(
        model,
        reference,
        args.mask,
        start_scale=args.start_scale,
        fine_tune=args.fine_tune,
        seed=args.seed,
        fine_tune_iterations=args.fine_tune_iterations,
        show_progress=True,
    )
    save_image(result.blended, out)
    save_image(result.raw, raw_out)
    print(f"wrote {out} (blend) and {raw_out} (raw generation)")
    return 0


def _add_animate(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "animate",
        help="write an MP4 or GIF animation of a random walk in noise space",
        description="Animation: a smooth random walk around the reconstruction noise, decoded frame by frame. "
        "MODEL is a model folder, or an image: then a model is first trained on it with the paper's animation "
        "settings (alpha 100, noise padding). Example: patchdna singan animate lightning.png --out lightning.mp4",
        formatter_class=_FORMATTER,
    )
    parser.add_argument("model", help="model folder, or an image to train an animation model on")
    parser.add_argument("--out", required=True, help="output video: .mp4 (H.264) or .gif")
    parser.add_argument("--frames", type=int, default=100, help="number of frames")
    parser.add_argument("--fps", type=float, default=10.0, help="frames per second")
    parser.add_argument("--alpha", type=float, default=0.1, help="pull towards the original image, 0..1")
    parser.add_argument("--beta", type=float, default=0.9, help="momentum of the walk, 0..1 (paper: 0.80-0.95)")
    parser.add_argument("--start-scale", type=int, default=0, help="first scale that moves (0 = coarsest)")
    parser.add_argument(
        "--retrain",
        action="store_true",
        help="when MODEL was trained without the animation settings, retrain on its stored image with them",
    )
    parser.add_argument("--model-out", help="where to keep a model trained by this command (default: not kept)")
    parser.add_argument("--preset", default="diverse", choices=sorted(PRESETS), help="base preset when training here")
    parser.add_argument("--iterations", type=int, help="iterations per scale when training here")
    add_device_argument(parser)
    add_seed_argument(parser)
    parser.set_defaults(func=_animate)


def _animate(args: argparse.Namespace) -> int:
    if Path(args.out).suffix.lower() not in (".mp4", ".gif"):
        raise ConfigError(f"--out must end in .mp4 or .gif, got {args.out!r}")
    device = resolve_device(args.device)
    config = preset(args.preset, **({"iterations": args.iterations} if args.iterations is not None else {}))
    source = Path(args.model)
    if source.is_file() and source.suffix.lower() in IMAGE_SUFFIXES:
        model = train_for_animation(source, args.model_out, config=config, device=device, seed=args.seed)
    else:
        model = load_singan(source, device=device)
        if not is_animation_model(model):
            if args.retrain:
                config = model.config if args.iterations is None else model.config.replace(iterations=args.iterations)
                model = train_for_animation(model, args.model_out, config=config, device=device, seed=args.seed)
            else:
                print(
                    f"note: {source} was trained without the animation settings (noise padding, alpha 100); "
                    "borders may stay still. Pass --retrain, or the image instead of the folder.",
                    file=sys.stderr,
                )
    video = animate(
        model,
        args.out,
        frames=args.frames,
        fps=args.fps,
        alpha=args.alpha,
        beta=args.beta,
        start_scale=args.start_scale,
        seed=args.seed,
    )
    print(f"wrote {len(video)} frames of {video.shape[-1]}x{video.shape[-2]} to {args.out}")
    return 0


def _check_image_suffix(path: str) -> None:
    if Path(path).suffix.lower() not in IMAGE_SUFFIXES:
        raise ConfigError(f"output {path!r} needs an image suffix ({', '.join(IMAGE_SUFFIXES)})")


APP_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_sr,
    _add_paint,
    lambda commands: _add_blend_command(commands, "harmonize"),
    lambda commands: _add_blend_command(commands, "edit"),
    _add_animate,
]
