"""Refill pages: the patient's under /patient/refills/, the care team's under /staff/refills/.

Each view is its policy, then form → service or selector → render. Selectors and
services resolve the patient or request (404 alike for missing and not yours) and
record the audit event; no view here calls the access helpers or the recorder.
"""

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import User
from audit.context import audit_context
from portal.access import CLINICAL_ROLES, PATIENT_SIDE_ROLES, current_patient_id, roles
from refills import selectors, services
from refills.forms import DecisionForm, RequestForm


class SignedInRequest(HttpRequest):
    """For type checking only: behind ``@roles(...)`` the user is a signed-in account."""

    user: User  # type: ignore[assignment]


def _own(request: SignedInRequest) -> uuid.UUID:
    """Whose record the patient pages show (their own, or one they act for); 404 for none."""
    patient_id = current_patient_id(request)  # type: ignore[arg-type]
    if patient_id is None:
        raise Http404
    return patient_id


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def refills_own(request: SignedInRequest) -> HttpResponse:
    page = selectors.refills_page(
        actor=request.user, patient_id=_own(request), context=audit_context(request)
    )
    return render(request, "refills/list.html", {"page": page})


@roles(*PATIENT_SIDE_ROLES)
@require_http_methods(["GET", "HEAD", "POST"])
def request_new(request: SignedInRequest) -> HttpResponse:
    page = selectors.refills_page(
        actor=request.user, patient_id=_own(request), context=audit_context(request)
    )
    form = RequestForm(
        request.POST if request.method == "POST" else None,
        medicines=page.requestable,
        every_medicine=page.medicines,
        pharmacies=page.pharmacies,
        preferred=page.preferred_pharmacy_id,
        chosen=request.GET.get("medicine", ""),
    )
    if request.method == "POST" and page.may_request and form.is_valid():
        try:
            made = services.refill_request_create(
                actor=request.user,
                patient_id=page.patient.pk,
                medication_request_ids=form.cleaned_data["medicines"],
                pharmacy_id=form.cleaned_data["pharmacy"],
                comment=form.cleaned_data["comment"],
                submit_token=form.cleaned_data["submit_token"],
                context=audit_context(request),
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "Your request was sent to your care team.")
            return redirect("my_refills:detail", request_id=made.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "refills/new.html", {"page": page, "form": form}, status=status)


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def detail_own(request: SignedInRequest, request_id: uuid.UUID) -> HttpResponse:
    page = selectors.refill_page(
        actor=request.user, request_id=request_id, context=audit_context(request)
    )
    rows = [(item, None) for item in page.items]
    return render(request, "refills/detail.html", {"page": page, "staff": False, "rows": rows})


@roles(*CLINICAL_ROLES)
@require_safe
def queue(request: SignedInRequest) -> HttpResponse:
    page = selectors.queue_page(actor=request.user, context=audit_context(request))
    return render(request, "refills/queue.html", {"page": page})


@roles(*CLINICAL_ROLES)
@require_safe
def detail_staff(request: SignedInRequest, request_id: uuid.UUID) -> HttpResponse:
    return _staff_detail(request, request_id)


@roles(*CLINICAL_ROLES)
@require_POST
def review(request: SignedInRequest, request_id: uuid.UUID, item_id: uuid.UUID) -> HttpResponse:
    services.refill_item_review(
        actor=request.user,
        item_id=item_id,
        request_id=request_id,
        context=audit_context(request),
    )
    return redirect("refills:detail", request_id=request_id)


@roles(*CLINICAL_ROLES)
@require_POST
def decide(request: SignedInRequest, request_id: uuid.UUID, item_id: uuid.UUID) -> HttpResponse:
    form = DecisionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.refill_item_decide(
                actor=request.user,
                item_id=item_id,
                request_id=request_id,
                decision=data["decision"],
                refills=data["refills"],
                days_supply=data["days_supply"],
                reason_code=data["reason_code"],
                reason_text=data["reason_text"],
                second_factor=services.SecondFactor("totp", data["otp_token"])
                if data["otp_token"]
                else None,
                context=audit_context(request),
            )
        except (ValidationError, PermissionDenied) as error:
            form.add_error(
                None, error.messages if isinstance(error, ValidationError) else str(error)
            )
        else:
            messages.success(request, "Your decision is saved and is being sent to the EHR.")
            return redirect("refills:detail", request_id=request_id)
    return _staff_detail(request, request_id, form, failed=item_id, status=400)


def _staff_detail(
    request: SignedInRequest,
    request_id: uuid.UUID,
    form: DecisionForm | None = None,
    *,
    failed: uuid.UUID | None = None,
    status: int = 200,
) -> HttpResponse:
    page = selectors.refill_page(
        actor=request.user, request_id=request_id, context=audit_context(request)
    )
    # One form per medicine, each with its own element ids (labels must find their field).
    rows = [
        (item, form if form is not None and item.pk == failed else DecisionForm())
        for item in page.items
    ]
    for item, item_form in rows:
        item_form.auto_id = f"id_{item.pk.hex[:12]}_%s"
    context = {"page": page, "staff": True, "rows": rows}
    return render(request, "refills/detail.html", context, status=status)
