"""`make load`: patients walking the portal, driven by locust against a running `make run`.

Runs in its own virtualenv (var/locust/venv, bench/load/requirements.txt): locust
gevent-patches the interpreter, so nothing here imports Django or the project;
TOTP codes are computed with the standard library (RFC 6238, as django-otp checks
them). Only the load-test accounts of var/demo_accounts.json are used.

Phases, one locust run, the same users throughout:

1. sign-in: LOAD_USERS patients (default 50) start at LOAD_SPAWN_RATE a second (2),
   sign in (password, then the authenticator's code) and look up their lab trend,
   thread and visit type. Each patient signs in once, with no failure, so
   neither django-axes (which counts failed passwords per username and address)
   nor the code throttle (failed codes per device) comes into play.
2. steady: LOAD_SECONDS (300) of the page mix with 1-5 s of think time.
3. saturation: LOAD_SATURATION_SECONDS (30) of the same mix with no think time.
4. healthz: as long again, every user asking /healthz with no think time and no
   cookie: the floor the page mix is compared with (one query, no session).

Between phases LOAD_SETTLE_SECONDS (5) pass unrecorded while the users change pace.
For each recorded phase: per-page p50/p95/p99, errors, requests per second, and
the CPU time the server's processes (gunicorn, nginx, PostgreSQL, the job worker)
spent, read from /proc before and after, per request. LOAD_PROFILE=1 also runs
py-spy on each gunicorn worker through the steady phase (var/locust/profile-*.txt,
collapsed stacks).

Writes var/locust/load.json (everything) and var/locust/figures.json (the
figures bench/run.py merges into bench/results.json and RESULTS.md).
"""

import gevent.monkey

gevent.monkey.patch_all()

import datetime as dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import ssl  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from locust import FastHttpUser, events, task  # noqa: E402
from locust.env import Environment  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadlib import children as _children  # noqa: E402
from loadlib import (  # noqa: E402
    cpu_snapshot,
    figures,
    machine_busy,
    percentile,
    server_pids,
    totp,
)

ROOT = Path(__file__).resolve().parents[2]
VAR = Path(os.environ.get("PORTAL_VAR_DIR") or ROOT / "var")
OUT = VAR / "locust"
BASE_URL = os.environ.get("LOAD_URL") or f"https://localhost:{os.environ.get('PORT', '8443')}"
CA_BUNDLE = os.environ.get("LOAD_CA") or str(VAR / "tls" / "cert.pem")
USERS = int(os.environ.get("LOAD_USERS", "50"))
SPAWN_RATE = float(os.environ.get("LOAD_SPAWN_RATE", "2"))
STEADY = float(os.environ.get("LOAD_SECONDS", "300"))
SATURATION = float(os.environ.get("LOAD_SATURATION_SECONDS", "30"))
SETTLE = float(os.environ.get("LOAD_SETTLE_SECONDS", "5"))
PROFILE = os.environ.get("LOAD_PROFILE", "") == "1"
THINK = (1.0, 5.0)

# The patient's walk: page name -> weight. URLs that need an id come from sign-in.
MIX = {
    "home": 3,
    "labs": 2,
    "lab trend": 2,
    "medicines": 1,
    "visits": 1,
    "inbox": 2,
    "thread": 1,
    "slot search": 1,
}
STATIC_PAGES = {
    "home": "/patient/",
    "labs": "/patient/records/labs/",
    "medicines": "/patient/records/medications/",
    "visits": "/patient/records/visits/",
    "inbox": "/patient/messages/",
}
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TREND = re.compile(r'href="(/patient/records/labs/[\w-]+/)"')
THREAD = re.compile(r'href="(/patient/messages/[0-9a-f-]{36}/)"')
VISIT_TYPE = re.compile(r'<select name="visit_type"[^>]*>.*?<option value="([^"]+)"', re.S)


# --- what the run records -------------------------------------------------------------


class Recorder:
    """Response times by phase and page; locust's own stats are not used."""

    def __init__(self) -> None:
        self.phase = "sign-in"
        self.times: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        self.errors: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.error_kinds: dict[str, int] = defaultdict(int)

    def on_request(self, name, response_time, exception, **_kwargs) -> None:
        if self.phase == "settle":
            return
        self.times[self.phase][name].append(response_time)
        if exception is not None:
            self.errors[self.phase][name] += 1
            # The kind only (status, exception class): nothing of the page.
            self.error_kinds[f"{self.phase} {name}: {str(exception)[:80]}"] += 1


RECORDER = Recorder()
MODE = {"pace": "think", "healthz": False}
SIGNED_IN: list[str] = []


def load_accounts() -> list[dict]:
    path = Path(os.environ.get("LOAD_ACCOUNTS") or VAR / "demo_accounts.json")
    accounts = [a for a in json.loads(path.read_text()) if a.get("load_test")]
    if len(accounts) < USERS:
        sys.exit(
            f"load: {path} has {len(accounts)} load-test accounts, {USERS} wanted; "
            "run `make run` (load_demo makes them) or lower LOAD_USERS"
        )
    return accounts[:USERS]


ACCOUNTS: list[dict] = []


def ssl_context() -> ssl.SSLContext:
    # The development certificate, verified like any other: no verify=False.
    context = gevent.ssl.create_default_context(cafile=CA_BUNDLE)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class Patient(FastHttpUser):
    host = BASE_URL
    ssl_context_factory = staticmethod(ssl_context)
    insecure = False
    # The connection a browser keeps open; one per user.
    concurrency = 1

    def wait_time(self) -> float:
        return random.uniform(*THINK) if MODE["pace"] == "think" else 0  # noqa: S311

    def on_start(self) -> None:
        self.account = ACCOUNTS.pop(0)
        self.urls = dict(STATIC_PAGES)
        self._sign_in()
        self.urls["lab trend"] = self._find("labs", TREND)
        self.urls["thread"] = self._find("inbox", THREAD)
        find = self._get("/patient/appointments/find/", "slot search form")
        match = VISIT_TYPE.search(find)
        self.urls["slot search"] = (
            f"/patient/appointments/find/?visit_type={match.group(1)}" if match else None
        )
        SIGNED_IN.append(self.account["username"])

    def _post(self, path: str, name: str, data: dict) -> str:
        """POST a sign-in form; the redirect's target ("" when the form came back)."""
        headers = {"Referer": BASE_URL + path, "Origin": BASE_URL}
        with self.client.post(
            path, data=data, headers=headers, name=name, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code not in (200, 302):
                response.failure(f"status {response.status_code}")
            if response.status_code != 302:
                return ""
            return (response.headers or {}).get("Location", "")

    def _get(self, path: str, name: str) -> str:
        with self.client.get(
            path, name=name, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
            return response.text or ""

    def _csrf(self, page: str) -> str:
        match = CSRF.search(page)
        return match.group(1) if match else ""

    def _sign_in(self) -> None:
        page = self._get("/accounts/sign-in/", "sign-in page")
        verify = self._post(
            "/accounts/sign-in/",
            "sign-in password",
            {
                "csrfmiddlewaretoken": self._csrf(page),
                "username": self.account["username"],
                "password": self.account["password"],
            },
        )
        if "/accounts/sign-in/verify/" not in verify:
            raise RuntimeError("the password was refused")
        # A code is accepted once per 30 s step and device: a run started right after
        # another one waits for the next step instead of being refused.
        for _attempt in range(3):
            # Signing in rotates the CSRF token: the verify page carries the new one.
            page = self._get(verify, "sign-in code page")
            step = int(time.time()) // 30
            done = self._post(
                "/accounts/sign-in/verify/",
                "sign-in code",
                {
                    "csrfmiddlewaretoken": self._csrf(page),
                    "method": "totp",
                    "token": totp(self.account["totp_secret"], step),
                },
            )
            if done and "/accounts/sign-in" not in done:
                return
            gevent.sleep((step + 1) * 30 - time.time() + 0.5)
        raise RuntimeError("the authenticator code was refused three times")

    def _find(self, page: str, pattern: re.Pattern) -> str | None:
        match = pattern.search(self._get(self.urls[page], f"{page} (look-up)"))
        return match.group(1) if match else None

    @task
    def walk(self) -> None:
        if MODE["healthz"]:
            # As a load balancer asks it: no session cookie, so no session, user or
            # device is loaded; only the database's answer is waited for.
            self.client.cookiejar.clear()
            self._get("/healthz", "healthz")
            return
        name = random.choices(list(MIX), weights=list(MIX.values()))[0]  # noqa: S311
        url = self.urls.get(name)
        if url is None:
            # No lab result or thread to open: the record was not synced; count it.
            events.request.fire(
                request_type="GET",
                name=name,
                response_time=0,
                response_length=0,
                exception=RuntimeError("nothing to open (record not synced?)"),
                context={},
            )
            return
        self._get(url, name)


# --- the run --------------------------------------------------------------------------


def measure(name: str, seconds: float, pids: dict[str, int | None]) -> dict:
    before_cpu, before_busy, started = cpu_snapshot(pids), machine_busy(), time.monotonic()
    load_before = os.getloadavg()[0]
    RECORDER.phase = name
    gevent.sleep(seconds)
    RECORDER.phase = "settle"
    elapsed = time.monotonic() - started
    after_cpu, after_busy = cpu_snapshot(pids), machine_busy()
    times, errors = RECORDER.times[name], RECORDER.errors[name]
    requests = sum(len(v) for v in times.values())
    cpu = {k: after_cpu[k] - before_cpu[k] for k in pids}
    return {
        "seconds": round(elapsed, 1),
        "requests": requests,
        "errors": sum(errors.values()),
        "rps": round(requests / elapsed, 1),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "machine_busy": round(
            (after_busy[0] - before_busy[0]) / max(1, after_busy[1] - before_busy[1]), 2
        ),
        "server_cpu_ms": {k: round(v) for k, v in cpu.items()},
        "server_cpu_ms_per_request": {
            k: round(v / requests, 2) if requests else None for k, v in cpu.items()
        },
        "pages": {
            page: {
                "requests": len(values),
                "errors": errors.get(page, 0),
                "rps": round(len(values) / elapsed, 2),
                "p50_ms": round(percentile(values, 50), 1),
                "p95_ms": round(percentile(values, 95), 1),
                "p99_ms": round(percentile(values, 99), 1),
            }
            for page, values in sorted(times.items())
        },
    }


def gunicorn_workers(pids: dict[str, int | None]) -> list[int]:
    return _children(pids["gunicorn"]) if pids["gunicorn"] else []


def start_profiles(pids: dict[str, int | None], seconds: float) -> list[subprocess.Popen]:
    spy = Path(sys.executable).with_name("py-spy")
    procs = []
    for worker in gunicorn_workers(pids):
        out = OUT / f"profile-{worker}.txt"
        procs.append(
            subprocess.Popen(
                [
                    *(str(spy), "record", "--nonblocking", "--format", "raw", "--rate", "200"),
                    *("--duration", str(int(seconds)), "--pid", str(worker), "--output", str(out)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return procs


def main() -> None:
    global ACCOUNTS
    ACCOUNTS = load_accounts()
    OUT.mkdir(parents=True, exist_ok=True)
    pids = server_pids(VAR)
    if pids["gunicorn"] is None or not Path(f"/proc/{pids['gunicorn']}").exists():
        sys.exit("load: no gunicorn running under var/run: start `make run` first")
    env = Environment(user_classes=[Patient], events=events, host=BASE_URL)
    events.request.add_listener(RECORDER.on_request)
    runner = env.create_local_runner()
    started_at = dt.datetime.now(dt.UTC)
    print(f"load: {USERS} patients signing in at {SPAWN_RATE}/s against {BASE_URL}", flush=True)
    runner.start(USERS, spawn_rate=SPAWN_RATE)
    deadline = time.monotonic() + USERS / SPAWN_RATE + 120
    while len(SIGNED_IN) < USERS and time.monotonic() < deadline:
        gevent.sleep(0.5)
    if len(SIGNED_IN) < USERS:
        print(f"load: only {len(SIGNED_IN)} of {USERS} signed in; measuring anyway", flush=True)
    signed_in = RECORDER.times["sign-in"]
    sign_in = {
        name: {"requests": len(v), "p50_ms": round(percentile(v, 50), 1)}
        for name, v in signed_in.items()
    }
    RECORDER.phase = "settle"
    gevent.sleep(SETTLE)

    profiles = start_profiles(pids, STEADY) if PROFILE else []
    print(f"load: steady, {STEADY:.0f} s with 1-5 s think time", flush=True)
    steady = measure("steady", STEADY, pids)
    for proc in profiles:
        proc.wait()

    MODE["pace"] = "none"
    gevent.sleep(SETTLE)
    print(f"load: saturation, {SATURATION:.0f} s without think time", flush=True)
    saturation = measure("saturation", SATURATION, pids)

    MODE["healthz"] = True
    gevent.sleep(SETTLE)
    print(f"load: /healthz, {SATURATION:.0f} s without think time", flush=True)
    healthz = measure("healthz", SATURATION, pids)
    runner.quit()

    result = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "base_url": BASE_URL,
        "users": USERS,
        "signed_in": len(SIGNED_IN),
        "sign_in": sign_in,
        "sign_in_errors": sum(RECORDER.errors["sign-in"].values()),
        "steady": steady,
        "saturation": saturation,
        "healthz": healthz,
        "error_kinds": dict(RECORDER.error_kinds),
        "cpus": os.cpu_count(),
    }
    (OUT / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    (OUT / "figures.json").write_text(json.dumps(figures(result, pages=set(MIX)), indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("signed_in", "sign_in_errors")}))
    for phase in ("steady", "saturation", "healthz"):
        r = result[phase]
        print(
            f"{phase}: {r['requests']} requests, {r['errors']} errors, {r['rps']} /s, "
            f"load average {r['load_average']}, server CPU ms/request "
            f"{r['server_cpu_ms_per_request']}"
        )
        for page, p in r["pages"].items():
            print(
                f"  {page:<14} n={p['requests']:<6} p50 {p['p50_ms']:>7} p95 {p['p95_ms']:>7}"
                f" p99 {p['p99_ms']:>7} errors {p['errors']}"
            )
    if result["error_kinds"]:
        print("errors:", json.dumps(result["error_kinds"], indent=1))


if __name__ == "__main__":
    main()
