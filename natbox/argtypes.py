"""Argument checking for the host CLI: a bad value is one line naming the argument and exit
status 2, before anything is built or started; never a traceback.

``OneLineParser`` is the parser class of ``natbox`` and all its subcommands (argparse's
subparsers inherit it); the ``type=`` functions below refuse impossible values at parse time.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from pathlib import Path
from typing import NoReturn


class OneLineParser(argparse.ArgumentParser):
    """argparse prints the whole usage before the error; one line is what a script's log and
    a person both read. ``--help`` still shows the usage."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def refuse(prog: str, message: str) -> int:
    """A bad argument found after parsing (it depends on another one): the same one line."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 2


def int_in(low: int, high: int, why: str = ""):
    def parse(text: str) -> int:
        if not re.fullmatch(r"-?[0-9]+", text.strip()):
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
        value = int(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in {low}..{high}{why}")
        return value

    parse.__name__ = "number"  # argparse names the type in some messages
    return parse


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds")
    return value


def existing_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    return path


def existing_dir(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no such directory")
    return path


def matching(pattern: str, what: str):
    compiled = re.compile(pattern)

    def parse(text: str) -> str:
        if not compiled.fullmatch(text):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return text

    parse.__name__ = what
    return parse


PORT = int_in(1, 65535)
PORT_OR_ZERO = int_in(0, 65535, " (0: a free port)")


def listed_choices(choices):
    """A comma-separated list, each word one of ``choices``: ``--protocols pptp,ikev2``."""
    allowed = list(choices)

    def parse(text: str) -> list[str]:
        words = [w for w in re.split(r"[,\s]+", text) if w]
        wrong = [w for w in words if w not in allowed]
        if not words or wrong:
            raise argparse.ArgumentTypeError(
                f"{(wrong or [text])[0]!r}: expected some of {', '.join(allowed)}"
            )
        return words

    parse.__name__ = "list"
    return parse
