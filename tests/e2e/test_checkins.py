"""Post-discharge check-ins in a real browser: alice, home two days after a hospital stay, finds
her check-in on the home page, answers it with a red flag, and sees the emergency instructions
at once; her care team has an urgent alert. The pages pass axe's WCAG 2.1 AA checks."""

import datetime as dt

from django.utils import timezone
from playwright.sync_api import expect

from assistant import checkins
from assistant.models import AlertKind, AlertPriority, CareAlert, CheckIn, CheckInStatus
from patients.models import CareTeam
from tests.e2e.test_accessibility import RUN_AXE, WCAG_TAGS, axe_source  # noqa: F401
from tests.records import builders
from tests.records import resources as r


def discharged_two_days_ago(patient) -> None:
    """A finished inpatient stay that ended two days ago (the server runs on real time)."""
    ended = timezone.now() - dt.timedelta(days=2)
    patient.fhir_id = r.PATIENT_FHIR_ID
    patient.save()
    encounter = {
        "resourceType": "Encounter",
        "id": "enc-e2e-stay",
        "meta": {"versionId": "1", "lastUpdated": ended.isoformat()},
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": f"Patient/{r.PATIENT_FHIR_ID}"},
        "period": {
            "start": (ended - dt.timedelta(days=3)).isoformat(),
            "end": ended.isoformat(),
        },
    }
    builders.store(patient, "Encounter", [encounter])
    checkins.checkins_schedule(patient_id=patient.pk, encounter_ids=["enc-e2e-stay"])


def no_wcag_violations(page, axe: str) -> None:
    page.evaluate(axe)
    violations = page.evaluate(RUN_AXE, WCAG_TAGS)
    assert not violations, violations


def answer(page, question: str, choice: str) -> None:
    page.get_by_role("group", name=question, exact=True).get_by_label(choice, exact=True).check()


def test_alice_answers_her_check_in_with_a_red_flag_and_sees_the_emergency_instructions(
    open_portal,
    alice,
    carol,
    axe_source,  # noqa: F811
):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol)
    team.patients.add(alice.patient)
    discharged_two_days_ago(alice.patient)

    portal = open_portal()
    page = portal.page
    portal.sign_in_fully(alice)
    portal.wait_for("/patient/")
    waiting = page.get_by_role("region", name="A check-in is waiting")
    expect(waiting).to_be_visible()
    waiting.get_by_role("link", name="Answer the check-in").click()
    page.wait_for_url("**/patient/assistant/checkins/*/")
    no_wcag_violations(page, axe_source)

    # Sent half answered first: the errors name what is missing, and nothing is lost.
    answer(page, "How are you feeling compared with when you left the hospital?", "Worse")
    page.get_by_label("Anything else you want your care team to know? (optional)").fill(
        "Not sleeping well"
    )
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_text("Please answer yes or no.").first).to_be_visible()
    feeling = page.get_by_role(
        "group", name="How are you feeling compared with when you left the hospital?"
    )
    expect(feeling.get_by_label("Worse")).to_be_checked()
    expect(
        page.get_by_label("Anything else you want your care team to know? (optional)")
    ).to_have_value("Not sleeping well")
    no_wcag_violations(page, axe_source)

    # A red flag is acted on at once, whatever else is still unanswered.
    answer(page, "Chest pain or pressure", "Yes")
    answer(page, "Is a follow-up visit with your clinic booked?", "No")
    page.get_by_role("button", name="Send my answers").click()

    emergency = page.get_by_role("alert")
    expect(emergency).to_contain_text("Call 911")
    expect(emergency).to_contain_text("nearest emergency department")
    expect(emergency).to_contain_text("Chest pain or pressure")
    expect(page.get_by_role("link", name="Find a time and book it")).to_be_visible()
    no_wcag_violations(page, axe_source)

    (checkin,) = CheckIn.objects.filter(status=CheckInStatus.ANSWERED)
    (alert,) = CareAlert.objects.all()
    assert (alert.kind, alert.priority, alert.red_flag_kind, alert.source_id) == (
        AlertKind.CHECKIN_RED_FLAG,
        AlertPriority.URGENT,
        "chest_pain",
        checkin.pk,
    )
    portal.goto("/patient/")
    expect(page.get_by_role("region", name="A check-in is waiting")).to_have_count(0)
