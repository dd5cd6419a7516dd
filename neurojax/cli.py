"""The ``neurojax`` command.

``neurojax demo``
    simulate a recording with known artifacts, clean it with the default pipeline and print
    before/after scores against the ground truth.
``neurojax preprocess INPUT -o OUTPUT [--config pipeline.toml] [--report report.html] [--chunk-duration S]``
    clean a FIF/EDF/BDF/EEGLAB/BrainVision/.npz recording with the default chain of
    :mod:`neurojax.job` and write it as FIF or .npz (needs the ``io`` extra for MNE formats).
    The file is read lazily and cleaned in blocks of ``S`` seconds (``auto``: one pass when it
    fits comfortably in memory, else 60 s); the output is the same either way.

Errors (unreadable file, unsupported format, bad config) print one line and write nothing.
"""

from __future__ import annotations

import argparse
import sys
import time

from . import __version__

__all__ = ["main", "build_parser", "ProgressBar"]


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
    prep.add_argument("--chunk-duration", default="auto", metavar="SECONDS",
                      help="clean in blocks of this many seconds; 'auto' (default): one pass if the recording "
                           "fits comfortably in memory, else 60 s blocks; the output is the same either way")
    return parser


def _chunk_duration(value: str) -> float | None:
    if value == "auto":
        return -1.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    if not seconds > 0:
        raise ValueError(f"--chunk-duration must be a positive number of seconds or 'auto', got {value!r}")
    return seconds


class ProgressBar:
    """A progress bar with time left: redrawn in place on a terminal, one line per 10 % otherwise."""

    def __init__(self, label: str, stream=None, width: int = 30):
        self.label, self.stream, self.width = label, stream or sys.stdout, width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.perf_counter()
        self.last_decile = 0

    def __call__(self, fraction: float) -> None:
        elapsed = time.perf_counter() - self.start
        left = elapsed * (1 - fraction) / fraction if fraction > 0 else float("nan")
        filled = int(round(self.width * fraction))
        text = f"  {self.label} [{'#' * filled}{'.' * (self.width - filled)}] {100 * fraction:5.1f} %  {elapsed:6.1f} s, ~{left:.0f} s left"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if fraction >= 1 else ""))
            self.stream.flush()
        elif int(fraction * 10) > self.last_decile or fraction >= 1:
            self.last_decile = int(fraction * 10)
            print(text, file=self.stream, flush=True)


def _preprocess(args: argparse.Namespace) -> int:
    from pathlib import Path

    from . import io
    from .config import load_config
    from .job import auto_chunk_duration, preprocess_to_file

    output = Path(args.output)
    if output.suffix.lower() not in (".fif", ".npz") and not output.name.lower().endswith(".fif.gz"):
        raise ValueError(f"output {output} must end in .fif or .npz")
    for target in filter(None, [output, args.report and Path(args.report)]):
        if target.exists() and not args.overwrite:
            raise FileExistsError(f"{target} exists; pass --overwrite to replace it")
    config = load_config(args.config)  # before reading: a bad config fails fast
    chunk = _chunk_duration(args.chunk_duration)
    raw = io.read_raw(args.input, preload=False)
    chunk = auto_chunk_duration(raw) if chunk == -1.0 else chunk
    blocks = "one pass" if chunk is None else f"blocks of {chunk:g} s"
    print(f"read {args.input}: {raw.n_channels} channels, {raw.n_times / raw.sfreq:.1f} s at {raw.sfreq:g} Hz ({blocks})", flush=True)
    started = time.perf_counter()
    bar = ProgressBar("clean")

    def progress(step: str) -> None:
        print(f"  [{time.perf_counter() - started:7.1f} s] {step} ...", flush=True)
        if step == "clean":
            bar.start = time.perf_counter()

    # Blocks are written to a temporary file and only turned into OUTPUT once every step succeeded.
    before, cleaned, log = preprocess_to_file(raw, config, output, overwrite=args.overwrite, progress=progress,
                                              advance=bar, chunk_duration=chunk)
    print("  time per step: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in log.seconds.items()))
    bads = sum(log.bads.values(), [])
    print(f"bad channels: {bads or 'none'}; interpolated: {log.interpolated or 'none'}")
    for ch_type, fraction in log.asr_changed_fraction.items():
        print(f"ASR {ch_type}: {100 * fraction:.1f} % of samples changed")
    if log.ica is not None:
        print(f"ICA: excluded components {log.ica_excluded or 'none'}")
    print(f"wrote {output}")
    if args.report:
        from .report import write_report

        write_report(args.report, before, cleaned, log, source=str(args.input))
        print(f"wrote {args.report}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from ._demo import format_demo, run_demo

    try:
        rec, _, rows = run_demo(args.channels, args.sfreq, args.duration, args.seed)
    except ValueError as err:
        if "too short" not in str(err):
            raise
        # ASR calibrates on the clean windows only: a short simulation leaves too few of them.
        raise ValueError(f"--duration {args.duration:g} s leaves too little clean data to calibrate ASR; "
                         f"use --duration 30 or more ({err})") from err
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
