"""Every sign-in step and the signed-in pages meet WCAG 2.1 A and AA, as axe-core checks them,
and load nothing from anyone but the portal itself."""

import datetime as dt
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from patients.models import CareTeam, PatientDemographics
from records.presenters import trend_key
from tests.appointments import builders as appointment_builders
from tests.records import builders

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN_AXE = """async (tags) => {
  const results = await axe.run(document, {runOnly: tags});
  return results.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    targets: v.nodes.map((n) => n.target.join(" ")),
  }));
}"""


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `npm ci` to install axe-core.", pytrace=False)
    return AXE.read_text()


def sign_in_page(portal, cast):
    portal.goto("/accounts/sign-in/")


def sign_in_page_with_an_error(portal, cast):
    portal.enter_password(cast["alice"], password="not the right password")
    expect(portal.page.get_by_role("alert")).to_be_visible()


def verify_page(portal, cast):
    portal.enter_password(cast["alice"])
    portal.wait_for("/accounts/sign-in/verify/")


def enrol_page(portal, cast):
    portal.enter_password(cast["newcomer"])
    portal.wait_for("/accounts/sign-in/enrol/")


def patient_home(portal, cast):
    portal.sign_in_fully(cast["alice"])
    portal.wait_for("/patient/")


def security_page(portal, cast):
    portal.sign_in_fully(cast["alice"])
    portal.goto("/accounts/security/")
    assert portal.at("/accounts/security/"), portal.page.url


def reauth_page(portal, cast):
    """Sudo mode's confirm page, reached by opening a sensitive change."""
    portal.sign_in_fully(cast["alice"])
    portal.goto("/accounts/security/email/")
    assert portal.at("/accounts/security/confirm/", next="/accounts/security/email/"), (
        portal.page.url
    )


def _record_page(path: str):
    """A page of alice's record, with real records in it."""

    def open_(portal, cast):
        builders.seed(cast["alice"].patient)
        portal.sign_in_fully(cast["alice"])
        portal.goto(path)
        assert portal.at(path), portal.page.url

    open_.__name__ = "record_" + (path.strip("/").rsplit("/", 1)[-1] or "summary")
    return open_


HBA1C = trend_key({"system": "http://loinc.org", "code": "4548-4"})
RECORD_PAGES = [
    _record_page(f"/patient/records/{page}")
    for page in [
        "",
        "labs/",
        f"labs/{HBA1C}/",
        "visits/",
        "medications/",
        "allergies/",
        "immunizations/",
        "problems/",
    ]
]
RECORD_PAGES[2].__name__ = "record_lab_trend"


def clinician_record_page(portal, cast):
    """A clinician's view of alice's labs: the patient banner and the same tables."""
    alice, carol = cast["alice"], cast["carol"]
    builders.seed(alice.patient)
    team = CareTeam.objects.create(name="Accessibility ward")
    team.members.add(carol)
    team.patients.add(alice.patient)
    PatientDemographics.objects.create(
        patient=alice.patient, given_name="Alice", family_name="Example", mrn="MRN-2001"
    )
    portal.sign_in_fully(carol)
    path = f"/staff/patients/{alice.patient.pk}/labs/"
    portal.goto(path)
    assert portal.at(path), portal.page.url


def _ward_with_a_thread(cast):
    from messaging import services
    from messaging.models import Topic

    alice, carol = cast["alice"], cast["carol"]
    team = CareTeam.objects.create(name="Messaging ward")
    team.members.add(carol)
    team.patients.add(alice.patient)
    thread = services.thread_start(
        actor=alice, topic=Topic.MEDICAL, subject="A question", body="Is this normal?"
    )
    services.message_reply(actor=carol, thread_id=thread.pk, body="Yes, it is.")
    return thread


def messages_compose_page(portal, cast):
    portal.sign_in_fully(cast["alice"])
    portal.goto("/patient/messages/new/")
    portal.page.get_by_role("button", name="Send").click()  # with its errors shown
    expect(portal.page.get_by_text("This field is required.").first).to_be_visible()


def messages_inbox_page(portal, cast):
    _ward_with_a_thread(cast)
    portal.sign_in_fully(cast["alice"])
    portal.goto("/patient/messages/")


def messages_thread_page(portal, cast):
    thread = _ward_with_a_thread(cast)
    portal.sign_in_fully(cast["alice"])
    portal.goto(f"/patient/messages/{thread.pk}/")


def messages_staff_thread_page(portal, cast):
    thread = _ward_with_a_thread(cast)
    portal.sign_in_fully(cast["carol"])
    portal.goto("/staff/messages/")
    portal.goto(f"/staff/messages/{thread.pk}/")


def _appointment_page(path: str, name: str):
    """A page of alice's appointments, with a clinic that has open slots every day."""

    def open_(portal, cast):
        place = appointment_builders.location()
        kind = appointment_builders.visit_type(min_notice_minutes=0)
        appointment_builders.weekdays(
            cast["carol"], place, kind, start=dt.time(0), end=dt.time(23, 30), days=range(7)
        )
        portal.sign_in_fully(cast["alice"])
        target = path.format(kind=kind.pk)
        portal.goto(target)
        assert portal.at(target.split("?")[0]), portal.page.url

    open_.__name__ = name
    return open_


APPOINTMENT_PAGES = [
    _appointment_page("/patient/appointments/", "appointments"),
    _appointment_page("/patient/appointments/find/?visit_type={kind}", "appointment_slots"),
]


def _refill_request(cast):
    from refills.models import Pharmacy
    from tests.refills.conftest import ALICE_FHIR, ALICE_MEDICINES, ask, store

    alice, carol = cast["alice"], cast["carol"]
    team = CareTeam.objects.create(name="Refills ward")
    team.members.add(carol)
    team.patients.add(alice.patient)
    store(alice.patient, ALICE_FHIR, ALICE_MEDICINES)
    Pharmacy.objects.create(name="Corner", address="1 Main St", phone="555", ncpdp_id="1234567")
    return ask(alice, "med-metformin", "med-lisinopril")


def refills_form_page(portal, cast):
    _refill_request(cast)
    portal.sign_in_fully(cast["alice"])
    portal.goto("/patient/refills/new/")
    portal.page.get_by_role("button", name="Send request").click()  # with its errors shown
    expect(portal.page.get_by_text("Choose at least one medicine.")).to_be_visible()


def refills_status_page(portal, cast):
    request = _refill_request(cast)
    portal.sign_in_fully(cast["alice"])
    portal.goto(f"/patient/refills/{request.pk}/")


def refills_staff_pages(portal, cast):
    request = _refill_request(cast)
    portal.sign_in_fully(cast["carol"])
    portal.goto("/staff/refills/")
    portal.goto(f"/staff/refills/{request.pk}/")


def _assistant_typed(portal, cast, text: str):
    _refill_request(cast)
    portal.sign_in_fully(cast["alice"])
    portal.goto("/patient/assistant/")
    portal.page.get_by_label("Your message").fill(text)
    portal.page.get_by_role("button", name="Send", exact=True).click()


def assistant_confirm_page(portal, cast):
    """The conversation with a confirmation's Yes / No (a refill to the preferred pharmacy)."""
    _assistant_typed(portal, cast, "refill my warfarin")
    expect(portal.page.locator("form.confirm")).to_be_visible()


def assistant_emergency_page(portal, cast):
    _assistant_typed(portal, cast, "I have chest pain")
    expect(portal.page.get_by_role("alert")).to_contain_text("Call 911")


def assistant_alerts_page(portal, cast):
    from assistant.alerts import alert_raise

    _refill_request(cast)
    alert_raise(
        patient_id=cast["alice"].patient_id, kind="red_flag", priority="urgent", detail="pain"
    )
    portal.sign_in_fully(cast["carol"])
    portal.goto("/staff/assistant/alerts/")


PAGES = [
    sign_in_page,
    sign_in_page_with_an_error,
    verify_page,
    enrol_page,
    patient_home,
    security_page,
    reauth_page,
    *RECORD_PAGES,
    clinician_record_page,
    messages_compose_page,
    messages_inbox_page,
    messages_thread_page,
    messages_staff_thread_page,
    *APPOINTMENT_PAGES,
    refills_form_page,
    refills_status_page,
    refills_staff_pages,
    assistant_confirm_page,
    assistant_emergency_page,
    assistant_alerts_page,
]


@pytest.mark.parametrize("open_page", PAGES, ids=[p.__name__ for p in PAGES])
def test_it_has_no_wcag_violations_and_no_third_party_requests_on_the(
    open_page, open_portal, axe_source, alice, newcomer, carol
):
    portal = open_portal()
    requests: list[str] = []
    portal.page.on("request", lambda request: requests.append(request.url))

    open_page(portal, {"alice": alice, "newcomer": newcomer, "carol": carol})
    portal.page.wait_for_load_state("load")
    # Injected through DevTools rather than a <script>, so the page's CSP stays on.
    portal.page.evaluate(axe_source)
    violations = portal.page.evaluate(RUN_AXE, WCAG_TAGS)

    found = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']}; at {', '.join(v['targets'])}"
        for v in violations
    )
    assert not violations, f"axe found WCAG violations on {portal.page.url}:\n{found}"
    own = urlsplit(portal.url)
    elsewhere = [
        url
        for url in requests
        if urlsplit(url).scheme not in {"data", "blob"}
        and (urlsplit(url).scheme, urlsplit(url).netloc) != (own.scheme, own.netloc)
    ]
    assert requests, "no requests were seen"
    assert not elsewhere, f"requests to hosts other than {own.netloc}: {elsewhere}"
