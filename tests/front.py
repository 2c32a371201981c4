"""Start and stop scripts/serve.sh (nginx in front of gunicorn) for tests, as `make run` does.

The served process runs in a session of its own, so that stopping it also ends nginx and
gunicorn's workers, whatever state they are in.
"""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVE = ROOT / "scripts" / "serve.sh"
# What would change where or how the front listens: each test server sets its own.
ENV_DROPPED_PREFIXES = ("GUNICORN_",)
ENV_DROPPED = {"PORT", "PORTAL_LISTEN", "PORTAL_RUN_DIR", "PORTAL_TRUSTED_PROXY_COUNT"}


def start(*, app: str, port: int, run_dir: Path, log: Path, env: dict[str, str]):
    """Serve `app` at https://127.0.0.1:`port`; returns the Popen of serve.sh (then gunicorn)."""
    env = {
        **{
            name: value
            for name, value in env.items()
            if not name.startswith(ENV_DROPPED_PREFIXES) and name not in ENV_DROPPED
        },
        "PORT": str(port),
        "PORTAL_RUN_DIR": str(run_dir),
        "PYTHON": sys.executable,
        "GUNICORN_WORKERS": env.get("GUNICORN_WORKERS", "1"),
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(SERVE), app],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen) -> None:
    """gunicorn first (it finishes its requests), then whatever is left of the group."""
    if proc.poll() is None:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
