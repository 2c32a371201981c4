"""Syncing a patient against a fake EHR: what is asked for, and what a broken EHR cannot do.

Each misbehaviour hits one resource type after a good first sync: that type's
search ends within bounded time with a failed sync event, its stored rows stay
as they were, and the other types still sync.
"""

import time
from datetime import date, timedelta

import pytest
import time_machine
from django.utils import timezone

from audit.actions import Action, Outcome
from patients.models import PatientDemographics
from portal.crypto.scope import key_scope
from records.models import FhirRecord, Quarantine, SyncState
from records.sync import SYNCED_TYPES, SyncUnavailable, sync_patient
from tests.audit_helpers import events
from tests.fake_ehr import Reply, bundle
from tests.records import resources as r

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient(alice):
    alice.patient.fhir_id = r.PATIENT_FHIR_ID
    alice.patient.save()
    return alice.patient


def patient_resource(**changes):
    return {
        "resourceType": "Patient",
        "id": r.PATIENT_FHIR_ID,
        "identifier": [
            {
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                    ]
                },
                "system": "urn:oid:1.2.3.4",
                "value": "MRN-77001",
            }
        ],
        "name": [
            {"use": "usual", "given": ["Ally"], "family": "Example"},
            {"use": "official", "given": ["Alice", "Jane"], "family": "Example"},
        ],
        "birthDate": "1970-01-02",
        "telecom": [{"system": "phone", "value": "555-0100"}],
        **changes,
    }


def good_ehr(ehr):
    """Serves one lab, one problem and one visit note; every other type is empty."""
    served = {
        "Patient": [patient_resource()],
        "Observation": [r.lab()],
        "Condition": [r.condition()],
        "DocumentReference": [r.visit_note()],
    }

    def app(request):
        resource_type = request.path.rsplit("/", 1)[-1]
        return Reply(body=bundle(served.get(resource_type, [])))

    return app


def stored_ids(patient) -> set[tuple[str, str]]:
    return set(FhirRecord.objects.filter(patient=patient).values_list("resource_type", "fhir_id"))


def test_it_asks_only_for_the_shown_types_of_this_patient(ehr, fhir_client_for, patient):
    ehr.app = good_ehr(ehr)

    result = sync_patient(patient=patient, client=fhir_client_for(ehr))

    assert result.ok
    assert sorted(request.path for request in ehr.requests) == sorted(
        [f"/fhir/{t}" for t in SYNCED_TYPES] + ["/fhir/Patient"]
    )
    for request in ehr.requests:
        if request.path == "/fhir/Patient":  # the patient's own resource, by id
            assert request.query == {"_id": [r.PATIENT_FHIR_ID]}
            continue
        assert request.query["patient"] == [r.PATIENT_FHIR_ID]
        assert "_lastUpdated" not in request.query  # first sync: everything
    labs = next(q for q in ehr.requests if q.path == "/fhir/Observation")
    assert labs.query["category"] == ["laboratory"]
    assert stored_ids(patient) == {
        ("Observation", "obs-hba1c-1"),
        ("Condition", "cond-dm2-1"),
        ("DocumentReference", "note-1"),
    }


def test_it_asks_only_for_changes_after_the_first_sync(ehr, fhir_client_for, patient):
    ehr.app = good_ehr(ehr)
    sync_patient(patient=patient, client=fhir_client_for(ehr))
    ehr.requests.clear()

    result = sync_patient(patient=patient, client=fhir_client_for(ehr))

    labs = next(q for q in ehr.requests if q.path == "/fhir/Observation")
    # The newest meta.lastUpdated stored (lab(): 2026-10-02T09:30:00+00:00), inclusive.
    assert labs.query["_lastUpdated"] == ["ge2026-10-02T09:30:00+00:00"]
    empty = next(q for q in ehr.requests if q.path == "/fhir/Immunization")
    assert "_lastUpdated" not in empty.query  # nothing stored yet: no high-water mark
    assert result.reports["Observation"].unchanged == 1
    assert result.reports["Observation"].stored == 0


MISBEHAVIOURS = {
    "hang": Reply(body=bundle([]), delay=10),
    "server_error": Reply(status=503, body=b"down"),
    "rate_limited": Reply(status=429, body=b"", headers={"Retry-After": "1"}),
    "reset": Reply(reset=True),
    "malformed_json": Reply(body=b'{"resourceType": "Bundle", "entry": ['),
    "not_a_bundle": Reply(body={"resourceType": "OperationOutcome", "issue": []}),
    "oversized": Reply(flood=1024 * 1024),
}


@pytest.mark.parametrize("misbehaviour", list(MISBEHAVIOURS))
def test_a_broken_ehr_leaves_the_last_good_data_in_place(
    ehr, fhir_client_for, patient, misbehaviour
):
    ehr.app = good_ehr(ehr)
    sync_patient(patient=patient, client=fhir_client_for(ehr))
    before = FhirRecord.objects.get(patient=patient, resource_type="Observation")
    high_water = SyncState.objects.get(patient=patient, resource_type="Observation").high_water
    healthy = good_ehr(ehr)
    ehr.app = lambda request: (
        MISBEHAVIOURS[misbehaviour] if request.path.endswith("/Observation") else healthy(request)
    )

    started = time.monotonic()
    result = sync_patient(patient=patient, client=fhir_client_for(ehr))
    elapsed = time.monotonic() - started

    assert set(result.failed) == {"Observation"}
    assert elapsed < 10  # four attempts at most, each cut short by the client's limits
    after = FhirRecord.objects.get(patient=patient, resource_type="Observation")
    assert (after.pk, after.version_id, after.resource) == (
        before.pk,
        before.version_id,
        before.resource,
    )
    assert SyncState.objects.get(patient=patient, resource_type="Observation").high_water == (
        high_water
    )
    failed = [
        e
        for e in events(action=Action.RECORDS_SYNC, patient_id=patient.pk)
        if e.outcome == Outcome.FAILURE
    ]
    assert [(e.object_type, e.outcome) for e in failed] == [("Observation", Outcome.FAILURE)]
    # The other types went on: the problem list synced again after the failure.
    assert "Condition" in result.reports


def test_a_next_link_loop_ends_the_search_when_a_page_comes_again(ehr, fhir_client_for, patient):
    healthy = good_ehr(ehr)
    loop = {
        "1": bundle([r.lab("obs-a")], ehr.url("Observation?page=2")),
        "2": bundle([r.lab("obs-b")], ehr.url("Observation?page=1")),
    }

    def app(request):
        if request.path.endswith("/Observation"):
            return Reply(body=loop[request.query.get("page", ["1"])[0]])
        return healthy(request)

    ehr.app = app

    result = sync_patient(patient=patient, client=fhir_client_for(ehr))

    assert result.failed == {"Observation": "next_loop"}
    # Pages 1, 2, then "page=1" (not the same URL as the first query); its next link
    # (page 2 again) is refused.
    assert [q.path for q in ehr.requests].count("/fhir/Observation") == 3
    # The unfinished batch (one batch holds 100 resources) is not stored; the
    # next sync asks again from the same point.
    assert not FhirRecord.objects.filter(patient=patient, resource_type="Observation").exists()
    assert ("Condition", "cond-dm2-1") in stored_ids(patient)
    assert not SyncState.objects.filter(
        patient=patient, resource_type="Observation", high_water__isnull=False
    ).exists()


def test_a_resource_about_another_patient_is_dropped_and_the_rest_stored(
    ehr, fhir_client_for, patient, settings, mailoutbox
):
    settings.PORTAL_PRIVACY_OFFICER_EMAIL = "privacy@clinic.test"
    healthy = good_ehr(ehr)
    ehr.app = lambda request: (
        Reply(body=bundle([r.lab("mine"), r.lab("theirs", patient=r.OTHER_FHIR_ID)]))
        if request.path.endswith("/Observation")
        else healthy(request)
    )

    result = sync_patient(patient=patient, client=fhir_client_for(ehr))

    assert result.ok
    assert result.reports["Observation"].dropped == 1
    assert ("Observation", "mine") in stored_ids(patient)
    assert ("Observation", "theirs") not in stored_ids(patient)
    # One alert to a person for the sync, ids and counts only.
    [mail] = mailoutbox
    assert mail.to == ["privacy@clinic.test"]
    assert str(patient.pk) in mail.body
    assert "1 Observation" in mail.body
    assert r.OTHER_FHIR_ID not in mail.body
    assert "Hemoglobin" not in mail.body


def test_a_clean_sync_sends_no_alert(ehr, fhir_client_for, patient, settings, mailoutbox):
    settings.PORTAL_PRIVACY_OFFICER_EMAIL = "privacy@clinic.test"
    ehr.app = good_ehr(ehr)

    sync_patient(patient=patient, client=fhir_client_for(ehr))

    assert mailoutbox == []


def test_it_refuses_to_sync_a_patient_not_linked_to_the_ehr(ehr, fhir_client_for, alice):
    with pytest.raises(SyncUnavailable):
        sync_patient(patient=alice.patient, client=fhir_client_for(ehr))
    assert ehr.requests == []


# --- the patient's demographics ---------------------------------------------------


def demographics(patient):
    with key_scope():
        row = PatientDemographics.objects.filter(patient=patient).first()
        return (
            None
            if row is None
            else (row.given_name, row.family_name, row.birth_date, row.mrn, row.contact)
        )


def serve_patient(ehr, *patients):
    healthy = good_ehr(ehr)
    ehr.app = lambda request: (
        Reply(body=bundle(list(patients)))
        if request.path.endswith("/Patient")
        else healthy(request)
    )


def test_it_keeps_the_demographics_as_the_ehr_has_them(ehr, fhir_client_for, patient):
    ehr.app = good_ehr(ehr)

    first = sync_patient(patient=patient, client=fhir_client_for(ehr))
    again = sync_patient(patient=patient, client=fhir_client_for(ehr))

    assert (first.demographics, again.demographics) == ("stored", "unchanged")
    assert demographics(patient) == (
        "Alice Jane",
        "Example",
        date(1970, 1, 2),
        "MRN-77001",
        {"phone": "555-0100"},
    )
    event = events(action=Action.RECORDS_SYNC, object_type="Patient")[0]
    assert (event.object_id, event.outcome) == ("stored", Outcome.SUCCESS)


def test_it_ignores_a_patient_resource_with_another_id(ehr, fhir_client_for, patient):
    serve_patient(ehr, patient_resource(id="someone-else"))

    result = sync_patient(patient=patient, client=fhir_client_for(ehr))

    assert result.demographics == "not_found"
    assert demographics(patient) is None


def test_it_quarantines_an_invalid_patient_resource(ehr, fhir_client_for, patient):
    serve_patient(ehr, patient_resource(birthDate="2nd of January"))

    result = sync_patient(patient=patient, client=fhir_client_for(ehr))

    assert result.demographics == "invalid"
    assert demographics(patient) is None
    assert Quarantine.objects.get(resource_type="Patient").reason == "invalid"
    quarantined = events(action=Action.RECORDS_QUARANTINE, object_type="Patient")
    assert [e.object_id for e in quarantined] == [r.PATIENT_FHIR_ID]


def test_it_never_gives_one_mrn_to_two_patients(ehr, fhir_client_for, patient, mallory):
    PatientDemographics.objects.create(
        patient=mallory.patient,
        given_name="M",
        family_name="M",
        mrn="MRN-77001",
        mrn_system="urn:oid:1.2.3.4",
    )
    ehr.app = good_ehr(ehr)

    result = sync_patient(patient=patient, client=fhir_client_for(ehr))

    assert result.demographics == "mrn_conflict"
    assert demographics(patient) is None
    event = events(action=Action.RECORDS_SYNC, object_type="Patient")[0]
    assert (event.object_id, event.outcome) == ("mrn_conflict", Outcome.FAILURE)


def test_the_same_mrn_value_from_another_system_is_another_patients(
    ehr, fhir_client_for, patient, mallory
):
    """MRNs are unique within the system that assigns them, not across facilities."""
    PatientDemographics.objects.create(
        patient=mallory.patient,
        given_name="M",
        family_name="M",
        mrn="MRN-77001",
        mrn_system="https://other-hospital.example.org/mrn",
    )
    ehr.app = good_ehr(ehr)

    result = sync_patient(patient=patient, client=fhir_client_for(ehr))

    assert result.demographics == "stored"
    assert demographics(patient)[3] == "MRN-77001"
    assert PatientDemographics.objects.get(patient=patient).mrn_system == "urn:oid:1.2.3.4"


# --- what the EHR deleted ----------------------------------------------------------


def serve_labs(ehr, *labs):
    healthy = good_ehr(ehr)
    labs_page = Reply(body=bundle(list(labs)))
    ehr.app = lambda request: (
        labs_page if request.path.endswith("/Observation") else healthy(request)
    )


def lab_ids(patient) -> set[str]:
    return set(
        FhirRecord.objects.filter(patient=patient, resource_type="Observation").values_list(
            "fhir_id", flat=True
        )
    )


def test_a_complete_sync_removes_what_the_ehr_deleted(ehr, fhir_client_for, patient, settings):
    settings.FHIR_COMPLETE_SYNC_INTERVAL = 3600
    serve_labs(ehr, r.lab("kept"), r.lab("deleted-later"))
    sync_patient(patient=patient, client=fhir_client_for(ehr))
    serve_labs(ehr, r.lab("kept"))

    # Incremental syncs cannot see a deletion: the row stays for now.
    sync_patient(patient=patient, client=fhir_client_for(ehr))
    assert lab_ids(patient) == {"kept", "deleted-later"}

    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        result = sync_patient(patient=patient, client=fhir_client_for(ehr))

    labs_query = [q for q in ehr.requests if q.path == "/fhir/Observation"][-1]
    assert "_lastUpdated" not in labs_query.query  # the complete listing
    assert result.reports["Observation"].removed == 1
    assert lab_ids(patient) == {"kept"}
    removed = events(action=Action.RECORDS_REMOVED)
    assert [(e.patient_id, e.object_type, e.object_id) for e in removed] == [
        (patient.pk, "Observation", "deleted-later")
    ]


def test_a_complete_sync_keeps_a_resource_the_ehr_now_sends_broken(
    ehr, fhir_client_for, patient, settings
):
    settings.FHIR_COMPLETE_SYNC_INTERVAL = 0
    serve_labs(ehr, r.lab("lab-1"))
    sync_patient(patient=patient, client=fhir_client_for(ehr))
    broken = r.lab("lab-1", version="2", updated="2026-10-09T09:30:00+00:00", value="high")
    serve_labs(ehr, broken)

    result = sync_patient(patient=patient, client=fhir_client_for(ehr))

    assert result.reports["Observation"].quarantined == 1
    assert result.reports["Observation"].removed == 0
    assert FhirRecord.objects.get(patient=patient, fhir_id="lab-1").version_id == "1"


@pytest.mark.parametrize("trouble", ["repeat", "failure"])
def test_an_unreliable_listing_removes_nothing(ehr, fhir_client_for, patient, settings, trouble):
    settings.FHIR_COMPLETE_SYNC_INTERVAL = 0
    serve_labs(ehr, r.lab("a"), r.lab("b"))
    sync_patient(patient=patient, client=fhir_client_for(ehr))
    if trouble == "repeat":  # offset paging over a changing set: "b" may have been skipped
        serve_labs(ehr, r.lab("a"), r.lab("a", version="2", updated="2026-10-09T09:30:00Z"))
    else:
        healthy = good_ehr(ehr)
        ehr.app = lambda request: (
            Reply(status=503) if request.path.endswith("/Observation") else healthy(request)
        )

    sync_patient(patient=patient, client=fhir_client_for(ehr))

    assert lab_ids(patient) == {"a", "b"}
    assert not events(action=Action.RECORDS_REMOVED)
