"""`make load`'s own arithmetic: codes the portal accepts, CPU read from /proc, the figures.

bench/load/run.py itself needs locust's venv and a running server (`make load`);
what it computes with is in bench/load/loadlib.py, checked here against the
real things: django-otp's own TOTP check, this process tree's CPU time, and
bench/run.py's results files.
"""

import base64
import importlib.util
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def module(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / path)
    assert spec is not None
    assert spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


loadlib = module("bench/load/loadlib.py", "loadlib")
bench_run = module("bench/run.py", "bench_run")


def load_test_patient(tmp_path) -> dict:
    """load01 as load_demo makes it, and its entry in the accounts file."""
    accounts = tmp_path / "accounts.json"
    call_command("load_demo", accounts_file=str(accounts), load_patients=1, stdout=io.StringIO())
    return next(a for a in json.loads(accounts.read_text()) if a.get("load_test"))


def code_answer(client, account: dict, step: int):
    signed = client.post(
        "/accounts/sign-in/", {"username": account["username"], "password": account["password"]}
    )
    assert signed.status_code == 302
    return client.post(
        "/accounts/sign-in/verify/",
        {"method": "totp", "token": loadlib.totp(account["totp_secret"], step)},
    )


@pytest.mark.django_db
def test_its_codes_sign_a_load_test_patient_in(client, tmp_path, time_machine):
    time_machine.move_to("2026-11-30 09:00:10Z", tick=False)
    account = load_test_patient(tmp_path)

    answer = code_answer(client, account, int(time.time()) // 30)

    assert answer.status_code == 302
    assert client.get("/patient/").status_code == 200


@pytest.mark.django_db
def test_a_code_two_steps_old_is_refused(client, tmp_path, time_machine):
    time_machine.move_to("2026-11-30 09:00:10Z", tick=False)
    account = load_test_patient(tmp_path)

    answer = code_answer(client, account, int(time.time()) // 30 - 2)

    assert answer.status_code == 200  # the form again, with its error
    assert client.get("/patient/").status_code == 302


def test_it_matches_rfc_6238s_sha1_vector():
    # RFC 6238 appendix B, T = 59 s, the 8-digit 94287082 cut to 6 digits.
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert loadlib.totp(secret, 59 // 30) == "287082"


def test_it_counts_the_cpu_of_children_that_have_exited():
    before = loadlib.tree_cpu_ms(os.getpid())
    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", busy], check=True)

    assert loadlib.tree_cpu_ms(os.getpid()) - before >= 250


def test_a_process_that_is_gone_counts_nothing():
    assert loadlib.tree_cpu_ms(None) == 0
    assert loadlib.tree_cpu_ms(2**22 + 12345) == 0


def test_it_finds_the_servers_from_their_pid_files(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "pgdata").mkdir()
    (tmp_path / "run" / "gunicorn.pid").write_text("123\n")
    (tmp_path / "pgdata" / "postmaster.pid").write_text("456\n/path\n")
    (tmp_path / "run" / "nginx.pid").write_text("not a pid")

    assert loadlib.server_pids(tmp_path) == {
        "gunicorn": 123,
        "nginx": None,
        "postgres": 456,
        "job worker": None,
    }


def test_percentiles_interpolate_between_ranks():
    values = [float(v) for v in range(1, 101)]
    assert loadlib.percentile(values, 50) == pytest.approx(50.5)
    assert loadlib.percentile(values, 95) == pytest.approx(95.05)
    assert loadlib.percentile([], 95) == 0


def phase(pages: dict, rps: float, errors: int = 0) -> dict:
    return {
        "seconds": 60.0,
        "requests": 10,
        "errors": errors,
        "rps": rps,
        "load_average": [1.0, 1.2],
        "server_cpu_ms_per_request": {"gunicorn": 9.0, "postgres": 2.5},
        "pages": pages,
    }


def page(p95: float) -> dict:
    return {"requests": 5, "errors": 0, "rps": 1.0, "p50_ms": 10, "p95_ms": p95, "p99_ms": p95}


RESULT = {
    "finished_at": "2026-11-30T09:00:00+00:00",
    "users": 50,
    "steady": phase({"home": page(80), "labs": page(120), "sign-in code": page(900)}, 12.0),
    "saturation": phase({"home": page(300)}, 40.0),
    "healthz": phase({"healthz": page(20)}, 160.0),
}


def test_the_p95_figure_is_the_worst_page_of_the_mix_not_the_sign_in():
    figures = {f["name"]: f for f in loadlib.figures(RESULT, pages={"home", "labs"})}

    assert figures["load_p95_ms"]["value"] == 120
    assert bench_run.met(figures["load_p95_ms"]) == "yes"
    assert figures["load_cpu_ms_per_request"]["value"] == 11.5
    assert figures["load_vs_healthz"]["value"] == 0.25
    assert figures["load_saturation_rps"]["baseline"] == 160.0


def test_any_error_misses_the_target():
    failed = {**RESULT, "steady": phase({"home": page(80)}, 12.0, errors=1)}
    figures = {f["name"]: f for f in loadlib.figures(failed, pages={"home"})}

    assert bench_run.met(figures["load_errors"]) == "**no**"


@pytest.fixture
def results_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(bench_run, "HERE", tmp_path)
    old = [
        {"name": "audit_seal", "value": 9000, "unit": "events/s", "target": None},
        {"name": "load_rps", "value": 1.0, "unit": "requests/s", "target": None},
    ]
    (tmp_path / "results.json").write_text(json.dumps(old))
    return tmp_path


def test_merging_replaces_the_load_figures_and_keeps_the_benchmarks(results_dir, monkeypatch):
    new = results_dir / "figures.json"
    new.write_text(json.dumps(loadlib.figures(RESULT, pages={"home", "labs"})))
    monkeypatch.setattr(sys, "argv", ["run.py", "--merge", str(new)])

    bench_run.main()

    names = [f["name"] for f in json.loads((results_dir / "results.json").read_text())]
    assert names[0] == "audit_seal"
    assert names.count("load_rps") == 1
    assert "load_vs_healthz" in names
    text = (results_dir / "RESULTS.md").read_text()
    assert "## Load test (`make load`)" in text
    assert "| labs | 5 | 0 | 1.0 | 10 | 120 | 120 |" in text


def test_a_bench_run_keeps_the_last_load_figures(results_dir, monkeypatch):
    monkeypatch.setattr(bench_run, "SUITES", [])
    monkeypatch.setattr(sys, "argv", ["run.py"])

    bench_run.main()

    names = [f["name"] for f in json.loads((results_dir / "results.json").read_text())]
    assert names == ["load_rps"]


def test_merging_keeps_the_date_of_the_benchmark_run(results_dir, monkeypatch):
    (results_dir / "RESULTS.md").write_text("# Results\n\nRun 2023-11-14 22:13 UTC on x\n")
    new = results_dir / "figures.json"
    new.write_text(json.dumps(loadlib.figures(RESULT, pages={"home"})))
    monkeypatch.setattr(sys, "argv", ["run.py", "--merge", str(new)])

    bench_run.main()

    assert "Run 2023-11-14 22:13 UTC" in (results_dir / "RESULTS.md").read_text()
