"""Every command's --help: it renders, and says each default once."""

from __future__ import annotations

import argparse
import re

from patchdna.cli import build_parser


def _all_parsers(parser: argparse.ArgumentParser, path: str = "patchdna"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _all_parsers(child, f"{path} {name}")


def test_every_help_states_each_default_once():
    seen = 0
    for path, parser in _all_parsers(build_parser()):
        text = " ".join(parser.format_help().split())
        assert not re.search(r"\(default: [^)]*\) \(default:", text), f"`{path} --help` repeats a default"
        assert "(default: None)" not in text, f"`{path} --help` shows a meaningless default"
        seen += 1
    assert seen >= 15  # the singan, ingan, instagan, eval, demo and ui commands were all walked
