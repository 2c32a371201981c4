"""The record pages: real ingested data, in the right order, exactly as sent, audited once."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from audit.actions import Action, Severity
from patients.models import CareTeam, PatientDemographics
from records.presenters import trend_key
from tests.audit_helpers import events, last_event
from tests.conftest import sign_in_fully
from tests.records import builders
from tests.records import resources as r

HBA1C = trend_key({"system": "http://loinc.org", "code": "4548-4"})
GLUCOSE = trend_key({"system": "http://loinc.org", "code": builders.GLUCOSE[0]})
# (page path under /patient/records/, the audit row's object type)
PAGES = [
    ("", "Obs,Condition,MedRequest,MedStatement,Allergy,Visit"),
    ("labs/", "Observation,DiagnosticReport"),
    (f"labs/{HBA1C}/", "Observation"),
    ("visits/", "Encounter,Condition,DocumentReference"),
    ("medications/", "MedicationRequest,MedicationStatement"),
    ("allergies/", "AllergyIntolerance"),
    ("immunizations/", "Immunization"),
    ("problems/", "Condition"),
]


@pytest.fixture
def record(alice):
    builders.seed(alice.patient)
    return alice.patient


@pytest.fixture
def ward(alice, carol, nina):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol, nina)
    team.patients.add(alice.patient)
    return team


@pytest.fixture
def as_alice(client, alice, record):
    return sign_in_fully(client, alice)


def text_of(response) -> str:
    """The page's visible text, tags dropped and spaces squeezed."""
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def row_texts(response) -> list[str]:
    body = response.content.decode().split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
        for row in body.split("</tr>")[:-1]
    ]


# --- What the pages show --------------------------------------------------------------


def test_it_lists_lab_results_newest_first_with_values_exactly_as_sent(as_alice):
    response = as_alice.get("/patient/records/labs/")

    assert response.status_code == 200
    rows = row_texts(response)
    assert [row.split(" ")[0:3] for row in rows] == [
        ["1", "Oct", "2026,"],
        ["15", "Sep", "2026,"],
        ["1", "Jun", "2026,"],
        ["1", "Feb", "2026,"],
    ]
    newest = rows[0]
    assert "7.10" in newest
    assert "7.1 " not in newest.replace("7.10", "")
    assert "High" in newest
    assert "4.0-5.6 %" in newest
    results = response.context["results"]
    assert results[0].number == Decimal("7.10")


def test_it_flags_results_outside_the_reference_range(as_alice):
    rows = row_texts(as_alice.get("/patient/records/labs/"))

    glucose = next(row for row in rows if "Glucose" in row)
    assert "62" in glucose
    assert "Low" in glucose
    assert "70 to 99 mg/dL" in glucose
    normal = next(row for row in rows if "5.2" in row)
    assert "High" not in normal
    assert "Low" not in normal


def test_it_filters_the_results_by_test(as_alice):
    response = as_alice.get("/patient/records/labs/", {"test": GLUCOSE})

    assert [r.name for r in response.context["results"]] == [builders.GLUCOSE[1]]
    everything = as_alice.get("/patient/records/labs/", {"test": "not-a-key"})
    assert len(everything.context["results"]) == 4


def test_it_draws_a_trend_with_a_point_per_result_and_a_data_table(as_alice):
    response = as_alice.get(f"/patient/records/labs/{HBA1C}/")

    assert response.status_code == 200
    html = response.content.decode()
    svg = html.split("<svg", 1)[1].split("</svg>", 1)[0]
    assert 'role="img"' in svg
    assert "<title" in svg
    assert "<desc" in svg
    assert svg.count("<circle") == 3
    assert 'class="trend-band"' in svg  # the reference range
    # The only script is the portal's own session timer; the chart needs none.
    assert re.findall(r"<script[^>]*>", html) == [
        re.search(r'<script src="/static/js/session-timer[^"]*" defer>', html).group(0)
    ]
    ys = [float(y) for y in re.findall(r'<circle[^>]* cy="([\d.]+)"', svg)]
    assert ys[0] < ys[1] > ys[2]  # 6.4, 5.2, 7.10 oldest first: higher values sit higher
    table = row_texts(response)
    assert len(table) == 3
    assert table[0].startswith("1 Oct 2026")
    assert "7.10" in table[0]


def test_it_keeps_test_names_out_of_trend_urls(as_alice):
    response = as_alice.get("/patient/records/labs/")

    links = re.findall(r'href="(/patient/records/labs/[^"]+)"', response.content.decode())
    assert f"/patient/records/labs/{HBA1C}/" in links
    assert all(re.fullmatch(r"/patient/records/labs/[A-Za-z0-9_-]{12}/", link) for link in links)
    assert not any("4548" in link or "Hemoglobin" in link for link in links)


@pytest.mark.parametrize(
    "key", ["4548-4", "AAAAAAAAAAAA", HBA1C[:-1], HBA1C + "x", "Hemoglobin-A1c"]
)
def test_it_answers_404_for_any_other_trend_key(as_alice, key):
    assert as_alice.get(f"/patient/records/labs/{key}/").status_code == 404


def test_it_does_not_find_another_patients_test_by_its_key(client, alice, mallory, record):
    sign_in_fully(client, mallory)
    assert client.get(f"/patient/records/labs/{HBA1C}/").status_code == 404
    assert client.get("/patient/records/labs/").context["results"] == []


def test_it_shows_visits_with_their_diagnoses_and_notes(as_alice):
    response = as_alice.get("/patient/records/visits/")

    (visit,) = response.context["visits"]
    assert [c.name for c in visit.diagnoses] == ["Type 2 diabetes"]
    assert [n.fhir_id for n in visit.notes] == ["note-1"]
    page = text_of(response)
    assert "Diabetes follow-up visit" in page
    assert "Type 2 diabetes" in page
    assert "Sugars improving. Continue metformin" in page
    assert "Dr. Carol Reyes" in page


def test_it_lists_active_medicines_first_from_requests_and_statements(as_alice):
    response = as_alice.get("/patient/records/medications/")

    names = [m.name for m in response.context["medications"]]
    assert names == ["Metformin 500 mg", "Ibuprofen 200 mg", "Glipizide 5 mg"]
    page = text_of(response)
    assert "Prescribed by Dr Carol Chen" in page
    assert "Reported" in page


def test_it_lists_active_problems_first(as_alice):
    response = as_alice.get("/patient/records/problems/")

    assert [c.name for c in response.context["problems"]] == ["Type 2 diabetes", "Sprained ankle"]


def test_it_leaves_out_what_the_ehr_marked_entered_in_error(as_alice, record):
    withdrawn = builders.lab("lab-withdrawn", value=Decimal("9.90"), on="2026-10-20T08:00:00Z")
    withdrawn["status"] = "entered-in-error"
    wrong_diagnosis = r.newer(r.condition("cond-withdrawn"), "1", "2026-10-20T00:00:00Z")
    wrong_diagnosis["code"] = {"text": "Heart failure"}
    wrong_diagnosis["verificationStatus"] = {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                "code": "entered-in-error",
            }
        ]
    }
    builders.store(record, "Observation", [withdrawn])
    builders.store(record, "Condition", [wrong_diagnosis])

    labs = as_alice.get("/patient/records/labs/")
    problems = as_alice.get("/patient/records/problems/")

    assert "9.90" not in text_of(labs)
    assert len(row_texts(labs)) == 4  # the four real results
    assert "Heart failure" not in text_of(problems)
    assert "Type 2 diabetes" in text_of(problems)


def test_it_shows_allergies_and_immunizations(as_alice):
    allergies = text_of(as_alice.get("/patient/records/allergies/"))
    immunizations = text_of(as_alice.get("/patient/records/immunizations/"))

    assert "Penicillin" in allergies
    assert "Hives (moderate)" in allergies
    assert "Influenza vaccine" in immunizations
    assert "0.5 mL" in immunizations


def test_it_summarises_the_record(as_alice):
    response = as_alice.get("/patient/records/")

    context = response.context
    assert [r.name for r in context["latest_labs"]] == [
        "Hemoglobin A1c/Hemoglobin.total in Blood",
        builders.GLUCOSE[1],
    ]
    assert context["latest_labs"][0].value == "7.10"
    assert [c.name for c in context["problems"]] == ["Type 2 diabetes"]
    assert [m.name for m in context["medications"]] == ["Metformin 500 mg", "Ibuprofen 200 mg"]
    assert [a.name for a in context["allergies"]] == ["Penicillin"]
    assert context["last_visit"].fhir_id == "enc-1"
    assert "Sprained ankle" not in text_of(response)


def test_it_shows_when_the_data_was_last_synced(as_alice, alice):
    page = text_of(as_alice.get("/patient/records/labs/"))
    assert f"Last synced {timezone.localdate():%-d %b %Y}" in page
    assert 'name="csrfmiddlewaretoken"' in as_alice.get("/patient/records/labs/").content.decode()


def test_it_says_never_synced_for_a_patient_without_data(client, mallory):
    sign_in_fully(client, mallory)
    for path, _ in PAGES[:2] + PAGES[3:]:
        response = client.get(f"/patient/records/{path}")
        assert response.status_code == 200, path
        assert "Last synced never" in text_of(response), path


# --- Audit: one view event per page ---------------------------------------------------


@pytest.mark.parametrize(("path", "object_type"), PAGES)
def test_it_records_exactly_one_view_event_per_page(as_alice, alice, path, object_type):
    before = len(events(Action.RECORD_VIEW))

    assert as_alice.get(f"/patient/records/{path}").status_code == 200

    new = events(Action.RECORD_VIEW)[before:]
    assert len(new) == 1
    assert (new[0].actor_id, new[0].patient_id, new[0].object_type) == (
        alice.pk,
        alice.patient_id,
        object_type,
    )
    assert len(new[0].object_type) <= 60


def test_it_records_no_view_event_for_an_unknown_trend(as_alice):
    before = len(events(Action.RECORD_VIEW))
    as_alice.get("/patient/records/labs/AAAAAAAAAAAA/")
    assert len(events(Action.RECORD_VIEW)) == before


# --- Clinicians -----------------------------------------------------------------------


@pytest.mark.parametrize("cast", ["carol", "nina"])
def test_it_shows_care_team_clinicians_the_same_pages(client, ward, record, cast, request):
    sign_in_fully(client, request.getfixturevalue(cast))
    base = f"/staff/patients/{record.pk}"
    for path, object_type in PAGES:
        staff_path = f"{base}/{path or 'summary/'}"
        response = client.get(staff_path)
        assert response.status_code == 200, staff_path
        event = last_event(Action.RECORD_VIEW)
        assert (event.patient_id, event.object_type, event.severity) == (
            record.pk,
            object_type,
            Severity.INFO,
        )
    labs = client.get(f"{base}/labs/")
    assert labs.context["results"][0].value == "7.10"
    assert f'href="{base}/labs/{HBA1C}/"' in labs.content.decode()


def test_it_names_the_patient_on_every_clinician_page(client, ward, record, carol):
    PatientDemographics.objects.create(
        patient=record,
        given_name="Alice",
        family_name="Example",
        birth_date=date(1970, 1, 2),
        mrn="MRN-1001",
    )
    sign_in_fully(client, carol)
    for path, _ in PAGES:
        response = client.get(f"/staff/patients/{record.pk}/{path or 'summary/'}")
        banner = text_of(response).split("Summary", 1)[0]
        assert "Alice Example" in banner
        assert "MRN MRN-1001" in banner
        # The view event names the demographics among what was shown.
        assert last_event(Action.RECORD_VIEW).object_type.endswith(",Patient"), path
        assert len(last_event(Action.RECORD_VIEW).object_type) <= 60


def test_it_hides_a_patient_from_a_clinician_outside_the_care_team(client, ward, record, dave):
    sign_in_fully(client, dave)
    for path, _ in PAGES:
        assert client.get(f"/staff/patients/{record.pk}/{path or 'summary/'}").status_code == 404
    assert not events(Action.RECORD_VIEW)


def test_it_flags_views_through_break_glass_as_high_severity(client, ward, record, dave):
    from tests.portal.test_access import break_glass

    sign_in_fully(client, dave)
    break_glass(client, dave, record.user)
    response = client.get(f"/staff/patients/{record.pk}/labs/")

    assert response.status_code == 200
    assert "Emergency access" in text_of(response)
    assert last_event(Action.RECORD_VIEW).severity == Severity.HIGH


@pytest.mark.parametrize("cast", ["bill", "fran", "ada", "otto", "alice"])
def test_it_refuses_the_staff_record_pages_to_everyone_but_clinicians(
    client, ward, record, cast, request
):
    sign_in_fully(client, request.getfixturevalue(cast))
    for path, _ in PAGES:
        response = client.get(f"/staff/patients/{record.pk}/{path or 'summary/'}")
        assert response.status_code == 403, path
    assert not events(Action.RECORD_VIEW)


@pytest.mark.parametrize("cast", ["carol", "bill", "fran", "ada", "otto"])
def test_it_keeps_staff_out_of_the_patients_own_pages(client, record, cast, request):
    sign_in_fully(client, request.getfixturevalue(cast))
    for path, _ in PAGES:
        assert client.get(f"/patient/records/{path}").status_code == 403, path
    assert client.get("/patient/records/download/health-record.pdf").status_code == 403


# --- Unreadable data ------------------------------------------------------------------


def test_it_shows_the_marker_for_a_shredded_patient_instead_of_failing(client, ward, record, carol):
    from portal.crypto.services import patient_shred

    patient_shred(patient_id=record.pk, actor=carol, reason="test")
    sign_in_fully(client, carol)
    for path, _ in PAGES[:2] + PAGES[3:]:
        response = client.get(f"/staff/patients/{record.pk}/{path or 'summary/'}")
        assert response.status_code == 200, path
        assert "[disposed]" in response.content.decode(), path
    # A trend needs a readable result to know its test: none is, so there is none.
    assert client.get(f"/staff/patients/{record.pk}/labs/{HBA1C}/").status_code == 404


def test_it_shows_the_marker_for_one_tampered_row_and_the_rest(as_alice, record):
    from django.db import connection

    from records.models import FhirRecord

    row = FhirRecord.objects.get(patient=record, fhir_id="obs-hba1c-2")
    with connection.cursor() as cursor:  # swap in another row's ciphertext (AAD mismatch)
        cursor.execute(
            "UPDATE records_fhir_record SET display = (SELECT display FROM records_fhir_record "
            "WHERE fhir_id = 'obs-hba1c-1') WHERE id = %s",
            [row.pk],
        )
    response = as_alice.get("/patient/records/labs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "[unreadable — reported]" in page
    assert "7.10" in page
    assert "6.4" in page
    assert last_event(Action.DECRYPT_FAILED).patient_id == record.pk


# --- Refresh --------------------------------------------------------------------------


@pytest.fixture
def sync_requests(monkeypatch):
    """records.sync.request_sync stand-in: records calls, answers as told."""
    calls: list[dict] = []
    answer = {"value": True}

    def request_sync(**kwargs):
        calls.append(kwargs)
        if isinstance(answer["value"], Exception):
            raise answer["value"]
        return answer["value"]

    monkeypatch.setattr("records.sync.request_sync", request_sync)
    return calls, answer


def test_it_queues_a_refresh_and_returns_to_the_page(as_alice, record, alice, sync_requests):
    calls, _ = sync_requests
    response = as_alice.post("/patient/records/refresh/", {"next": "/patient/records/labs/"})

    assert response.status_code == 302
    assert response.url == "/patient/records/labs/"
    assert calls == [{"patient": record, "actor": alice, "reason": "refresh"}]
    assert "Refresh requested" in text_of(as_alice.get(response.url))


def test_it_says_when_a_refresh_is_rate_limited(as_alice, sync_requests):
    _, answer = sync_requests
    answer["value"] = False
    response = as_alice.post(
        "/patient/records/refresh/", {"next": "/patient/records/"}, follow=True
    )

    assert "You refreshed a moment ago; try again in a few minutes" in text_of(response)


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/staff/"])
def test_it_never_redirects_a_refresh_elsewhere(as_alice, sync_requests, target):
    response = as_alice.post("/patient/records/refresh/", {"next": target})
    assert response.url == "/patient/records/"


def test_it_says_when_there_is_no_ehr_to_refresh_from(as_alice, sync_requests):
    from records.sync import SyncUnavailable

    _, answer = sync_requests
    answer["value"] = SyncUnavailable("no EHR configured")
    response = as_alice.post("/patient/records/refresh/", follow=True)

    assert response.status_code == 200
    assert "not connected to the clinic" in text_of(response)


def test_it_refuses_a_refresh_by_get(as_alice, sync_requests):
    calls, _ = sync_requests
    assert as_alice.get("/patient/records/refresh/").status_code == 405
    assert calls == []


def test_it_lets_a_clinician_refresh_only_a_patient_they_may_see(
    client, ward, record, mallory, carol, sync_requests
):
    calls, _ = sync_requests
    sign_in_fully(client, carol)
    assert client.post(f"/staff/patients/{mallory.patient_id}/refresh/").status_code == 404
    response = client.post(f"/staff/patients/{record.pk}/refresh/")
    assert response.url == f"/staff/patients/{record.pk}/summary/"
    assert [c["patient"] for c in calls] == [record]


# --- The role x route matrix covers the new routes ------------------------------------

RECORD_PAGES = ["summary", "labs", "trend", "visits", "medications", "allergies"]
RECORD_PAGES += ["immunizations", "problems", "refresh"]


def test_it_declares_the_record_routes_for_the_matrix():
    from portal.access import CLINICAL_ROLES, PATIENT_SIDE_ROLES, Policy, view_policy
    from tests.urlwalk import walk

    # The patient's own pages serve proxies too (a parent, a caregiver): which record
    # they show is portal.access.current_patient_id's answer, checked by access_patient.
    declared = {r.name: view_policy(r.view, r.name.rsplit(":", 1)[0]) for r in walk()}
    for page in RECORD_PAGES:
        assert declared[f"my_records:{page}"] == (Policy.ROLES, PATIENT_SIDE_ROLES)
        assert declared[f"records:{page}"] == (Policy.ROLES, CLINICAL_ROLES)
    for download in ["my_records:download_bundle", "my_records:download_pdf"]:
        assert declared[download] == (Policy.ROLES, PATIENT_SIDE_ROLES)


def test_it_answers_404_before_405_for_someone_elses_refresh(client, ward, mallory, carol):
    sign_in_fully(client, carol)
    assert client.get(f"/staff/patients/{mallory.patient_id}/refresh/").status_code == 404
    assert client.get(f"/staff/patients/{carol.pk}/refresh/").status_code == 404


def test_it_shows_dates_as_sent_without_inventing_a_time(as_alice):
    problems = text_of(as_alice.get("/patient/records/problems/"))

    assert "3 Apr 2019" in problems
    assert "3 Apr 2019, 00:00" not in problems


@pytest.mark.parametrize(
    ("value", "shown"),
    [(Decimal("7.10"), "7.10"), (Decimal("1E+2"), "1E+2"), (12, "12"), (0.5, "0.5"), (True, "Yes")],
)
def test_it_renders_numbers_exactly_as_stored(value, shown):
    from records.presenters import text

    assert text(value) == shown


def test_it_refreshes_through_the_real_sync_module_without_an_ehr(as_alice, settings):
    settings.FHIR_BASE_URL = ""
    response = as_alice.post(
        "/patient/records/refresh/", {"next": "/patient/records/"}, follow=True
    )

    assert response.status_code == 200
    assert "not connected to the clinic" in text_of(response)
