"""`patchdna demo`: the main job on the bundled image, end to end, in a few minutes on a CPU.

Trains the fast SinGAN preset on the bundled public-domain image, then writes random samples at several
sizes and aspect ratios, the reconstruction, a sample sheet and an animation into one folder.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from torch import Tensor

from patchdna.assets import DEFAULT_IMAGE
from patchdna.cli_args import DefaultsHelpFormatter, add_device_argument, add_seed_argument
from patchdna.device import resolve_device
from patchdna.io import save_image
from patchdna.singan import SinGAN, preset, reconstruction, sample, train
from patchdna.video import image_grid

__all__ = ["register", "run_demo"]

DEMO_SIZES = {"1x1": (1.0, 1.0), "wide_1x2": (1.0, 2.0), "tall_2x1": (2.0, 1.0), "small_0.5x0.75": (0.5, 0.75)}


def run_demo(
    out: str | Path,
    *,
    image: str | Path = DEFAULT_IMAGE,
    device: str = "auto",
    seed: int = 0,
    iterations: int | None = None,
    show_progress: bool = True,
) -> Path:
    """Train, sample and animate into `out`; returns the folder. `iterations` shortens training (tests)."""
    out = Path(out)
    config = preset("fast", **({"iterations": iterations} if iterations else {}))
    started = time.perf_counter()
    model = train(
        image,
        out / "model",
        config=config,
        device=resolve_device(device),
        seed=seed,
        resume=True,
        show_progress=show_progress,
    )
    trained_in = time.perf_counter() - started
    sheet: list[Tensor] = []
    for name, (scale_h, scale_w) in DEMO_SIZES.items():
        images = sample(model, 4, scale_h=scale_h, scale_w=scale_w, seed=seed)
        for index, picture in enumerate(images):
            save_image(picture, out / "samples" / f"{name}_{index}.png")
        sheet.extend(picture[None] for picture in images[:2])
    save_image(reconstruction(model), out / "reconstruction.png")
    save_image(image_grid(sheet, columns=4), out / "samples_sheet.png")
    animation = _animate(model, out / "animation.gif", seed)
    if show_progress:
        print(
            f"trained in {trained_in:.0f} s; samples in {out / 'samples'}, sheet {out / 'samples_sheet.png'}"
            + (f", animation {animation}" if animation else "")
        )
    return out


def _animate(model: SinGAN, path: Path, seed: int) -> Path | None:
    """The paper's random-walk animation, when the applications module is installed."""
    try:
        from patchdna.singan.animation import animate
    except ImportError:
        return None
    animate(model, path, frames=40, fps=10, seed=seed)
    return path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="train on the bundled image and write samples and an animation (a few minutes on a CPU)",
        description="The main job end to end: train the fast SinGAN preset on the bundled public-domain image "
        "(Hubble eXtreme Deep Field, NASA), then write samples at several sizes, the reconstruction, a sample "
        "sheet and an animation into --out. Re-running continues or reuses the trained model.",
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument("--out", default="demo_output", help="output folder")
    parser.add_argument("--image", default=str(DEFAULT_IMAGE), help="train on this image instead of the bundled one")
    parser.add_argument("--iterations", type=int, help="iterations per scale (default: the fast preset's)")
    add_device_argument(parser)
    add_seed_argument(parser)
    parser.set_defaults(
        func=lambda args: (
            run_demo(args.out, image=args.image, device=args.device, seed=args.seed, iterations=args.iterations) and 0
        )
    )
