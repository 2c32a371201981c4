"""Bill pages: the patient's (and a proxy's), billing staff's; nobody else's."""

import io

import pytest
from django.db import transaction
from pypdf import PdfReader

from audit.actions import Action
from billing.models import LedgerEntry, Statement
from billing.services import ledger_post
from patients.models import ProxyGrant
from tests.audit_helpers import events
from tests.conftest import sign_in_fully


@pytest.fixture
def paid(statement):
    with transaction.atomic():
        return ledger_post(
            statement=statement, kind=LedgerEntry.Kind.PAYMENT, amount=-10_000, stripe_id="pi_1"
        )


def test_it_shows_the_balance_on_alices_home_page(client, statement, alice):
    sign_in_fully(client, alice)
    response = client.get("/patient/")
    assert b"Balance due: 250.00 USD" in response.content


def test_it_lists_statements_and_payment_history(client, statement, paid, alice):
    sign_in_fully(client, alice)
    response = client.get("/patient/bills/")
    assert statement.number.encode() in response.content
    assert b"150.00 USD" in response.content  # the balance after the payment
    assert f"/patient/bills/receipts/{paid.pk}/".encode() in response.content


def test_it_shows_a_statement_with_its_line_items(client, stripe_on, statement, alice):
    sign_in_fully(client, alice)
    response = client.get(f"/patient/bills/{statement.pk}/")
    assert b"MRI knee" in response.content
    assert b'id="pay"' in response.content


def test_it_downloads_the_statement_as_a_pdf(client, statement, alice):
    sign_in_fully(client, alice)
    response = client.get(f"/patient/bills/{statement.pk}/statement.pdf")
    assert response["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert statement.number in text
    assert "250.00 USD" in text
    assert events(Action.RECORD_DOWNLOAD)[-1].patient_id == alice.patient_id


def test_it_shows_a_receipt(client, statement, paid, alice):
    sign_in_fully(client, alice)
    response = client.get(f"/patient/bills/receipts/{paid.pk}/")
    assert b"100.00 USD" in response.content
    assert statement.number.encode() in response.content


def test_it_answers_404_for_another_patients_statement_and_receipt(
    client, statement, paid, mallory
):
    sign_in_fully(client, mallory)
    assert client.get(f"/patient/bills/{statement.pk}/").status_code == 404
    assert client.post(f"/patient/bills/{statement.pk}/", {"choice": "full"}).status_code == 404
    assert client.get(f"/patient/bills/{statement.pk}/statement.pdf").status_code == 404
    assert client.get(f"/patient/bills/receipts/{paid.pk}/").status_code == 404


def test_it_shows_bills_to_a_guarantor_proxy_only(client, statement, greta, grant_to_greta):
    grant = grant_to_greta(scope=ProxyGrant.Scope.LIMITED, guarantor=False)
    sign_in_fully(client, greta)
    assert client.get("/patient/bills/").status_code == 404
    assert b"Balance due" not in client.get("/patient/").content
    grant.guarantor = True
    grant.save()
    assert client.get("/patient/bills/").status_code == 200
    assert b"Balance due: 250.00 USD" in client.get("/patient/").content


@pytest.mark.parametrize("cast", ["carol", "nina", "fran", "ada", "otto"])
def test_it_never_shows_bills_to_clinicians_or_the_front_desk(
    client, statement, alice, cast, request
):
    sign_in_fully(client, request.getfixturevalue(cast))
    for path in (
        "/staff/billing/",
        f"/staff/billing/patients/{alice.patient_id}/",
        f"/staff/billing/patients/{alice.patient_id}/statements/{statement.pk}/",
        "/staff/billing/reconciliation/",
    ):
        assert client.get(path).status_code == 403, path


def test_it_lets_billing_find_a_patient_by_mrn(client, bill, alice, alice_mrn):
    sign_in_fully(client, bill)
    response = client.post("/staff/billing/", {"mrn": "MRN-1"})
    assert response["Location"] == f"/staff/billing/patients/{alice.patient_id}/"
    missing = client.post("/staff/billing/", {"mrn": "MRN-404"})
    assert b"No patient has that medical record number" in missing.content
    # An MRN in a URL (logs, history, Referer) searches nothing.
    in_url = client.get("/staff/billing/", {"mrn": "MRN-1"})
    assert (in_url.status_code, b"MRN-1" in in_url.content) == (200, False)


def test_it_lets_billing_issue_a_statement(client, bill, alice, alice_mrn):
    sign_in_fully(client, bill)
    url = f"/staff/billing/patients/{alice.patient_id}/statements/new/"
    form = {
        "number": "B-1",
        "due_on": "2026-12-31",
        "line-TOTAL_FORMS": "3",
        "line-INITIAL_FORMS": "0",
        "line-MIN_NUM_FORMS": "1",
        "line-MAX_NUM_FORMS": "1000",
        "line-0-service_date": "2026-10-02",
        "line-0-description": "Office visit",
        "line-0-charge": "150.00",
        "line-0-insurance_paid": "100.00",
        "line-0-adjustment": "",
    }
    bad = client.post(url, {**form, "line-0-charge": "lots"})
    assert b"Enter an amount such as 25.00." in bad.content
    assert b'value="Office visit"' in bad.content
    assert not Statement.objects.exists()
    response = client.post(url, form)
    made = Statement.objects.get(number="B-1")
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert b"50.00 USD" in page.content
    assert events(Action.BILL_STATEMENT_ISSUE)[-1].actor_id == bill.pk
    assert made.patient_id == alice.patient_id


def test_it_asks_a_reason_for_a_refund_and_keeps_the_input(client, bill, alice, statement, paid):
    sign_in_fully(client, bill)
    url = f"/staff/billing/patients/{alice.patient_id}/statements/{statement.pk}/refund/{paid.pk}/"
    response = client.post(url, {"amount": "20.00", "reason": ""})
    assert response.status_code == 400
    assert b'value="20.00"' in response.content
    assert not LedgerEntry.objects.filter(kind="refund").exists()


def test_it_shows_billing_the_reconciliation(client, bill, statement, paid):
    sign_in_fully(client, bill)
    response = client.get("/staff/billing/reconciliation/", {"since": "2020-01-01"})
    assert statement.number.encode() in response.content
    assert b"payment: -10000" in response.content


def test_it_re_renders_the_plan_form_with_its_error_and_input(client, recorder, statement, alice):
    sign_in_fully(client, alice)
    response = client.post(f"/patient/bills/{statement.pk}/", {"monthly_amount": "10.00"})
    assert response.status_code == 200
    assert b"The smallest monthly payment is 25.00 USD." in response.content
    assert b'value="10.00"' in response.content
    assert recorder.requests == []
    started = client.post(f"/patient/bills/{statement.pk}/", {"monthly_amount": "100.00"})
    assert started["Location"].startswith("https://checkout.stripe.test/")


def test_it_lets_only_the_statement_page_lead_to_stripe_checkout(
    client, stripe_on, statement, alice
):
    sign_in_fully(client, alice)
    page = client.get(f"/patient/bills/{statement.pk}/")
    assert "form-action 'self' https://checkout.stripe.com" in page["Content-Security-Policy"]
    home = client.get("/patient/")
    assert "checkout.stripe.com" not in home["Content-Security-Policy"]
