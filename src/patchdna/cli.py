"""`patchdna` command line: a thin layer that parses, calls one API function, and reports.

Every user mistake surfaces as a `PatchDNAError`, printed as one line `patchdna: error: ...` with exit code 2.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import sys
from collections.abc import Sequence

from patchdna.errors import PatchDNAError

# Each module defines `register(subparsers)` adding the command named here (and its subcommands); each parser
# sets `func=callable(args)`.
COMMAND_MODULES = {
    "singan": "patchdna.singan.cli",
    "ingan": "patchdna.ingan.cli",
    "instagan": "patchdna.instagan.cli",
    "eval": "patchdna.metrics.cli",
    "demo": "patchdna.demo",
    "ui": "patchdna.ui",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The full parser, or with `command` (a key of COMMAND_MODULES) one that knows only that command.

    Importing every family costs about 0.3 s of CPU beyond torch, noticeable for a quick `patchdna eval`."""
    parser = argparse.ArgumentParser(
        prog="patchdna",
        description="Learn the patch statistics ('DNA') of images with GANs: SinGAN (one image -> variations, "
        "any size, super-resolution, harmonization, editing, animation), InGAN (retarget to any size or shape) "
        "and InstaGAN (instance-aware translation between two image sets).",
        epilog="Run `patchdna COMMAND --help` for the options of each command. Start with `patchdna demo`.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    names = [COMMAND_MODULES[command]] if command in COMMAND_MODULES else COMMAND_MODULES.values()
    registered = 0
    for name in names:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name is not None and name.startswith(error.name):
                continue  # that family is not part of this build
            raise
        module.register(subparsers)
        registered += 1
    if command is not None and not registered:  # not in this build: let the full parser list what is
        return build_parser()
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    as_program = argv is None
    argv = sys.argv[1:] if argv is None else list(argv)
    # Only the command being run is imported; --help, no command or an unknown one build the full parser.
    parser = build_parser(argv[0] if argv else None)
    if as_program:
        # torch and the command's modules stay loaded until the process exits: move them out of the garbage
        # collector's sight so no full collection walks them again, including the one at shutdown (about
        # 0.3 s of CPU per command). Not when called from Python (tests), whose later garbage it would keep.
        gc.freeze()
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
