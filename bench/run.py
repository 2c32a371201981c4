"""Runs every benchmark and writes bench/results.json and bench/RESULTS.md.

Each bench_*.py runs in its own process (each sets up Django against its own
scratch database) and prints one JSON figure per line:
{name, value, unit, target, baseline}.
"""

import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SUITES = ["bench_audit.py", "bench_crypto.py"]


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_kb / 1024 / 1024:.0f} GiB, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def met(figure: dict) -> str:
    """Checks every clause of a target such as ">= 2000 and >= 0.5 x baseline"."""
    clauses = re.findall(r"(<=|>=)\s*([\d.]+)(\s*x\s*baseline)?", str(figure.get("target") or ""))
    if not clauses:
        return ""
    value = float(figure["value"])
    ok = True
    for op, number, relative in clauses:
        bound = float(number) * (float(figure["baseline"]) if relative else 1)
        ok &= value <= bound if op == "<=" else value >= bound
    return "yes" if ok else "**no**"


def main() -> None:
    figures = []
    for suite in SUITES:
        out = subprocess.run(
            [sys.executable, str(HERE / suite)], check=True, capture_output=True, text=True
        ).stdout
        figures += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    (HERE / "results.json").write_text(json.dumps(figures, indent=2) + "\n")
    when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        f"Run {when} on {machine()}, PostgreSQL from `make` (local cluster under var/).",
        "Written by `make bench` (bench/run.py); bench/results.json has the same figures.",
        "",
        "| figure | value | unit | target | met | baseline (same run) |",
        "|---|---|---|---|---|---|",
    ]
    for f in figures:
        baseline = "" if f.get("baseline") in (None, "") else f["baseline"]
        lines.append(
            f"| {f['name']} | {f['value']} | {f['unit']} | {f.get('target') or ''} | {met(f)} "
            f"| {baseline} |"
        )
    (HERE / "RESULTS.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
