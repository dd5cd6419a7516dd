"""The ``neurojax`` command.

``neurojax demo``
    simulate a recording with known artifacts, clean it with the default pipeline and print
    before/after scores against the ground truth.
"""

from __future__ import annotations

import argparse
import sys

from . import __version__

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="neurojax", description="Differentiable M/EEG preprocessing in JAX.")
    parser.add_argument("--version", action="version", version=f"neurojax {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="clean a simulated recording with known artifacts and print before/after metrics")
    demo.add_argument("--channels", type=int, default=32, help="number of EEG channels (default 32)")
    demo.add_argument("--sfreq", type=float, default=250.0, help="sampling rate in Hz (default 250)")
    demo.add_argument("--duration", type=float, default=60.0, help="length in seconds (default 60)")
    demo.add_argument("--seed", type=int, default=0, help="simulation seed (default 0)")
    return parser


def _demo(args: argparse.Namespace) -> int:
    from ._demo import format_demo, run_demo

    rec, _, rows = run_demo(args.channels, args.sfreq, args.duration, args.seed)
    print(format_demo(rec, rows))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return {"demo": _demo}[args.command](args)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"neurojax {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
