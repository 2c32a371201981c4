"""The load test's arithmetic and /proc readings, with the standard library only.

bench/load/run.py (in locust's venv) uses them, and the project's tests check them
against the real things (django-otp's TOTP check, this process's CPU time)
without importing locust.
"""

import base64
import contextlib
import hashlib
import hmac
import os
import struct
from pathlib import Path

# p95 of every page of the mix at 50 users (issue 16).
TARGET_P95_MS = 150

# --- TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30 s steps; django-otp's defaults) ---------


def totp(secret_b32: str, step: int) -> str:
    key = base64.b32decode(secret_b32)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    code = (struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000
    return f"{code:06d}"


# --- server CPU from /proc --------------------------------------------------------------

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    found = []
    for task_dir in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task_dir / "children").read_text().split()]
    return found


def tree_cpu_ms(pid: int | None) -> float:
    """CPU time of a process, its live children, and its children that exited (reaped)."""
    if pid is None:
        return 0.0
    try:
        fields = _stat(pid)
        # utime, stime, cutime, cstime: fields 14-17 of /proc/pid/stat (1-based).
        total = sum(int(x) for x in fields[11:15])
        for child in children(pid):
            with contextlib.suppress(OSError):
                total += sum(int(x) for x in _stat(child)[11:13])
    except OSError:
        return 0.0
    return total * TICK_MS


def _pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def server_pids(var: Path) -> dict[str, int | None]:
    run = var / "run"
    return {
        "gunicorn": _pid_file(run / "gunicorn.pid"),
        "nginx": _pid_file(run / "nginx.pid"),
        "postgres": _pid_file(var / "pgdata" / "postmaster.pid"),
        "job worker": _pid_file(run / "worker.pid"),
    }


def cpu_snapshot(pids: dict[str, int | None]) -> dict[str, float]:
    return {name: tree_cpu_ms(pid) for name, pid in pids.items()}


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    values = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def figures(result: dict, *, pages: set[str]) -> list[dict]:
    """bench/results.json's load figures from a run's phases; ``pages``: the patient mix
    (sign-in and look-up requests are not pages of the target)."""
    steady, saturated, healthz = result["steady"], result["saturation"], result["healthz"]
    worst = max((p["p95_ms"] for name, p in steady["pages"].items() if name in pages), default=0.0)
    when = result["finished_at"]
    common = {"measured_at": when, "load_average": steady["load_average"]}
    cpu = steady["server_cpu_ms_per_request"]
    return [
        {
            "name": "load_p95_ms",
            "value": worst,
            "unit": f"ms (worst page's p95, {result['users']} users)",
            "target": f"<= {TARGET_P95_MS}",
            "baseline": None,
            "pages": steady["pages"],
            "seconds": steady["seconds"],
            **common,
        },
        {
            "name": "load_errors",
            "value": steady["errors"],
            "unit": "failed requests",
            "target": "<= 0",
            "baseline": None,
        },
        {
            "name": "load_rps",
            "value": steady["rps"],
            "unit": "requests/s (1-5 s think time)",
            "target": None,
            "baseline": None,
        },
        {
            "name": "load_cpu_ms_per_request",
            "value": round(sum(v or 0 for v in cpu.values()), 2),
            "unit": "ms of server CPU",
            "target": None,
            "baseline": None,
            "parts": cpu,
        },
        {
            "name": "load_saturation_rps",
            "value": saturated["rps"],
            "unit": "requests/s (no think time)",
            "target": None,
            "baseline": healthz["rps"],
            "pages": saturated["pages"],
            "errors": saturated["errors"],
            "cpu_ms_per_request": saturated["server_cpu_ms_per_request"],
        },
        {
            "name": "load_healthz_rps",
            "value": healthz["rps"],
            "unit": "requests/s",
            "target": None,
            "baseline": None,
            "errors": healthz["errors"],
        },
        {
            "name": "load_vs_healthz",
            "value": round(saturated["rps"] / healthz["rps"], 3) if healthz["rps"] else 0,
            "unit": "x",
            "target": None,
            "baseline": healthz["rps"],
        },
    ]
