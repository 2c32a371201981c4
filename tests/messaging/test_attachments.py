"""Attachments that cannot hurt anyone: hostile files are refused or defused, names are
labels only, and files come back only as downloads, only to who may see the thread."""

import io
import os
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

from audit.actions import Action, Outcome, Severity
from messaging import files
from messaging.files import AttachmentRefused
from messaging.models import Attachment, Thread, Topic
from tests.audit_helpers import events, last_event
from tests.conftest import sign_in_fully
from tests.messaging.conftest import start

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (40, 30), "red")
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (48.0, 51.0, 29.0)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def png(size=(10, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, (0, 128, 0, 255)).save(buffer, "PNG")
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def pdf_with_javascript() -> bytes:
    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    action = DictionaryObject(
        {
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('pwned');"),
        }
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    page[NameObject("/AA")] = DictionaryObject({NameObject("/O"): writer._add_object(action)})
    writer.add_attachment("payload.exe", b"MZ evil")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def upload(name: str, data: bytes, content_type="application/octet-stream") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


# --- The sanitiser on its own -----------------------------------------------------------


def test_it_strips_exif_gps_from_a_jpeg():
    clean = files.sanitise("photo.jpg", jpeg_with_gps())
    assert clean.content_type == "image/jpeg"
    assert b"SpyCam" not in clean.content
    assert not Image.open(io.BytesIO(clean.content)).getexif()


def test_it_drops_the_html_of_a_jpeg_html_polyglot():
    polyglot = jpeg_with_gps() + b"<html><script>alert(document.cookie)</script></html>"
    clean = files.sanitise("cat.html", polyglot)
    assert b"<script" not in clean.content
    assert clean.name == "cat.jpg"


def test_it_refuses_an_svg_renamed_png():
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    with pytest.raises(AttachmentRefused, match="Only PDF, JPEG, PNG and HEIC"):
        files.sanitise("innocent.png", svg)


def test_it_removes_javascript_and_embedded_files_from_a_pdf():
    hostile = pdf_with_javascript()
    assert b"/JavaScript" in hostile
    clean = files.sanitise("letter.pdf", hostile)
    for marker in (b"/JavaScript", b"/JS", b"/OpenAction", b"/EmbeddedFile", b"/AcroForm", b"MZ"):
        assert marker not in clean.content, marker
    assert len(PdfReader(io.BytesIO(clean.content)).pages) == 1


def test_it_refuses_an_encrypted_pdf():
    writer = PdfWriter()
    writer.add_blank_page(100, 100)
    writer.encrypt("secret")
    buffer = io.BytesIO()
    writer.write(buffer)
    with pytest.raises(AttachmentRefused, match="password"):
        files.sanitise("locked.pdf", buffer.getvalue())


def test_it_refuses_a_malformed_pdf():
    with pytest.raises(AttachmentRefused, match="could not be read"):
        files.sanitise("broken.pdf", b"%PDF-1.7\n garbage without objects")


def test_it_refuses_a_40000_by_40000_png_before_decoding_it():
    with pytest.raises(AttachmentRefused, match="too many pixels"):
        files.sanitise("bomb.png", png_header_only(40_000, 40_000))


def test_it_refuses_an_empty_file():
    with pytest.raises(AttachmentRefused, match="empty"):
        files.sanitise("empty.pdf", b"")


def test_it_refuses_eicar_without_a_scanner_because_of_its_type():
    with pytest.raises(AttachmentRefused, match="Only PDF"):
        files.sanitise("eicar.pdf", EICAR)


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("../../etc/pa\x00ss\nwd.png", "passwd.png"),
        ("C:\\Users\\x\\scan.PNG", "scan.png"),
        ("\u202egnp.exe", "gnp.png"),  # right-to-left override removed
        ("...", "attachment.png"),
        ("x" * 300 + ".png", "x" * 95 + ".png"),
    ],
)
def test_it_keeps_a_name_only_as_a_clean_label(name, label):
    assert files.sanitise(name, png()).name == label


# --- A real clamd (Debian's), with a signature database made by sigtool ------------------


@pytest.fixture
def clamd(settings, clamd_socket):
    settings.CLAMD_SOCKET = clamd_socket
    return clamd_socket


@pytest.mark.parametrize("data", [EICAR, b"%PDF-1.4\n" + EICAR + b"\n%%EOF"])
def test_it_catches_eicar_with_the_scanner(clamd, data):
    with pytest.raises(AttachmentRefused) as refused:
        files.sanitise("eicar.pdf", data)
    assert refused.value.code == "infected"


def test_it_passes_a_clean_file_through_the_scanner(clamd):
    assert files.sanitise("ok.png", png()).content_type == "image/png"


def test_it_refuses_when_the_scanner_is_unreachable(settings, tmp_path):
    settings.CLAMD_SOCKET = str(tmp_path / "nobody-listens.sock")
    with pytest.raises(AttachmentRefused, match="cannot be checked"):
        files.sanitise("ok.png", png())


# --- Through the pages ----------------------------------------------------------------------


def compose(client, *attachments, body="See attached"):
    return client.post(
        "/patient/messages/new/",
        {"topic": Topic.MEDICAL, "subject": "Scan", "body": body, "attachments": list(attachments)},
    )


def test_it_stores_a_sanitised_attachment_encrypted_and_serves_it_as_a_download(
    make_client, ward, alice, carol, mallory, bill
):
    patient = make_client()
    sign_in_fully(patient, alice)
    response = compose(patient, upload("../scan.pdf", pdf_with_javascript(), "text/html"))
    assert response.status_code == 302, response.context["form"].errors
    (stored,) = Attachment.objects.all()
    assert (stored.name, stored.content_type) == ("scan.pdf", "application/pdf")

    download = patient.get(f"/patient/messages/attachments/{stored.pk}/")
    assert download.status_code == 200
    assert download["Content-Type"] == "application/pdf"
    assert download["Content-Disposition"].startswith('attachment; filename="scan.pdf"')
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download["Content-Security-Policy"]
    assert b"/JavaScript" not in download.content
    event = last_event(Action.MESSAGE_ATTACHMENT_DOWNLOAD)
    assert (event.actor_id, event.patient_id, event.object_id) == (
        alice.pk,
        alice.patient_id,
        str(stored.pk),
    )

    clinician = make_client()
    sign_in_fully(clinician, carol)
    assert clinician.get(f"/staff/messages/attachments/{stored.pk}/").status_code == 200
    for outsider, prefix in ((mallory, "patient"), (bill, "staff")):
        other = make_client()
        sign_in_fully(other, outsider)
        before = len(events(Action.MESSAGE_ATTACHMENT_DOWNLOAD))
        assert other.get(f"/{prefix}/messages/attachments/{stored.pk}/").status_code == 404
        assert len(events(Action.MESSAGE_ATTACHMENT_DOWNLOAD)) == before


def test_it_refuses_a_hostile_file_with_a_clear_message_and_keeps_the_input(client, ward, alice):
    sign_in_fully(client, alice)
    svg = upload("x.png", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/png")
    response = compose(client, svg, body="Keep me")
    assert response.status_code == 200
    form = response.context["form"]
    assert "Only PDF, JPEG, PNG and HEIC" in str(form.errors["attachments"])
    assert form["body"].value() == "Keep me"
    assert not Thread.objects.exists()
    refused = last_event(Action.MESSAGE_ATTACHMENT_REFUSED)
    assert (refused.outcome, refused.object_type, refused.patient_id) == (
        Outcome.DENIED,
        "type",
        alice.patient_id,
    )


def test_it_reports_an_infected_upload_with_high_severity(client, ward, alice, clamd):
    sign_in_fully(client, alice)
    compose(client, upload("eicar.pdf", b"%PDF-1.4\n" + EICAR))
    refused = last_event(Action.MESSAGE_ATTACHMENT_REFUSED)
    assert (refused.object_type, refused.severity) == ("infected", Severity.HIGH)
    assert not Attachment.objects.exists()


def test_it_takes_at_most_four_files(client, ward, alice):
    sign_in_fully(client, alice)
    response = compose(client, *[upload(f"{i}.png", png()) for i in range(5)])
    assert "at most 4 files" in str(response.context["form"].errors["attachments"])


def test_it_refuses_a_50_mb_upload_without_keeping_it(client, ward, alice):
    sign_in_fully(client, alice)
    big = upload("huge.pdf", b"%PDF-1.4\n" + os.urandom(1024) * (50 * 1024))
    response = compose(client, big)
    assert response.status_code == 200
    assert "too large" in str(response.context["form"].errors["attachments"])
    assert not Thread.objects.exists()


def test_it_refuses_a_7_mb_file(client, ward, alice):
    sign_in_fully(client, alice)
    response = compose(client, upload("big.png", png() + b"\0" * (7 * 1024 * 1024)))
    assert "too large" in str(response.context["form"].errors["attachments"])


def test_it_attaches_to_a_staff_reply_too(client, ward, alice, carol):
    thread = start(alice)
    sign_in_fully(client, carol)
    response = client.post(
        f"/staff/messages/{thread.pk}/reply/",
        {"body": "Your leaflet", "attachments": [upload("leaflet.png", png())]},
    )
    assert response.status_code == 302
    assert Attachment.objects.get().message.author == carol


def test_it_converts_a_heic_photo_to_jpeg():
    import pillow_heif

    pillow_heif.register_heif_opener()
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), "blue").save(buffer, format="HEIF")
    clean = files.sanitise("IMG_0001.HEIC", buffer.getvalue())
    assert (clean.name, clean.content_type) == ("IMG_0001.jpg", "image/jpeg")
    assert Image.open(io.BytesIO(clean.content)).size == (64, 48)
