"""Billing staff cancel a payment plan: a reason is required, it is audited, the periodic
job charges nothing more (run by the real worker), the patient is told without PHI, the
card saved for the plan is detached on Stripe, nobody else may do it, and doing it twice
is harmless."""

import datetime as dt

import pytest
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.actions import Action
from billing import gateway, tasks
from billing.models import Installment, LedgerEntry, PaymentPlan
from billing.plans import installments_charge, plan_cancel
from billing.services import BillingRefused, statement_balance
from portal.access import clinic_today
from tests.audit_helpers import events
from tests.billing.conftest import CLINICAL, event
from tests.billing.test_plans import _plan_on_localstripe
from tests.conftest import sign_in_fully


@pytest.fixture
def active_plan(localstripe, deliver, statement, alice):
    """Alice's plan of 100.00 a month, active, its card attached to its Customer on Stripe
    (as Checkout in setup mode leaves it), the first installment paid today."""
    plan, completed = _plan_on_localstripe(statement, alice)
    deliver(event("checkout.session.completed", completed))
    plan.refresh_from_db()
    assert plan.status == "active"
    gateway.client().v1.payment_methods.attach(
        plan.payment_method_id, {"customer": plan.customer_id}
    )
    assert installments_charge() == 1
    assert statement_balance(statement) == 15_000
    return plan


def cancel(actor, plan, reason="Patient asked to pay by phone instead"):
    return plan_cancel(actor=actor, patient_id=plan.patient_id, plan_id=plan.pk, reason=reason)


def run_mail_worker() -> None:
    with app.replace_connector(app.connector.get_worker_connector()):
        app.run_worker(queues=["mail"], wait=False, install_signal_handlers=False)


def test_it_cancels_a_plan_with_its_reason_encrypted_and_audited(active_plan, bill):
    assert cancel(bill, active_plan, "Hardship after the knee MRI") is True
    plan = PaymentPlan.objects.get(pk=active_plan.pk)
    assert plan.status == "cancelled"
    assert plan.cancelled_by_id == bill.pk
    assert plan.cancelled_at is not None
    assert plan.cancel_reason == "Hardship after the knee MRI"
    (audited,) = [e for e in events(Action.BILL_PLAN) if e.actor_id == bill.pk]
    assert (audited.object_type, audited.object_id) == ("PaymentPlan", str(plan.pk))
    # The reason is stored encrypted, and the audit row holds ids only.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT cancel_reason::text FROM billing_paymentplan WHERE id = %s", [plan.pk]
        )
        (stored,) = cursor.fetchone()
    assert "knee" not in stored
    assert "knee" not in str(audited.__dict__)


def test_it_requires_a_reason_and_changes_nothing_without_one(active_plan, bill):
    with pytest.raises(BillingRefused, match="reason"):
        cancel(bill, active_plan, "   ")
    assert PaymentPlan.objects.get(pk=active_plan.pk).status == "active"


def test_cancelling_twice_is_harmless(active_plan, bill):
    assert cancel(bill, active_plan) is True
    assert cancel(bill, active_plan, "again") is False
    plan = PaymentPlan.objects.get(pk=active_plan.pk)
    assert plan.cancel_reason == "Patient asked to pay by phone instead"
    assert len([e for e in events(Action.BILL_PLAN) if e.actor_id == bill.pk]) == 1
    assert ProcrastinateJob.objects.filter(task_name="billing.send_plan_cancelled").count() == 1


@pytest.mark.parametrize("who", ["alice", "carol", "fran", "ada", "otto"])
def test_it_lets_only_billing_staff_cancel(active_plan, who, request):
    from django.http import Http404

    with pytest.raises(Http404):
        cancel(request.getfixturevalue(who), active_plan)
    assert PaymentPlan.objects.get(pk=active_plan.pk).status == "active"


def test_it_answers_404_for_another_patients_plan(active_plan, bill, mallory):
    from django.http import Http404

    with pytest.raises(Http404):
        plan_cancel(actor=bill, patient_id=mallory.patient_id, plan_id=active_plan.pk, reason="x")
    assert PaymentPlan.objects.get(pk=active_plan.pk).status == "active"


def test_it_charges_nothing_after_the_cancellation_even_when_installments_fall_due(
    active_plan, bill
):
    cancel(bill, active_plan)
    # A month later the second installment would be due.
    Installment.objects.filter(plan=active_plan).update(next_try_on=clinic_today())
    assert installments_charge(today=clinic_today() + dt.timedelta(days=40)) == 0
    assert LedgerEntry.objects.filter(kind="payment").count() == 1
    assert not Installment.objects.filter(plan=active_plan, tries__gt=1).exists()


def test_the_worker_charges_nothing_more_tells_the_patient_and_detaches_the_card(
    committed, localstripe, deliver, statement, alice, bill, mailoutbox
):
    plan, completed = _plan_on_localstripe(statement, alice)
    deliver(event("checkout.session.completed", completed))
    plan.refresh_from_db()
    api = gateway.client().v1
    api.payment_methods.attach(plan.payment_method_id, {"customer": plan.customer_id})
    assert api.payment_methods.retrieve(plan.payment_method_id).customer == plan.customer_id
    assert cancel(bill, plan) is True
    # Every installment is due now; the daily job runs in the real worker.
    Installment.objects.filter(plan=plan).update(next_try_on=clinic_today())
    tasks.charge_installments.defer(timestamp=0)
    run_mail_worker()

    assert not LedgerEntry.objects.filter(kind="payment").exists()
    assert set(Installment.objects.filter(plan=plan).values_list("tries", flat=True)) == {0}
    assert api.payment_methods.retrieve(plan.payment_method_id).customer is None
    (mail,) = [m for m in mailoutbox if m.subject == tasks.PLAN_CANCELLED_SUBJECT]
    assert mail.to == [alice.email]
    assert "no further payments" in mail.body
    for word in (*CLINICAL, "phone", "250.00", statement.number):
        assert word.lower() not in (mail.subject + mail.body).lower()
    billing_jobs = ProcrastinateJob.objects.filter(task_name__startswith="billing.")
    assert {j.task_name for j in billing_jobs if j.status == "succeeded"} >= {
        "billing.charge_installments",
        "billing.send_plan_cancelled",
        "billing.detach_plan_card",
    }
    assert not billing_jobs.filter(status__in=["todo", "doing", "failed"]).exists()


def test_it_detaches_the_card_saved_after_the_plan_was_cancelled(
    localstripe, deliver, statement, alice, bill
):
    """The patient left the card page open and saved the card after staff cancelled."""
    plan, completed = _plan_on_localstripe(statement, alice)
    assert cancel(bill, plan) is True
    deliver(event("checkout.session.completed", completed))
    plan.refresh_from_db()
    assert plan.status == "cancelled"
    assert plan.payment_method_id  # kept for the job that detaches it
    assert not plan.installments.exists()
    assert ProcrastinateJob.objects.filter(task_name="billing.detach_plan_card").count() == 1


def test_staff_cancel_from_the_statement_page_and_a_missing_reason_re_renders(
    active_plan, statement, bill, alice, client
):
    sign_in_fully(client, bill)
    page_url = f"/staff/billing/patients/{alice.patient_id}/statements/{statement.pk}/"
    url = f"{page_url}plans/{active_plan.pk}/cancel/"
    assert b"Cancel this plan" in client.get(page_url).content
    refused = client.post(url, {"reason": ""})
    assert refused.status_code == 400
    assert b"This field is required" in refused.content
    assert PaymentPlan.objects.get(pk=active_plan.pk).status == "active"
    done = client.post(url, {"reason": "Paid at the desk"}, follow=True)
    assert b"The payment plan is cancelled" in done.content
    assert b"Paid at the desk" in done.content
    again = client.post(url, {"reason": "twice"}, follow=True)
    assert b"had ended already" in again.content


@pytest.mark.parametrize("who", ["alice", "mallory", "carol", "fran", "ada", "otto"])
def test_other_roles_cannot_reach_the_cancel_page(
    active_plan, statement, alice, client, who, request
):
    user = request.getfixturevalue(who)
    sign_in_fully(client, user)
    url = (
        f"/staff/billing/patients/{alice.patient_id}/statements/{statement.pk}"
        f"/plans/{active_plan.pk}/cancel/"
    )
    assert client.post(url, {"reason": "x"}).status_code == 403
    assert PaymentPlan.objects.get(pk=active_plan.pk).status == "active"


def test_billing_gets_404_for_a_plan_under_another_patient(
    active_plan, statement, bill, mallory, client
):
    sign_in_fully(client, bill)
    url = (
        f"/staff/billing/patients/{mallory.patient_id}/statements/{statement.pk}"
        f"/plans/{active_plan.pk}/cancel/"
    )
    assert client.post(url, {"reason": "x"}).status_code == 404
    assert PaymentPlan.objects.get(pk=active_plan.pk).status == "active"


def test_the_patient_sees_the_plan_ended_and_may_start_another(
    active_plan, statement, bill, alice, client
):
    cancel(bill, active_plan)
    sign_in_fully(client, alice)
    page = client.get(f"/patient/bills/{statement.pk}/")
    assert b"Set up a payment plan" in page.content
    assert b"pay by phone" not in page.content  # staff's reason is not the patient's
