"""Benchmark: `validate_file` against the decode-only floor on a generated catalog.

    python bench/validate.py --rows 1000000 [--seed 0] [--file PATH] [--repeat 1]

The floor is one streaming, typed msgspec pass over the same file with the
GC paused, counting records: what any reader of the file must pay. Each
phase runs in its own subprocess so that its peak RSS is its own. The
catalog comes from `fixtures.generate` (kept in a temporary file) unless
`--file` names one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def phase(name: str, path: str) -> dict:
    """Run one phase in this process and return its figures (its peak RSS among them: the
    project is imported here, in the phase's own process, not at the top)."""
    sys.path.insert(0, str(ROOT))
    from catalog.load import gc_paused
    from catalog.model import record_decoder
    from catalog.validate import validate_file

    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_start = usage.ru_utime + usage.ru_stime
    start = time.perf_counter()
    if name == "decode":
        decode = record_decoder.decode
        records = 0
        with gc_paused(), open(path, "rb") as fh:
            for raw in fh:
                if raw.strip():
                    decode(raw)
                    records += 1
        extra = {"records": records}
    else:
        report = validate_file(path)
        extra = {"findings": len(report.findings), "errors": report.summary.errors}
    seconds = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_start
    return {"seconds": seconds, "cpu": cpu, "maxrss_kib": usage.ru_maxrss, **extra}


def run_phase(name: str, path: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", name, "--file", path],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="implementations to generate")
    parser.add_argument("--scale", type=int, default=0, help="also measure a catalog this many times larger")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--file", action="append", help="benchmark these catalogs instead (the first is the base)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per phase; the fastest counts")
    parser.add_argument("--phase", choices=["decode", "validate"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.file[0])))
        return

    made: list[str] = []
    paths = list(args.file or [])
    try:
        if not paths:
            sys.path.insert(0, str(ROOT))
            from fixtures.generate import generate

            for rows in [args.rows] + ([args.rows * args.scale] if args.scale else []):
                start = time.perf_counter()
                with tempfile.NamedTemporaryFile(
                    prefix="onething-bench-", suffix=".jsonl", delete=False
                ) as tmp:
                    made.append(tmp.name)
                    generate(tmp, rows, seed=args.seed)
                paths.append(tmp.name)
                print(f"generated {rows:,} implementations in {time.perf_counter() - start:.1f} s")
        runs: dict[tuple[str, str], list[dict]] = {}
        for _ in range(args.repeat):  # interleaved, so a noisy neighbour hits every phase alike
            for path in paths:
                for name in ("decode", "validate"):
                    runs.setdefault((path, name), []).append(run_phase(name, path))
        sizes = {path: os.path.getsize(path) for path in paths}
    finally:
        for path in made:
            os.unlink(path)

    fastest = {key: min(rs, key=lambda r: r["seconds"]) for key, rs in runs.items()}
    cpus = len(os.sched_getaffinity(0))
    print(
        f"machine: nproc {cpus}, Python {platform.python_version()} ({platform.python_implementation()}), {platform.machine()}"
    )
    print(f"{'catalog':<28} {'phase':<9} {'seconds':>8} {'cpu s':>7} {'records/s':>11} {'peak RSS':>10}")
    for path in paths:
        records = fastest[path, "decode"]["records"]
        label = f"{records:,} records, {sizes[path] / 2**20:.0f} MiB"
        for name in ("decode", "validate"):
            r = fastest[path, name]
            print(
                f"{label:<28} {name:<9} {r['seconds']:>8.2f} {r['cpu']:>7.2f} {records / r['seconds']:>11,.0f}"
                f" {r['maxrss_kib'] / 1024:>6.0f} MiB"
            )
            label = ""
        v, d = fastest[path, "validate"], fastest[path, "decode"]
        ratio = v["cpu"] / d["cpu"]
        memory = v["maxrss_kib"] / 1024
        met = "met" if ratio <= 1.5 and memory <= 256 else "NOT met"
        print(
            f"{'':<28} validate / decode floor: {v['seconds'] / d['seconds']:.2f}x wall, {ratio:.2f}x cpu"
            f" (target <= 1.5x cpu, <= 256 MiB: {met}); {v['errors']} errors, {v['findings']} findings"
        )
    base = paths[0]
    for path in paths[1:]:
        grow = fastest[path, "decode"]["records"] / fastest[base, "decode"]["records"]
        took = fastest[path, "validate"]["seconds"] / fastest[base, "validate"]["seconds"]
        floor = fastest[path, "decode"]["seconds"] / fastest[base, "decode"]["seconds"]
        cpu = fastest[path, "validate"]["cpu"] / fastest[base, "validate"]["cpu"]
        print(
            f"{grow:.1f}x the records: validate takes {took:.2f}x the time, {cpu:.2f}x the cpu"
            f" (decode floor {floor:.2f}x the time)"
        )
    if made:
        cmd = f"python bench/validate.py --rows {args.rows} --seed {args.seed}" + (
            f" --scale {args.scale}" if args.scale else ""
        )
    else:
        cmd = "python bench/validate.py " + " ".join(f"--file {p}" for p in paths)
    print(f"reproduce: cd {ROOT} && .venv/bin/{cmd} --repeat {args.repeat}")


if __name__ == "__main__":
    main()
