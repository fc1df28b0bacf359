"""The ``segfix`` command line: ``main(argv=None)`` so tests call it in-process.

Each sub-command is a module of this package with ``add_parser(subparsers)``, which
sets ``func`` to a ``run(args) -> int`` function. Bad input raises
:class:`~segfix_gui.errors.InputError`; ``main`` prints its one line and returns 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import InputError
from ._common import os_error_line

# module names, in the order ``segfix --help`` lists them
COMMANDS = (
    "refine",
    "gt_offsets",
    "evaluate",
    "degrade",
    "sweep",
    "predict_offsets",
    "train",
    "refine_instances",
    "evaluate_instances",
)


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(prog="segfix", description="SegFix boundary refinement for whole folders.")
    parser.add_argument("--version", action="version", version=f"segfix-gui {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..io.atomic import Terminated, terminate_cleanly

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with terminate_cleanly():  # SIGTERM unwinds like Ctrl-C: no temporary file is left
            return int(args.func(args) or 0)
    except InputError as err:
        print(f"segfix: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a folder that cannot be listed, a file that cannot be read
        print(f"segfix: error: {os_error_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("segfix: interrupted", file=sys.stderr)
        return 130
    except Terminated as sig:
        print("segfix: terminated", file=sys.stderr)
        return 128 + sig.signum


def entry() -> None:  # console script
    sys.exit(main())
