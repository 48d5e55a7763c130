"""Argument helpers shared by the family subcommands (sizes, scales, device, seed)."""

from __future__ import annotations

import argparse
import re

from patchdna.device import DEVICE_CHOICES

__all__ = ["DefaultsHelpFormatter", "add_device_argument", "add_seed_argument", "parse_float_list", "parse_size"]


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where the help already says it or there is none to show.

    argparse's own formatter appends "(default: None)" after "(default: the model's)" for optional values.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        help_text = action.help or ""
        if "(default:" in help_text or action.default is None:
            return help_text
        return super()._get_help_string(action)


_SIZE = re.compile(r"^\s*(\d+)\s*[xX,]\s*(\d+)\s*$")


def parse_size(text: str) -> tuple[int, int]:
    """'HxW' (also 'H,W') -> (H, W), both positive; argparse turns the ValueError into a usage error."""
    match = _SIZE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"size must look like HEIGHTxWIDTH, e.g. 200x300; got {text!r}")
    height, width = int(match.group(1)), int(match.group(2))
    if height < 1 or width < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return height, width


def parse_float_list(text: str) -> list[float]:
    """'0.5,1,2' -> [0.5, 1.0, 2.0]."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from error
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        default="auto",
        choices=DEVICE_CHOICES,
        # "%(default)s" (not the literal value) stops ArgumentDefaultsHelpFormatter from adding it a second time
        help="where to run: auto picks CUDA, then Apple MPS, then CPU (default: %(default)s)",
    )


def add_seed_argument(parser: argparse.ArgumentParser, default: int | None = 0) -> None:
    parser.add_argument(
        "--seed",
        type=int,
        default=default,
        help="random seed; the same seed, device and inputs give the same result (default: %(default)s)",
    )
