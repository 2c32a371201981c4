"""Secure messaging in a real browser: alice writes with a PDF attached, carol claims and
answers from the clinical pool, alice reads the answer; the notice e-mail has no PHI."""

import io

from django.core import mail
from playwright.sync_api import expect
from procrastinate.contrib.django.models import ProcrastinateJob
from pypdf import PdfWriter

from messaging.tasks import _send as send_message_notice
from patients.models import CareTeam

SUBJECT = "Rash after new cream"
BODY = "CANARY-e2e the rash spread to my arm"
REPLY = "Stop the cream and come in on Monday."


def _pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_it_carries_a_message_from_patient_to_clinician_and_back(
    open_portal, browser, alice, carol
):
    team = CareTeam.objects.create(name="Ward 3")
    team.members.add(carol)
    team.patients.add(alice.patient)

    portal = open_portal()
    page = portal.page
    portal.sign_in_fully(alice)
    page.get_by_role("link", name="Messages").first.click()
    portal.wait_for("/patient/messages/")
    page.get_by_role("link", name="New message").click()
    expect(page.get_by_role("note").first).to_contain_text("not for emergencies")
    page.get_by_label("Topic").select_option("medical")
    page.get_by_label("Subject").fill(SUBJECT)
    page.get_by_role("textbox", name="Message").fill(BODY)
    page.get_by_label("Attach files (optional)").set_input_files(
        [{"name": "rash.pdf", "mimeType": "application/pdf", "buffer": _pdf()}]
    )
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(SUBJECT)
    expect(page.get_by_role("link", name="rash.pdf")).to_be_visible()

    staff_context = browser.new_context(ignore_https_errors=True, locale="en-US")
    staff_context.set_default_timeout(10_000)
    staff = type(portal)(page=staff_context.new_page(), url=portal.url)
    try:
        staff.sign_in_fully(carol)
        staff.page.get_by_role("link", name="Messages").click()
        staff.wait_for("/staff/messages/")
        staff.page.get_by_role("link", name=SUBJECT).click()
        expect(staff.page.get_by_text(BODY)).to_be_visible()
        staff.page.get_by_role("button", name="Claim").click()
        expect(staff.page.get_by_text("Assigned to: Dr Carol Chen")).to_be_visible()
        staff.page.get_by_label("Your reply").fill(REPLY)
        staff.page.get_by_role("button", name="Send reply").click()
        expect(staff.page.get_by_text(REPLY)).to_be_visible()
    finally:
        staff_context.close()

    portal.goto("/patient/")
    expect(page.get_by_role("link", name="Messages (1 unread)")).to_be_visible()
    page.get_by_role("link", name="Messages (1 unread)").click()
    page.get_by_role("link", name=SUBJECT).click()
    expect(page.get_by_text(REPLY)).to_be_visible()
    expect(page.get_by_text("Dr Carol Chen")).to_be_visible()

    (job,) = ProcrastinateJob.objects.filter(task_name="messaging.send_message_notice")
    send_message_notice(job.args["patient_id"])
    (notice,) = mail.outbox
    text = notice.subject + notice.body
    assert "You have a new message in Carebridge" in text
    for secret in (SUBJECT, BODY, REPLY, "Carol", "Chen", "alice", "Ward 3", "rash"):
        assert secret not in text
