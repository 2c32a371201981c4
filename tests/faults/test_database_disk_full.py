"""PostgreSQL's own disk full: the cluster of the test's own lives on a small tmpfs that
the test fills. A message with an attachment needs new pages: the patient gets the 503
page, no thread, message or attachment row is left, and the same post goes through once
there is room again (no restart of anything)."""

import io
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from PIL import Image

from messaging.models import Attachment, Message, Thread, Topic
from patients.models import CareTeam
from tests.conftest import sign_in_fully
from tests.faults.conftest import copy_test_database, fill, tmpfs
from tests.faults.test_database_down import on_server

BODY = "The scan from the other hospital, as promised."


@pytest.fixture
def cluster_home():
    """The cluster on a 160 MB tmpfs (initdb and the copied database take about 60)."""
    home = Path(tempfile.mkdtemp(prefix="carebridge-pgdisk-"))
    home.chmod(0o755)
    try:
        with tmpfs(home, "160m"):
            yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def ward(alice, carol):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol)
    team.patients.add(alice.patient)
    return team


def scan() -> bytes:
    """A real PNG of about 1 MB (noise does not compress)."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def compose(client, data: bytes):
    upload = io.BytesIO(data)
    upload.name = "scan.png"
    return client.post(
        "/patient/messages/new/",
        {"topic": Topic.MEDICAL, "subject": "Scan", "body": BODY, "attachments": [upload]},
    )


def rows() -> tuple[int, int, int]:
    return Thread.objects.count(), Message.objects.count(), Attachment.objects.count()


def test_a_full_database_disk_answers_503_leaves_no_row_and_recovers(
    committed, own_cluster, cluster_home, ward, alice, client
):
    sign_in_fully(client, alice)
    url = copy_test_database(own_cluster)
    # WAL goes to a segment that exists already (a new one on a full disk is a PANIC,
    # another fault): switch now and write a little, so the next segment is made.
    own_cluster.psql("CHECKPOINT")
    own_cluster.psql("SELECT pg_switch_wal()")
    own_cluster.psql("CREATE TABLE faults_probe (); DROP TABLE faults_probe")
    data = scan()
    client.raise_request_exception = False  # answer as the server would, 503 included
    with on_server(url):
        filler = fill(cluster_home)

        response = compose(client, data)

        assert response.status_code == 503
        page = response.content.decode()
        assert "Carebridge is briefly unavailable" in page
        assert "not been saved" in page
        assert BODY not in page
        assert rows() == (0, 0, 0)

        filler.unlink()
        response = compose(client, data)

        assert response.status_code == 302
        assert rows() == (1, 1, 1)
        assert Message.objects.get().body == BODY
