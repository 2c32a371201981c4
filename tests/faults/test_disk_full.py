"""A full disk under the upload directory: the patient is told, nothing typed is lost,
no half-written file or orphan row stays behind, and it works again once there is room.

The disk is real (a 4 MB tmpfs mounted for the test and filled up); the request goes
through Django's multipart parser and the project's upload handler into that directory.
"""

import io
import os

import pytest
from PIL import Image

from messaging.models import Attachment, Message, Thread, Topic
from patients.models import CareTeam
from tests.conftest import sign_in_fully
from tests.faults.conftest import fill

BODY = "Here is the photo of my rash you asked for."


def photo() -> bytes:
    """A real PNG of about 200 KB (noise does not compress)."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (256, 256), os.urandom(256 * 256 * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def compose(client, data: bytes):
    upload = io.BytesIO(data)
    upload.name = "rash.png"
    return client.post(
        "/patient/messages/new/",
        {"topic": Topic.MEDICAL, "subject": "Rash", "body": BODY, "attachments": [upload]},
    )


@pytest.fixture
def ward(alice, carol):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol)
    team.patients.add(alice.patient)
    return team


def test_a_full_upload_disk_is_a_clear_error_that_loses_nothing_and_then_recovers(
    settings, small_disk, client, ward, alice, caplog
):
    settings.FILE_UPLOAD_TEMP_DIR = str(small_disk)
    sign_in_fully(client, alice)
    filler = fill(small_disk)
    data = photo()

    response = compose(client, data)

    assert response.status_code == 200
    errors = response.context["form"].errors["attachments"]
    assert "short of storage space" in str(errors)
    page = response.content.decode()
    assert BODY in page  # what was typed is still in the form
    assert "Nothing was sent" in page
    assert (Thread.objects.count(), Message.objects.count(), Attachment.objects.count()) == (
        0,
        0,
        0,
    )
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]  # no half file
    logged = " ".join(r.getMessage() for r in caplog.records if r.name == "messaging.uploads")
    assert "could not be written" in logged
    assert str(small_disk) not in logged
    assert "rash" not in logged

    filler.unlink()  # room again: the same message goes through
    response = compose(client, data)

    assert response.status_code == 302, response.context["form"].errors
    assert (Thread.objects.count(), Message.objects.count(), Attachment.objects.count()) == (
        1,
        1,
        1,
    )
    assert list(small_disk.iterdir()) == []  # the temporary file went with the request
