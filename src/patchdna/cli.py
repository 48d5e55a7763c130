"""`patchdna` command line: a thin layer that parses, calls one API function, and reports.

Every user mistake surfaces as a `PatchDNAError`, printed as one line `patchdna: error: ...` with exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from patchdna.errors import PatchDNAError

# Each module defines `register(subparsers)` adding its subcommands; each parser sets `func=callable(args)`.
COMMAND_MODULES = (
    "patchdna.singan.cli",
    "patchdna.ingan.cli",
    "patchdna.instagan.cli",
    "patchdna.metrics.cli",
    "patchdna.demo",
    "patchdna.ui",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patchdna",
        description="Learn the patch statistics ('DNA') of images with GANs: SinGAN (one image -> variations, "
        "any size, super-resolution, harmonization, editing, animation), InGAN (retarget to any size or shape) "
        "and InstaGAN (instance-aware translation between two image sets).",
        epilog="Run `patchdna COMMAND --help` for the options of each command. Start with `patchdna demo`.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name is not None and name.startswith(error.name):
                continue  # that family is not part of this build
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except PatchDNAError as error:
        print(f"patchdna: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("patchdna: interrupted; finished work is saved (use --resume to continue training)", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
