"""Storing what the EHR sent: encrypted, idempotent, and hostile input contained."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.actions import Action, Outcome, Severity
from records.ingest import display_fields, effective_sort_key, ingest
from records.models import FhirRecord, Quarantine, QuarantineReason, SyncState
from tests.audit_helpers import events, last_event
from tests.records import resources as r


@pytest.fixture
def patient(alice):
    alice.patient.fhir_id = r.PATIENT_FHIR_ID
    alice.patient.save()
    return alice.patient


def run(patient, resource_type, items, **kwargs):
    return ingest(
        patient=patient,
        resource_type=resource_type,
        resources=items,
        requested_patient_fhir_id=r.PATIENT_FHIR_ID,
        **kwargs,
    )


def stored(patient, resource_type, fhir_id) -> FhirRecord:
    return FhirRecord.objects.get(patient=patient, resource_type=resource_type, fhir_id=fhir_id)


def raw_row(row: FhirRecord) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT resource, display, version_id FROM records_fhir_record WHERE id = %s",
            [row.pk],
        )
        resource, display, version = cursor.fetchone()
    return bytes(resource), bytes(display), version


def all_rows_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        tables = [name for (name,) in cursor.fetchall()]
        texts = []
        for table in tables:
            cursor.execute(f'SELECT t::text FROM "{table}" t')  # noqa: S608
            texts += [text for (text,) in cursor.fetchall()]
    return "\n".join(texts)


@pytest.mark.parametrize(
    ("resource_type", "build"),
    [
        ("Observation", r.lab),
        ("Condition", r.condition),
        ("AllergyIntolerance", r.allergy),
        ("Immunization", r.immunization),
        ("Encounter", r.encounter),
        ("DocumentReference", r.visit_note),
    ],
)
def test_it_stores_each_type_and_reads_it_back(patient, resource_type, build):
    resource = build()

    report = run(patient, resource_type, [resource])

    assert report.stored == 1
    row = FhirRecord.objects.get(pk=stored(patient, resource_type, resource["id"]).pk)
    assert row.resource == resource
    assert row.display == display_fields(resource_type, resource)
    assert row.version_id == resource["meta"]["versionId"]
    assert row.last_updated is not None


def test_it_keeps_lab_values_and_units_exactly_as_sent(patient):
    run(patient, "Observation", [r.lab(value=Decimal("7.10"), unit="% of total Hgb")])

    row = stored(patient, "Observation", "obs-hba1c-1")
    display = row.display
    assert str(display["value"]) == "7.10"  # not 7.1: the trailing zero is the lab's precision
    assert str(row.resource["valueQuantity"]["value"]) == "7.10"
    assert display["unit"] == "% of total Hgb"
    assert display["code"] == "Hemoglobin A1c/Hemoglobin.total in Blood"
    assert display["coding"] == {"system": "http://loinc.org", "code": "4548-4"}
    assert display["reference_range"] == [
        {
            "low": {"value": Decimal("4.0"), "unit": "%"},
            "high": {"value": Decimal("5.6"), "unit": "%"},
            "text": "4.0-5.6 %",
            "type": "",
        }
    ]
    assert display["interpretation"] == ["High"]
    assert display["interpretation_code"] == "H"
    assert display["effective"] == "2026-10-01T08:15:00+00:00"
    assert display["status"] == "final"


def test_it_maps_the_other_types_for_pages(patient):
    run(patient, "Condition", [r.condition()])
    run(patient, "AllergyIntolerance", [r.allergy()])
    run(patient, "Immunization", [r.immunization()])
    run(patient, "Encounter", [r.encounter()])

    assert stored(patient, "Condition", "cond-dm2-1").display["code"] == "Type 2 diabetes"
    assert stored(patient, "Condition", "cond-dm2-1").display["clinical_status"] == "active"
    allergy = stored(patient, "AllergyIntolerance", "allergy-pcn-1").display
    assert allergy["criticality"] == "high"
    assert allergy["reactions"][0]["manifestation"] == ["Hives"]
    immunization = stored(patient, "Immunization", "imm-flu-1").display
    assert immunization["dose_quantity"] == {"value": Decimal("0.5"), "unit": "mL"}
    assert immunization["effective"] == "2026-10-15"
    visit = stored(patient, "Encounter", "enc-1").display
    assert visit["reason"] == ["Review of blood sugar control"]
    assert visit["diagnoses"] == ["Condition/cond-dm2-1"]


def test_it_maps_a_visit_note_with_its_text_and_encounter(patient):
    run(
        patient, "DocumentReference", [r.visit_note(text="Sugars improving — recheck in 3 months.")]
    )

    note = stored(patient, "DocumentReference", "note-1").display
    assert note["text"] == "Sugars improving — recheck in 3 months."
    assert note["encounters"] == ["Encounter/enc-1"]
    assert note["type"] == "Progress note"
    assert note["authors"] == ["Dr. Carol Reyes"]


def test_it_never_follows_a_note_attachment_url_and_quarantines_bad_base64(patient):
    by_url = r.visit_note("note-url")
    by_url["content"] = [{"attachment": {"contentType": "text/plain", "url": "https://x.test/n"}}]
    broken = r.visit_note("note-bad")
    broken["content"][0]["attachment"]["data"] = "not base64!"

    report = run(patient, "DocumentReference", [by_url, broken])

    assert (report.stored, report.quarantined) == (1, 1)
    assert stored(patient, "DocumentReference", "note-url").display["text"] == ""
    assert Quarantine.objects.get(fhir_id="note-bad").detail == (
        "invalid:content.0.attachment.data:base64_decode"
    )


def test_it_changes_nothing_when_the_same_version_comes_again(patient):
    run(patient, "Observation", [r.lab()])
    row = stored(patient, "Observation", "obs-hba1c-1")
    before = raw_row(row)

    report = run(patient, "Observation", [r.lab()])

    assert (report.stored, report.unchanged) == (0, 1)
    assert raw_row(row) == before
    assert FhirRecord.objects.filter(patient=patient).count() == 1


def test_it_replaces_a_stored_resource_with_a_newer_version(patient):
    run(patient, "Observation", [r.lab()])
    newer = r.lab(version="2", updated="2026-10-03T09:30:00+00:00", value=Decimal("6.9"))

    report = run(patient, "Observation", [newer])

    assert report.stored == 1
    row = stored(patient, "Observation", "obs-hba1c-1")
    assert (row.version_id, row.display["value"], row.resource) == ("2", Decimal("6.9"), newer)
    assert FhirRecord.objects.filter(patient=patient).count() == 1


def test_it_replaces_a_batch_of_newer_versions_with_one_update(patient):
    run(patient, "Observation", [r.lab(f"obs-{n}") for n in range(3)])
    newer = [
        r.lab(f"obs-{n}", version="2", updated="2026-10-03T09:30:00+00:00", value=Decimal("6.9"))
        for n in range(3)
    ]

    with CaptureQueriesContext(connection) as queries:
        report = run(patient, "Observation", newer)

    assert report.stored == 3
    updates = [q for q in queries if q["sql"].startswith('UPDATE "records_fhir_record"')]
    assert len(updates) == 1
    rows = FhirRecord.objects.filter(patient=patient).order_by("fhir_id")
    assert [(row.version_id, row.display["value"], row.resource) for row in rows] == [
        ("2", Decimal("6.9"), resource) for resource in newer
    ]


def test_it_compares_content_when_the_ehr_sends_no_version(patient):
    bare = {k: v for k, v in r.lab().items() if k != "meta"}
    run(patient, "Observation", [bare])

    again = run(patient, "Observation", [bare])
    changed = run(patient, "Observation", [bare | {"valueQuantity": {"value": 6, "unit": "%"}}])

    assert (again.unchanged, changed.stored) == (1, 1)
    assert stored(patient, "Observation", "obs-hba1c-1").display["value"] == 6


def test_it_keeps_the_stored_copy_when_an_older_version_arrives(patient):
    run(patient, "Observation", [r.lab(version="2", updated="2026-10-03T09:30:00+00:00")])

    report = run(patient, "Observation", [r.lab(version="1", value=Decimal("1.0"))])

    assert report.unchanged == 1
    assert stored(patient, "Observation", "obs-hba1c-1").display["value"] == Decimal("7.2")


def test_it_quarantines_an_invalid_resource_and_stores_the_rest(patient):
    broken = r.lab("obs-broken-1")
    broken["status"] = "definitely-not-a-status"
    broken["valueQuantity"]["value"] = "seven"

    report = run(patient, "Observation", [r.lab("obs-a"), broken, r.lab("obs-b")])

    assert (report.stored, report.quarantined) == (2, 1)
    assert not FhirRecord.objects.filter(fhir_id="obs-broken-1").exists()
    held = Quarantine.objects.get(patient=patient)
    assert (held.resource_type, held.fhir_id, held.reason) == (
        "Observation",
        "obs-broken-1",
        QuarantineReason.INVALID,
    )
    assert held.detail.startswith("invalid:")
    assert "seven" not in held.detail
    event = last_event(Action.RECORDS_QUARANTINE)
    assert (event.patient_id, event.object_type, event.object_id) == (
        patient.pk,
        "Observation",
        "obs-broken-1",
    )


def test_it_quarantines_a_resource_of_another_type_or_without_id(patient):
    nameless = r.lab()
    del nameless["id"]

    report = run(patient, "Observation", [r.condition(), nameless, "not a resource"])

    assert report.quarantined == 3
    reasons = sorted(Quarantine.objects.values_list("reason", flat=True))
    assert reasons == ["no_id", "wrong_resource_type", "wrong_resource_type"]
    assert not FhirRecord.objects.exists()


@pytest.mark.parametrize(
    "subject",
    [
        {"reference": f"Patient/{r.OTHER_FHIR_ID}"},
        {"reference": f"https://elsewhere.example/fhir/Patient/{r.PATIENT_FHIR_ID}"},
        {"reference": f"Group/{r.PATIENT_FHIR_ID}"},
        {"display": "Alice"},
        None,
    ],
)
def test_it_drops_a_resource_about_another_patient_and_raises_an_alert(patient, subject):
    canary = "CanaryForeignLab7731"
    foreign = r.lab("obs-foreign-1", code_text=canary)
    if subject is None:
        del foreign["subject"]
    else:
        foreign["subject"] = subject

    report = run(patient, "Observation", [foreign, r.lab()])

    assert (report.stored, report.dropped) == (1, 1)
    assert not FhirRecord.objects.filter(fhir_id="obs-foreign-1").exists()
    alert = last_event(Action.RECORDS_FOREIGN)
    assert (alert.severity, alert.outcome) == (Severity.HIGH, Outcome.DENIED)
    assert (alert.patient_id, alert.object_type, alert.object_id) == (
        patient.pk,
        "Observation",
        "obs-foreign-1",
    )
    assert Quarantine.objects.get().reason == QuarantineReason.FOREIGN_PATIENT
    assert canary not in all_rows_text()


def test_it_never_stores_clinical_text_in_the_clear(patient):
    canary = "CanaryLabCode4242"
    run(patient, "Observation", [r.lab(code_text=canary, unit="CanaryUnit9")])

    everything = all_rows_text()
    assert "obs-hba1c-1" in everything  # the row is there, and was read
    for needle in (canary, canary.casefold(), canary.encode().hex(), "CanaryUnit9", "4548-4"):
        assert needle not in everything


def test_it_records_one_sync_event_with_counts(patient):
    broken = r.lab("obs-broken-1", value="x")

    run(patient, "Observation", [r.lab(), broken])

    (event,) = events(Action.RECORDS_SYNC)
    assert (event.patient_id, event.object_type, event.outcome) == (
        patient.pk,
        "Observation",
        Outcome.SUCCESS,
    )
    assert event.object_id == "stored=1,unchanged=0,quarantined=1,dropped=0,removed=0"


def test_it_moves_the_high_water_mark_to_the_newest_last_updated(patient):
    run(
        patient,
        "Observation",
        [r.lab("a", updated="2026-10-05T00:00:00Z"), r.lab("b", updated="2026-10-02T00:00:00Z")],
    )
    run(patient, "Observation", [r.lab("c", updated="2026-10-04T00:00:00Z")])

    state = SyncState.objects.get(patient=patient, resource_type="Observation")
    assert state.high_water == datetime(2026, 10, 5, tzinfo=UTC)
    assert state.last_synced_at is not None


def test_it_writes_each_batch_before_reading_the_next(patient):
    seen_in_db = []

    def pages():
        for i in range(5):
            seen_in_db.append(FhirRecord.objects.filter(patient=patient).count())
            yield r.lab(f"obs-{i}")

    report = run(patient, "Observation", pages(), batch_size=2)

    assert report.stored == 5
    # Pulling the 3rd and 5th resource happens after the batch before was written.
    assert seen_in_db == [0, 0, 2, 2, 4]


def test_it_keeps_finished_batches_when_the_upstream_fails(patient):
    def pages():
        yield r.lab("obs-0", updated="2026-10-05T00:00:00Z")
        yield r.lab("obs-1")
        raise RuntimeError("connection reset")

    with pytest.raises(RuntimeError):
        run(patient, "Observation", pages(), batch_size=2)

    assert FhirRecord.objects.filter(patient=patient).count() == 2
    event = last_event(Action.RECORDS_SYNC)
    assert event.outcome == Outcome.FAILURE
    assert event.object_id.startswith("stored=2,")
    assert not SyncState.objects.filter(patient=patient, high_water__isnull=False).exists()


def test_it_refuses_a_type_the_portal_does_not_sync(patient):
    with pytest.raises(ValueError, match="Patient"):
        run(patient, "Patient", [])


def test_it_sorts_rows_by_clinical_date(patient):
    early = r.newer(r.lab("early"), "1", "2026-10-02T09:30:00Z", effectiveDateTime="2025-01-01")
    run(patient, "Observation", [r.lab("late"), early])

    rows = sorted(FhirRecord.objects.filter(patient=patient), key=effective_sort_key)

    assert [row.fhir_id for row in rows] == ["early", "late"]


def test_a_resource_served_twice_holds_the_high_water_mark(patient):
    """Offset paging over a changing result set repeats one resource and skips another:
    the next sync must ask again from the old mark, or the skipped one is lost."""
    run(patient, "Observation", [r.lab("a", updated="2026-10-02T09:30:00+00:00")])
    changed = r.lab("a", version="2", updated="2026-10-05T09:30:00+00:00")

    report = run(
        patient,
        "Observation",
        [r.lab("a"), r.lab("b", updated="2026-10-04T09:30:00+00:00"), changed],
        batch_size=1,
    )

    assert report.repeated == 1
    assert stored(patient, "Observation", "a").version_id == "2"
    mark = SyncState.objects.get(patient=patient, resource_type="Observation").high_water
    assert mark == datetime(2026, 10, 2, 9, 30, tzinfo=UTC)


def test_it_keeps_the_newest_when_one_page_repeats_a_resource(patient):
    second = r.lab(version="2", updated="2026-10-03T09:30:00+00:00", value=Decimal("6.9"))

    report = run(patient, "Observation", [r.lab(), second, r.lab()])

    assert (report.stored, report.unchanged) == (1, 1)
    assert stored(patient, "Observation", "obs-hba1c-1").resource == second


def test_only_batches_with_nothing_for_the_audit_trail_skip_waiting_for_the_disk(
    committed, patient
):
    broken = r.lab("obs-broken-2")
    broken["valueQuantity"]["value"] = "seven"
    batches = [
        r.lab("obs-1"),
        r.lab("obs-2"),
        broken,
        r.lab("obs-3"),
        r.lab("obs-4"),
        r.lab("obs-5"),
    ]
    with CaptureQueriesContext(connection) as queries:
        report = run(patient, "Observation", batches, batch_size=2)
    assert (report.stored, report.quarantined) == (5, 1)
    skipped = [q["sql"] for q in queries if "synchronous_commit" in q["sql"]]
    # Batches 1 and 3 hold EHR copies only; batch 2 quarantined (an audit event) and
    # the last transaction (the sync event and state) wait for their flush as usual.
    assert skipped == ["SET LOCAL synchronous_commit TO OFF"] * 2
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"  # LOCAL: nothing else is affected


def test_inside_a_callers_transaction_every_commit_waits_for_the_disk(patient):
    # (The test's own transaction is the caller's here.) SET LOCAL would last until
    # the caller's commit, and cover whatever else it writes: never done then.
    with CaptureQueriesContext(connection) as queries:
        run(patient, "Observation", [r.lab("obs-1"), r.lab("obs-2")], batch_size=1)
    assert not [q for q in queries if "synchronous_commit" in q["sql"]]
