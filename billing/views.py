"""Bill pages: the patient's (or a proxy's for bills) under /patient/bills/, billing
staff's under /staff/billing/, and Stripe's webhook at /billing/stripe/webhook.

Each view is its policy, then form → selector or service → render. The selectors and
services resolve the patient (404 alike for missing and not yours) and record the
audit event; no view here touches the ORM, the access helpers or the audit recorder.
"""

import logging
import uuid
from datetime import date, timedelta

import stripe
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts import reauth
from audit.actions import Action
from audit.context import audit_context
from billing import gateway, pdf, plans, selectors, services, webhooks
from billing.forms import (
    LineFormSet,
    MrnForm,
    PayForm,
    PlanCancelForm,
    PlanForm,
    RefundForm,
    StatementForm,
)
from billing.services import BillingRefused
from portal.access import (
    PATIENT_SIDE_ROLES,
    Role,
    SignedInRequest,
    clinic_today,
    current_patient_id,
    public,
    roles,
)

logger = logging.getLogger(__name__)
BILLING = Role.BILLING


# --- The patient (and a proxy whose grant covers bills) ----------------------------------


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def statements(request: SignedInRequest) -> HttpResponse:
    page = selectors.statements_page(
        actor=request.user, patient_id=current_patient_id(request), context=audit_context(request)
    )
    return render(request, "billing/statements.html", {"page": page})


@roles(*PATIENT_SIDE_ROLES)
@require_http_methods(["GET", "HEAD", "POST"])
def statement(request: SignedInRequest, statement_id: uuid.UUID) -> HttpResponse:
    page = selectors.statement_page(
        actor=request.user,
        patient_id=current_patient_id(request),
        statement_id=statement_id,
        context=audit_context(request),
    )
    form = PayForm(request.POST or None, balance=page.statement.balance)
    plan_form = PlanForm()
    if request.method == "POST" and "monthly_amount" in request.POST:
        form, plan_form = PayForm(balance=page.statement.balance), PlanForm(request.POST)
        if plan_form.is_valid():
            here = request.build_absolute_uri(reverse("my_bills:statement", args=[statement_id]))
            try:
                url = plans.plan_start(
                    actor=request.user,
                    patient_id=current_patient_id(request),
                    statement_id=statement_id,
                    monthly_amount=plan_form.cleaned_data["monthly_amount"],
                    success_url=here + "?plan=1",
                    cancel_url=here,
                    context=audit_context(request),
                )
            except BillingRefused as refusal:
                plan_form.add_error(None, str(refusal))
            except gateway.PaymentsUnavailable:
                plan_form.add_error(None, "Payment plans are not available right now.")
            else:
                return _to_checkout(redirect(url))
    elif request.method == "POST" and form.is_valid():
        here = request.build_absolute_uri(reverse("my_bills:statement", args=[statement_id]))
        try:
            url = services.checkout_start(
                actor=request.user,
                patient_id=current_patient_id(request),
                statement_id=statement_id,
                amount=form.pay_amount(),
                success_url=here + "?paid=1",
                cancel_url=here,
                context=audit_context(request),
            )
        except BillingRefused as refusal:
            form.add_error(None, str(refusal))
        except gateway.PaymentsUnavailable:
            form.add_error(None, "Online payment is not available right now. Try again later.")
        else:
            return _to_checkout(redirect(url))
    context = {
        "page": page,
        "form": form,
        "plan_form": plan_form,
        "plan_rules": {
            "min": settings.BILLING_PLAN_MIN_MONTHLY,
            "months": settings.BILLING_PLAN_MAX_MONTHS,
        },
        "online": gateway.enabled(),
        "paid": request.GET.get("paid") == "1",
    }
    return _to_checkout(render(request, "billing/statement.html", context))


def _to_checkout(response: HttpResponse) -> HttpResponse:
    """Let this page's forms lead to Stripe Checkout (django-csp merges it into form-action)."""
    response._csp_update = {"form-action": [settings.STRIPE_CHECKOUT_ORIGIN]}  # type: ignore[attr-defined]
    return response


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def statement_pdf(request: SignedInRequest, statement_id: uuid.UUID) -> HttpResponse:
    page = selectors.statement_page(
        actor=request.user,
        patient_id=current_patient_id(request),
        statement_id=statement_id,
        context=audit_context(request),
        action=Action.RECORD_DOWNLOAD,
    )
    response = HttpResponse(pdf.statement_pdf(page), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="statement-{page.statement.number}.pdf"'
    )
    return response


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def receipt(request: SignedInRequest, entry_id: uuid.UUID) -> HttpResponse:
    page = selectors.receipt_page(
        actor=request.user,
        patient_id=current_patient_id(request),
        entry_id=entry_id,
        context=audit_context(request),
    )
    return render(request, "billing/receipt.html", {"page": page})


# --- Billing staff ----------------------------------------------------------------------


@roles(BILLING)
@require_http_methods(["GET", "HEAD", "POST"])
def find_patient(request: SignedInRequest) -> HttpResponse:
    # The MRN is POSTed, never put in a URL (logs, history, Referer).
    form = MrnForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        found = selectors.patient_by_mrn(
            actor=request.user, mrn=form.cleaned_data["mrn"], context=audit_context(request)
        )
        if found is not None:
            return redirect("billing:patient", patient_id=found)
        form.add_error("mrn", "No patient has that medical record number.")
    return render(request, "billing/find_patient.html", {"form": form})


@roles(BILLING)
@require_safe
def patient(request: SignedInRequest, patient_id: uuid.UUID) -> HttpResponse:
    page = selectors.statements_page(
        actor=request.user, patient_id=patient_id, context=audit_context(request)
    )
    return render(request, "billing/staff_patient.html", {"page": page})


@roles(BILLING)
@require_http_methods(["GET", "HEAD", "POST"])
def statement_new(request: SignedInRequest, patient_id: uuid.UUID) -> HttpResponse:
    posted = request.POST if request.method == "POST" else None
    form, lines = StatementForm(posted), LineFormSet(posted, prefix="line")
    if posted is not None and form.is_valid() and lines.is_valid():
        try:
            made = services.statement_issue(
                actor=request.user,
                patient_id=patient_id,
                number=form.cleaned_data["number"],
                due_on=form.cleaned_data["due_on"],
                items=[f.item() for f in lines.forms if f.has_changed()],
                context=audit_context(request),
            )
        except BillingRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, f"Statement {made.number} is issued.")
            return redirect("billing:statement", patient_id=patient_id, statement_id=made.pk)
    return render(
        request,
        "billing/statement_new.html",
        {"form": form, "lines": lines, "patient_id": patient_id},
    )


@roles(BILLING)
@require_safe
def staff_statement(
    request: SignedInRequest, patient_id: uuid.UUID, statement_id: uuid.UUID
) -> HttpResponse:
    page = selectors.statement_page(
        actor=request.user,
        patient_id=patient_id,
        statement_id=statement_id,
        context=audit_context(request),
    )
    context = {"page": page, "form": RefundForm(), "cancel_form": PlanCancelForm()}
    return render(request, "billing/staff_statement.html", context)


@roles(BILLING)
@require_POST
def refund(
    request: SignedInRequest, patient_id: uuid.UUID, statement_id: uuid.UUID, entry_id: uuid.UUID
) -> HttpResponse:
    form = RefundForm(request.POST)
    large = form.is_valid() and form.cleaned_data["amount"] > settings.BILLING_REFUND_REAUTH_ABOVE
    if large and not reauth.is_recent(request):
        # Above the clinic's amount a refund needs the password and a fresh code again.
        messages.info(request, "Confirm it is you to send a refund this large.")
        return reauth.confirm_redirect(request)
    if form.is_valid():
        try:
            services.refund_issue(
                actor=request.user,
                patient_id=patient_id,
                payment_id=entry_id,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                context=audit_context(request),
            )
        except BillingRefused as refusal:
            form.add_error(None, str(refusal))
        except gateway.PaymentsUnavailable:
            form.add_error(None, "Stripe did not take the refund. Nothing was changed.")
        else:
            messages.success(request, "The refund is sent and posted.")
            return redirect("billing:statement", patient_id=patient_id, statement_id=statement_id)
    page = selectors.statement_page(
        actor=request.user,
        patient_id=patient_id,
        statement_id=statement_id,
        context=audit_context(request),
    )
    context = {"page": page, "form": form, "refund_for": entry_id, "cancel_form": PlanCancelForm()}
    return render(request, "billing/staff_statement.html", context, status=400)


@roles(BILLING)
@require_POST
def plan_cancel(
    request: SignedInRequest, patient_id: uuid.UUID, statement_id: uuid.UUID, plan_id: uuid.UUID
) -> HttpResponse:
    form = PlanCancelForm(request.POST)
    if form.is_valid():
        try:
            cancelled = plans.plan_cancel(
                actor=request.user,
                patient_id=patient_id,
                plan_id=plan_id,
                reason=form.cleaned_data["reason"],
                context=audit_context(request),
            )
        except BillingRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            done = "The payment plan is cancelled; the patient is told."
            messages.success(request, done if cancelled else "That payment plan had ended already.")
            return redirect("billing:statement", patient_id=patient_id, statement_id=statement_id)
    page = selectors.statement_page(
        actor=request.user,
        patient_id=patient_id,
        statement_id=statement_id,
        context=audit_context(request),
    )
    context = {"page": page, "form": RefundForm(), "cancel_form": form, "cancel_for": plan_id}
    return render(request, "billing/staff_statement.html", context, status=400)


@roles(BILLING)
@require_safe
def reconciliation(request: SignedInRequest) -> HttpResponse:
    try:
        since = date.fromisoformat(request.GET.get("since", ""))
    except ValueError:
        since = clinic_today() - timedelta(days=30)
    page = selectors.reconciliation_page(
        actor=request.user, since=since, context=audit_context(request)
    )
    return render(request, "billing/reconciliation.html", {"page": page})


# --- Stripe -------------------------------------------------------------------------------


@public
@csrf_exempt  # Stripe signs the body instead; the only CSRF-exempt route.
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        event = gateway.event_from_webhook(
            request.body, request.headers.get("Stripe-Signature", "")
        )
    except (ValueError, stripe.SignatureVerificationError):
        return HttpResponse(status=400)
    try:
        webhooks.event_apply(event)
    except gateway.PaymentsUnavailable:
        # Stripe retries: nothing was written (the transaction rolled back).
        logger.warning("stripe event %s deferred: Stripe unavailable", event.get("id"))
        return HttpResponse(status=503)
    return HttpResponse(status=200)
