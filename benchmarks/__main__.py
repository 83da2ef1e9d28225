"""``python -m benchmarks [--quick] [--only NAME ...]``: run the benchmarks, print one table."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import platform
import sys
import time
from collections.abc import Sequence

from benchmarks import BenchResult, Figure, format_table

# name -> module; web_bench belongs to the web archive's owner and is run when present.
BENCHMARKS = {
    "capture": "benchmarks.capture_bench",
    "transcript": "benchmarks.transcript_bench",
    "live": "benchmarks.live_bench",
    "import": "benchmarks.import_bench",
    "schedule": "benchmarks.schedule_bench",
    "faults": "benchmarks.fault_bench",
    "web": "benchmarks.web_bench",
}


def machine() -> str:
    """``2 cores, AMD EPYC, Python 3.11.7``: what the figures were measured on."""
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} cores (nproc), {cpu}, Python {platform.python_version()}"


def run_one(name: str, quick: bool) -> BenchResult:
    """Run one benchmark; a missing module or a crash becomes a row, not a traceback."""
    try:
        module = importlib.import_module(BENCHMARKS[name])
    except ModuleNotFoundError as exc:
        result = BenchResult(name)
        result.add("(not run)", f"n/a ({exc.name} is missing)")
        return result
    try:
        result: BenchResult = module.run(quick=quick)
        return result
    except Exception as exc:
        logging.getLogger(__name__).exception("benchmark %s failed", name)
        failed = BenchResult(name)
        failed.add("(failed)", f"{type(exc).__name__}: {exc}"[:120], ok=False)
        return failed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "--quick", action="store_true", help="small sizes and short runs (about a minute)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only these ({', '.join(BENCHMARKS)})",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    names = args.only or list(BENCHMARKS)
    figures: list[Figure] = []
    failed_checks: list[str] = []
    for name in names:
        print(f"running {name}...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        result = run_one(name, args.quick)
        figures += result.figures
        failed_checks += [f"{name}: {check}" for check, ok in result.checks.items() if not ok]
        print(f"  {name} took {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    print(f"\nMachine: {machine()}{' (quick mode)' if args.quick else ''}\n")
    print(format_table(figures))
    if failed_checks:
        print("\nCorrectness checks FAILED:\n  " + "\n  ".join(failed_checks))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
