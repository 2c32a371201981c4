"""A real patient's way in, in a browser: the desk invites, the patient activates.

The front desk finds the patient on a real FHIR server (sekmet), invites them
and downloads the letter; the patient types the code from the letter (read back
from the PDF), their last name and birth date, chooses sign-in details, sets up
an authenticator, and, once the first sync has run, sees their results.
"""

import io
import re
import threading

import pytest
from playwright.sync_api import expect
from procrastinate.contrib.django import app
from pypdf import PdfReader

from tests.conftest import totp_from_secret
from tests.records import resources as r

FHIR_ID = "e2e-invited-patient"
MRN_SYSTEM = "https://clinic.example.org/mrn"


@pytest.fixture
def ehr(settings, ehr_server):
    smart = ehr_server.smart_config()
    env = {
        "FHIR_BASE_URL": ehr_server.base_url,
        "FHIR_CA_BUNDLE": ehr_server.ca_bundle,
        "FHIR_CLIENT_ID": smart.client_id,
        "FHIR_PRIVATE_KEY_FILE": str(smart.private_key_file),
        "FHIR_KEY_ID": smart.key_id,
        "FHIR_SCOPE": smart.scope,
    }
    for name, value in env.items():  # the sync runs in this process, with these settings
        setattr(settings, name, value)
    ehr_server.load(
        [
            {
                "resourceType": "Patient",
                "id": FHIR_ID,
                "identifier": [
                    {
                        "type": {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                    "code": "MR",
                                }
                            ]
                        },
                        "system": MRN_SYSTEM,
                        "value": "E2E-4411",
                    }
                ],
                "name": [{"use": "official", "family": "Okonkwo", "given": ["Ada"]}],
                "birthDate": "1979-06-30",
                "address": [{"use": "home", "line": ["9 Test Street"], "city": "Springfield"}],
            },
            r.lab("e2e-inv-lab-1", patient=FHIR_ID),
        ]
    )
    return env


def run_worker() -> None:
    """Every waiting sync job, as `make run`'s worker would run it; in a thread of its own,
    because Playwright's sync API keeps an event loop running in this one."""

    def work() -> None:
        with app.replace_connector(app.connector.get_worker_connector()):
            app.run_worker(queues=["sync"], wait=False, install_signal_handlers=False)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()


def test_the_desk_invites_and_the_patient_activates_with_the_letters_code(
    open_portal, ehr, fran, browser
):
    desk = open_portal(env=ehr)
    desk.sign_in_fully(fran)
    desk.goto("/staff/invitations/")
    desk.page.get_by_label("Medical record number").fill("E2E-4411")
    desk.page.get_by_role("button", name="Search the EHR").click()
    row = desk.page.get_by_role("row", name=re.compile("Ada Okonkwo"))
    expect(row).to_contain_text("1979")
    row.get_by_role("button", name="Invite").click()
    expect(desk.page.get_by_role("heading", name="Invitation ready")).to_be_visible()
    with desk.page.expect_download() as download:
        desk.page.get_by_role("button", name="Download the letter (PDF)").click()
    letter = "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(download.value.path().read_bytes())).pages
    )
    code = re.search(r"\b([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})\b", letter).group(1)
    assert "Ada Okonkwo" in letter
    assert "9 Test Street" in letter

    # The patient, in a browser of their own.
    context = browser.new_context(ignore_https_errors=True, locale="en-US")
    page = context.new_page()
    base = desk.url
    page.goto(base + "/activate/")
    page.get_by_label("Activation code").fill(code.lower().replace("-", " "))
    page.get_by_label("Last name").fill("okonkwo")
    page.get_by_label("Date of birth").fill("1979-06-30")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(base + "/activate/account/")
    page.get_by_label("Username").fill("ada.okonkwo")
    page.get_by_label("E-mail address").fill("ada.okonkwo@example.org")
    page.get_by_label("Password", exact=True).fill("correct horse battery staple 9")
    page.get_by_label("Password again").fill("correct horse battery staple 9")
    page.get_by_role("button", name="Create my account").click()

    page.wait_for_url(re.compile(r"/accounts/sign-in/enrol/"))
    secret = page.locator("#totp-secret").get_attribute("data-secret")
    page.get_by_label("6-digit code from your app").fill(totp_from_secret(secret))
    page.get_by_role("button", name="Turn on two-step sign-in").click()
    expect(page.locator("#backup-codes li")).to_have_count(10)
    page.get_by_role("link", name="I've saved them — continue").click()
    page.wait_for_url(base + "/patient/")

    run_worker()  # the first sync, queued when the account was made
    page.goto(base + "/patient/records/labs/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    expect(page.locator("main")).to_contain_text("Hemoglobin A1c")
    context.close()

    # The same code does not work twice.
    again = browser.new_context(ignore_https_errors=True, locale="en-US").new_page()
    again.goto(base + "/activate/")
    again.get_by_label("Activation code").fill(code)
    again.get_by_label("Last name").fill("Okonkwo")
    again.get_by_label("Date of birth").fill("1979-06-30")
    again.get_by_role("button", name="Continue").click()
    expect(again.get_by_role("alert")).to_contain_text("We couldn't match those details")
