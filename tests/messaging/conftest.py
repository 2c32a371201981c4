"""Messaging's cast: Carol (physician) and Nina (nurse) treat Alice; nobody treats Mallory."""

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from audit.context import AuditContext
from messaging import services
from messaging.models import Topic
from patients.models import CareTeam

CONTEXT = AuditContext(request_id="req-1", client_ip="192.0.2.7")
CANARY = "CANARY-7f3a9c the rash on my left elbow"


@pytest.fixture
def ward(alice, carol, nina):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol, nina)
    team.patients.add(alice.patient)
    return team


def start(
    patient_user, topic=Topic.MEDICAL, subject="Question about my rash", body=CANARY, files=()
):
    return services.thread_start(
        actor=patient_user, topic=topic, subject=subject, body=body, files=files, context=CONTEXT
    )


@pytest.fixture
def medical_thread(ward, alice):
    return start(alice)


@pytest.fixture
def billing_thread(ward, alice):
    return start(alice, topic=Topic.BILLING, subject="My invoice", body="Why two charges?")


EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
CLAMD_STARTUP = 60  # seconds


@pytest.fixture(scope="session")
def clamd_socket(tmp_path_factory):
    """A real clamd (Debian's clamav-daemon) on a unix socket, for the session.

    freshclam needs the network, so its database is made here with sigtool: the
    EICAR file's MD5 (a .hdb signature) and its bytes anywhere in a file (a .ndb
    body signature, made from sigtool's hex dump).
    """
    clamd, sigtool = shutil.which("clamd") or "/usr/sbin/clamd", shutil.which("sigtool")
    if sigtool is None or not Path(clamd).exists():
        pytest.fail("clamd/sigtool missing: run scripts/system-deps.sh --clamav", pytrace=False)
    root = tmp_path_factory.mktemp("clamd")
    db = root / "db"
    db.mkdir()
    (root / "eicar.com").write_bytes(EICAR)
    md5 = subprocess.run(
        [sigtool, "--md5", str(root / "eicar.com")], capture_output=True, text=True, check=True
    ).stdout.split(":")
    (db / "carebridge-test.hdb").write_text(f"{md5[0]}:{md5[1]}:Carebridge.Test.EICAR-File\n")
    hexed = (
        subprocess.run([sigtool, "--hex-dump"], input=EICAR, capture_output=True, check=True)
        .stdout.decode()
        .strip()
    )
    (db / "carebridge-test.ndb").write_text(f"Carebridge.Test.EICAR-Body:0:*:{hexed}\n")
    sock = root / "clamd.sock"
    (root / "clamd.conf").write_text(
        f"LocalSocket {sock}\nDatabaseDirectory {db}\nForeground yes\n"
        f"LogFile {root / 'clamd.log'}\nTemporaryDirectory {root}\n"
    )
    proc = subprocess.Popen(
        [clamd, "-c", str(root / "clamd.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + CLAMD_STARTUP
        while not _pong(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                log = (root / "clamd.log").read_text() if (root / "clamd.log").exists() else ""
                pytest.fail(f"clamd did not start:\n{log[-3000:]}", pytrace=False)
            time.sleep(0.2)
        yield str(sock)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pong(path) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(str(path))
            s.sendall(b"zPING\0")
            return s.recv(16).startswith(b"PONG")
    except OSError:
        return False
