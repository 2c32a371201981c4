"""Downloads of the patient's own record: a FHIR Bundle and a PDF, each audited, no PHI in names."""

import io
import json
import re
from decimal import Decimal

import pytest
from pypdf import PdfReader

from audit.actions import Action
from records.models import FhirRecord
from records.pdf import drawable, font_files, record_pdf
from records.selectors import full_record
from tests.audit_helpers import events, last_event
from tests.conftest import sign_in_fully
from tests.records import builders
from tests.records import resources as r

BUNDLE = "/patient/records/download/health-record.json"
PDF = "/patient/records/download/health-record.pdf"


@pytest.fixture
def record(alice):
    builders.seed(alice.patient)
    return alice.patient


@pytest.fixture
def as_alice(client, alice, record):
    return sign_in_fully(client, alice)


def pdf_text(document: bytes) -> str:
    """The text a reader would extract from the PDF (pypdf), spacing and line breaks
    (table cells wrap) folded to single spaces."""
    pages = PdfReader(io.BytesIO(document)).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


def test_it_downloads_the_record_as_a_fhir_bundle_of_the_resources_as_sent(as_alice, record):
    response = as_alice.get(BUNDLE)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/fhir+json")
    assert re.fullmatch(
        r'attachment; filename="health-record-\d{4}-\d{2}-\d{2}\.json"',
        response["Content-Disposition"],
    )
    bundle = json.loads(response.content, parse_float=Decimal)
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "collection")
    got = {(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]}
    stored = set(FhirRecord.objects.filter(patient=record).values_list("resource_type", "fhir_id"))
    assert got == stored
    assert len(bundle["entry"]) == len(stored) == 14
    hba1c = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == "obs-hba1c-3")
    expected = builders.lab(
        "obs-hba1c-3", value=Decimal("7.10"), on=builders.HBA1C_SERIES[2][2], interpretation="H"
    )
    assert hba1c == expected
    assert b'"value":7.10' in response.content  # the digits as sent, not 7.1


def test_it_puts_only_the_patients_own_resources_in_the_bundle(client, record, mallory):
    mallory.patient.fhir_id = r.OTHER_FHIR_ID
    mallory.patient.save()
    builders.store(mallory.patient, "Condition", [r.condition("cond-m-1", patient=r.OTHER_FHIR_ID)])
    sign_in_fully(client, mallory)

    bundle = json.loads(client.get(BUNDLE).content)

    assert [e["resource"]["id"] for e in bundle["entry"]] == ["cond-m-1"]


def test_it_downloads_a_readable_pdf_of_the_record(as_alice):
    response = as_alice.get(PDF)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert re.fullmatch(
        r'attachment; filename="health-record-\d{4}-\d{2}-\d{2}\.pdf"',
        response["Content-Disposition"],
    )
    document = response.content
    assert document.startswith(b"%PDF-")
    assert document.rstrip().endswith(b"%%EOF")
    text = pdf_text(document)
    for expected in [
        "Health record",
        "Hemoglobin A1c/Hemoglobin.total in Blood",
        "7.10",
        "Type 2 diabetes",
        "Metformin 500 mg",
        "Penicillin",
        "Influenza vaccine",
        "Diabetes follow-up visit",
        "Sugars improving",
    ]:
        assert expected in text, expected


def with_names(record, text: str):
    builders.store(
        record,
        "Condition",
        [r.newer(r.condition("cond-script-1"), "1", "2026-10-01T00:00:00Z", code={"text": text})],
    )


def test_it_draws_names_in_other_scripts_with_the_unicode_font(alice, record, settings):
    assert font_files(settings.PORTAL_PDF_FONT_DIR), "fonts-dejavu-core (system-deps.sh --fonts)"
    with_names(record, "Łukasz Dvořák, Ωμέγα, Нина, Nguyễn")

    text = pdf_text(record_pdf(full_record(actor=alice, patient_id=record.pk)))

    assert "Łukasz Dvořák, Ωμέγα, Нина, Nguyễn" in text


def test_it_replaces_what_the_font_lacks_and_never_crashes(alice, record):
    with_names(record, "糖尿病 ✓ café")

    text = pdf_text(record_pdf(full_record(actor=alice, patient_id=record.pk)))

    assert "??? ✓ café" in text  # DejaVu has the check mark, not the CJK


def test_without_the_font_it_falls_back_to_the_core_font(alice, record, tmp_path):
    with_names(record, "糖尿病 Ωmega café Dvořák")

    text = pdf_text(record_pdf(full_record(actor=alice, patient_id=record.pk), font_dir=tmp_path))

    assert "??? ?mega café Dvorák" in text
    dashes = "naïve \u2013 \u201cquoted\u201d \u2014 ok"
    assert drawable(dashes) == dashes  # Windows-1252 has them


@pytest.mark.parametrize(("path", "kind"), [(BUNDLE, "bundle"), (PDF, "pdf")])
def test_it_records_each_download_as_an_audit_event_without_phi(as_alice, alice, path, kind):
    before = len(events(Action.RECORD_DOWNLOAD))

    as_alice.get(path)

    new = events(Action.RECORD_DOWNLOAD)[before:]
    assert len(new) == 1
    assert (new[0].actor_id, new[0].patient_id, new[0].object_type, new[0].object_id) == (
        alice.pk,
        alice.patient_id,
        kind,
        "",
    )
    assert new[0].reason == ""


@pytest.mark.parametrize("cast", ["carol", "bill", "fran", "ada", "otto"])
def test_it_lets_only_the_patient_download_their_record(client, record, cast, request):
    sign_in_fully(client, request.getfixturevalue(cast))
    assert client.get(BUNDLE).status_code == 403
    assert client.get(PDF).status_code == 403
    assert not events(Action.RECORD_DOWNLOAD)


def test_it_refuses_downloads_by_post(as_alice):
    assert as_alice.post(PDF).status_code == 405


def test_it_leaves_unreadable_resources_out_of_the_bundle_and_marks_them_in_the_pdf(
    as_alice, record
):
    from django.db import connection

    row = FhirRecord.objects.get(patient=record, fhir_id="obs-hba1c-2")
    with connection.cursor() as cursor:  # another row's ciphertexts: the AAD no longer matches
        cursor.execute(
            "UPDATE records_fhir_record SET display = o.display, resource = o.resource "
            "FROM records_fhir_record o WHERE o.fhir_id = 'obs-hba1c-1' "
            "AND records_fhir_record.id = %s",
            [row.pk],
        )

    bundle = json.loads(as_alice.get(BUNDLE).content)
    pdf = as_alice.get(PDF)

    ids = [e["resource"]["id"] for e in bundle["entry"]]
    assert "obs-hba1c-2" not in ids
    assert len(ids) == 13
    assert bundle["meta"]["tag"][0]["code"] == "omitted-unreadable"
    assert pdf.status_code == 200
    assert "[unreadable]" in pdf_text(pdf.content)
    assert last_event(Action.DECRYPT_FAILED).patient_id == record.pk
