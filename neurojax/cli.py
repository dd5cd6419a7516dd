"""The ``neurojax`` command.

``neurojax demo``
    simulate a recording with known artifacts, clean it with the default pipeline and print
    before/after scores against the ground truth.
``neurojax preprocess INPUT -o OUTPUT [--config pipeline.toml] [--report report.html]``
    clean a FIF/EDF/BDF/EEGLAB/BrainVision/.npz recording with the default chain of
    :mod:`neurojax.job` and write it as FIF or .npz (needs the ``io`` extra for MNE formats).

Errors (unreadable file, unsupported format, bad config) print one line and write nothing.
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
    prep = commands.add_parser("preprocess", help="clean a recording file with the default pipeline")
    prep.add_argument("input", help="recording: .fif, .edf, .bdf, .set, .vhdr or .npz")
    prep.add_argument("-o", "--output", required=True, help="cleaned recording to write: .fif or .npz")
    prep.add_argument("--config", help="TOML file overriding the defaults (see neurojax.config)")
    prep.add_argument("--report", help="write a QC report (self-contained HTML) here")
    prep.add_argument("--overwrite", action="store_true", help="replace existing output files")
    return parser


def _preprocess(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import io
    from .config import load_config
    from .job import preprocess_recording

    output = Path(args.output)
    if output.suffix.lower() not in (".fif", ".npz") and not output.name.lower().endswith(".fif.gz"):
        raise ValueError(f"output {output} must end in .fif or .npz")
    for target in filter(None, [output, args.report and Path(args.report)]):
        if target.exists() and not args.overwrite:
            raise FileExistsError(f"{target} exists; pass --overwrite to replace it")
    config = load_config(args.config)  # before reading: a bad config fails fast
    raw = io.read_raw(args.input)
    print(f"read {args.input}: {raw.n_channels} channels, {raw.n_times / raw.sfreq:.1f} s at {raw.sfreq:g} Hz", flush=True)
    cleaned, log = preprocess_recording(raw, config)
    for step, seconds in log.seconds.items():
        print(f"  {step:<14} {seconds:7.2f} s")
    bads = sum(log.bads.values(), [])
    print(f"bad channels: {bads or 'none'}; interpolated: {log.interpolated or 'none'}")
    for ch_type, fraction in log.asr_changed_fraction.items():
        print(f"ASR {ch_type}: {100 * fraction:.1f} % of samples changed")
    if log.ica is not None:
        print(f"ICA: excluded components {log.ica_excluded or 'none'}")
    # Everything succeeded: only now write, so a failure leaves no partial output.
    if output.suffix.lower() == ".npz":
        io.write_npz(output, cleaned)
    else:
        io.write_fif(output, cleaned, overwrite=args.overwrite)
    print(f"wrote {output}")
    if args.report:
        from .report import write_report

        write_report(args.report, raw, cleaned, log, source=str(args.input))
        print(f"wrote {args.report}")
    return 0


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
        return {"demo": _demo, "preprocess": _preprocess}[args.command](args)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"neurojax {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
