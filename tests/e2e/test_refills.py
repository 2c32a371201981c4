"""Prescription refills in a real browser: alice asks for two medicines (the controlled one
is not offered), carol approves one and denies the other, alice sees both outcomes; the
decisions then reach the demo EHR as FHIR and are read back from it."""

import uuid

from playwright.sync_api import expect

from patients.models import CareTeam
from refills import fhir, tasks
from refills.models import EhrState, Pharmacy, Prescriber, RefillItem
from tests.refills.conftest import prescription, store

METFORMIN = "Metformin 1000 mg oral tablet"
LISINOPRIL = "Lisinopril 20 mg oral tablet"
OXYCODONE = "Oxycodone 5 mg oral tablet"


def test_a_refill_goes_from_the_medicines_page_to_the_prescriber_and_back(
    open_portal, browser, alice, carol, ehr_server, settings
):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol)
    team.patients.add(alice.patient)
    fhir_id = f"pat-e2e-{uuid.uuid4().hex[:12]}"
    medicines = [
        prescription(f"{fhir_id}-met", rxnorm="6809", name=METFORMIN, patient=fhir_id),
        prescription(f"{fhir_id}-lis", rxnorm="29046", name=LISINOPRIL, patient=fhir_id),
        prescription(f"{fhir_id}-oxy", rxnorm="7804", name=OXYCODONE, patient=fhir_id, repeats=0),
    ]
    store(alice.patient, fhir_id, medicines)
    Prescriber.objects.create(user=carol, ehr_requester="Dr Carol Chen")
    Pharmacy.objects.create(
        name="Corner Pharmacy", address="1 Main St", phone="555-0100", ncpdp_id="1234567"
    )

    portal = open_portal()
    page = portal.page
    portal.sign_in_fully(alice)
    portal.goto("/patient/records/medications/")
    oxycodone_row = page.get_by_role("row", name=OXYCODONE)
    expect(oxycodone_row).to_contain_text("controlled medicine")
    expect(oxycodone_row.get_by_role("link")).to_have_count(0)
    page.get_by_role("row", name=METFORMIN).get_by_role("link", name="Request a refill").click()
    portal.wait_for("/patient/refills/new/", medicine=f"{fhir_id}-met")
    expect(page.get_by_label(OXYCODONE, exact=False)).to_have_count(0)
    expect(page.get_by_label(f"{METFORMIN} (refill)")).to_be_checked()
    page.get_by_label(f"{LISINOPRIL} (refill)").check()
    page.get_by_label("Pharmacy").select_option(label="Corner Pharmacy, 1 Main St (555-0100)")
    page.get_by_label("Anything your care team should know (optional)").fill("Away next week")
    page.get_by_role("button", name="Send request").click()
    expect(page.get_by_role("status")).to_contain_text("Your request was sent")
    expect(page.get_by_role("heading", name=METFORMIN)).to_be_visible()

    staff_context = browser.new_context(ignore_https_errors=True, locale="en-US")
    staff_context.set_default_timeout(10_000)
    staff = type(portal)(page=staff_context.new_page(), url=portal.url)
    try:
        staff.sign_in_fully(carol)
        staff.page.get_by_role("link", name="Refill requests").click()
        staff.wait_for("/staff/refills/")
        staff.page.get_by_role("link", name=METFORMIN).click()
        metformin = staff.page.locator("section", has_text=METFORMIN)
        metformin.get_by_label("Decision").select_option("approve")
        metformin.get_by_label("Refills").fill("2")
        metformin.get_by_label("Days' supply").fill("90")
        metformin.get_by_role("button", name="Save decision").click()
        expect(staff.page.get_by_role("status")).to_contain_text("Your decision is saved")
        lisinopril = staff.page.locator("section", has_text=LISINOPRIL)
        lisinopril.get_by_label("Decision").select_option("deny")
        lisinopril.get_by_label("Reason (for a denial)").select_option("STOPMED")
        lisinopril.get_by_role("button", name="Save decision").click()
        expect(staff.page.get_by_role("status")).to_contain_text("Your decision is saved")
    finally:
        staff_context.close()

    page.reload()
    expect(page.locator("section", has_text=METFORMIN)).to_contain_text("Approved")
    expect(page.locator("section", has_text=METFORMIN)).to_contain_text("waiting for the EHR")
    expect(page.locator("section", has_text=LISINOPRIL)).to_contain_text("Denied")
    expect(page.locator("section", has_text=LISINOPRIL)).to_contain_text(
        "Prescriber stopped medication"
    )

    # The write-back job, run here against the demo EHR, then read back over FHIR.
    ehr_server.load([{"resourceType": "Patient", "id": fhir_id}])
    settings.FHIR_BASE_URL = ehr_server.base_url
    from portal.fhir import FhirClient

    with FhirClient(
        ehr_server.fhir_config(), smart=ehr_server.smart_config(scope=fhir.WRITE_SCOPE)
    ) as client:
        for item in RefillItem.objects.all():
            tasks.write_decision_now(str(item.pk), client)
    approved = RefillItem.objects.get(medication_request_id=f"{fhir_id}-met")
    assert approved.ehr_state == EhrState.SENT
    status, new = ehr_server.writer.request(
        "GET", f"{ehr_server.base_url}/MedicationRequest/{fhir.prescription_id(approved)}"
    )
    assert status == 200
    assert new["priorPrescription"]["reference"] == f"MedicationRequest/{fhir_id}-met"
    tasks_found = ehr_server.writer.search("Task", {"patient": f"Patient/{fhir_id}"})
    assert sorted(t["status"] for t in tasks_found) == ["completed", "rejected"]
    page.reload()
    expect(page.locator("section", has_text=METFORMIN)).to_contain_text(
        "sent to the pharmacy by the clinic's system"
    )
