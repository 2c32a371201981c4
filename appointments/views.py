"""Appointment pages: the patient's own under /patient/appointments/, the schedules and the
front desk's booking under /staff/schedule/.

Each view is its policy, then form → selector or service → render. The selectors and
services resolve the patient (404 alike for missing and not yours) and record the audit
event; no view here touches the ORM, the access helpers or the audit recorder.
"""

import uuid
from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from appointments import selectors, services
from appointments.forms import (
    BookForm,
    CancelForm,
    FindSlotsForm,
    MarkForm,
    MrnForm,
    ScheduleForm,
    SlotForm,
    StaffBookForm,
)
from appointments.services import BookingRefused
from audit.context import audit_context
from portal.access import (
    CLINICAL_ROLES,
    PATIENT_SIDE_ROLES,
    Role,
    SignedInRequest,
    current_patient_id,
    roles,
)

FRONT_DESK = Role.FRONT_DESK


def _me(request: SignedInRequest) -> uuid.UUID:
    """Whose appointments the patient pages show: the user's own, or those of the person
    they act for as a proxy (chosen on the switch page); 404 for none."""
    patient_id = current_patient_id(request)  # type: ignore[arg-type]
    if patient_id is None:
        raise Http404("No patient record.")
    return patient_id


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _slots(
    request: SignedInRequest, patient_id: uuid.UUID, form: FindSlotsForm
) -> selectors.SlotsPage | None:
    """The slot search a bound find form asks for (None until it is valid)."""
    if not form.is_valid():
        return None
    data = form.cleaned_data
    return selectors.slot_search(
        actor=request.user,
        patient_id=patient_id,
        visit_type_id=uuid.UUID(data["visit_type"]),  # one of the offered choices
        clinician_id=_uuid(data["clinician"]),
        location_id=_uuid(data["location"]),
        context=audit_context(request),
    )


# --- The patient's own appointments ---------------------------------------------------


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def my_appointments(request: SignedInRequest) -> HttpResponse:
    page = selectors.appointments_page(
        actor=request.user, patient_id=_me(request), context=audit_context(request)
    )
    return render(request, "appointments/list.html", {"page": page})


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def find(request: SignedInRequest) -> HttpResponse:
    form = FindSlotsForm(request.GET or None, options=selectors.booking_options(actor=request.user))
    found = _slots(request, _me(request), form)
    return render(request, "appointments/find.html", {"form": form, "found": found})


@roles(*PATIENT_SIDE_ROLES)
@require_http_methods(["GET", "HEAD", "POST"])
def book(request: SignedInRequest) -> HttpResponse:
    form = BookForm(request.POST if request.method == "POST" else None, initial=request.GET)
    refused = None
    if form.is_valid():
        try:
            appointment = services.appointment_book(
                actor=request.user,
                patient_id=_me(request),
                choice=form.choice(),
                reason=form.cleaned_data["reason"],
                context=audit_context(request),
            )
        except BookingRefused as refusal:
            refused = refusal
        else:
            messages.success(request, "Your appointment is booked.")
            return redirect("my_appointments:detail", appointment_id=appointment.pk)
    return render(request, "appointments/book.html", _booking(form, refused))


def _booking(form: SlotForm, refused: BookingRefused | None) -> dict:
    slot = form.cleaned_data if form.is_bound and form.is_valid() else form.initial
    return {"form": form, "refused": refused, "slot": _chosen(slot)}


def _chosen(values: object) -> dict:
    """The chosen slot as the page shows it back (from the form's own values)."""
    get = getattr(values, "get", None)
    if get is None:
        return {}
    starts_at = get("starts_at")
    if isinstance(starts_at, str):
        try:
            starts_at = parse_datetime(starts_at)
        except ValueError:
            starts_at = None
    return {"starts_at": starts_at}


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def detail(request: SignedInRequest, appointment_id: uuid.UUID) -> HttpResponse:
    appointment = selectors.appointment_page(
        actor=request.user,
        patient_id=_me(request),
        appointment_id=appointment_id,
        context=audit_context(request),
    )
    return render(
        request,
        "appointments/detail.html",
        {"appointment": appointment, "cancel_form": CancelForm(), "now": timezone.now()},
    )


@roles(*PATIENT_SIDE_ROLES)
@require_http_methods(["GET", "HEAD", "POST"])
def cancel(request: SignedInRequest, appointment_id: uuid.UUID) -> HttpResponse:
    form = CancelForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            services.appointment_cancel(
                actor=request.user,
                patient_id=_me(request),
                appointment_id=appointment_id,
                reason=form.cleaned_data["reason"],
                context=audit_context(request),
            )
        except BookingRefused as refusal:
            messages.error(request, refusal.message)
        else:
            messages.success(request, "Your appointment is cancelled.")
        return redirect("my_appointments:detail", appointment_id=appointment_id)
    appointment = selectors.appointment_page(
        actor=request.user,
        patient_id=_me(request),
        appointment_id=appointment_id,
        context=audit_context(request),
    )
    return render(
        request, "appointments/detail.html", {"appointment": appointment, "cancel_form": form}
    )


@roles(*PATIENT_SIDE_ROLES)
@require_http_methods(["GET", "HEAD", "POST"])
def reschedule(request: SignedInRequest, appointment_id: uuid.UUID) -> HttpResponse:
    refused = None
    if request.method == "POST":
        form = SlotForm(request.POST)
        if form.is_valid():
            try:
                moved = services.appointment_reschedule(
                    actor=request.user,
                    patient_id=_me(request),
                    appointment_id=appointment_id,
                    choice=form.choice(),
                    context=audit_context(request),
                )
            except BookingRefused as refusal:
                refused = refusal
            else:
                messages.success(request, "Your appointment is moved.")
                return redirect("my_appointments:detail", appointment_id=moved.pk)
        else:
            refused = BookingRefused(services.NOT_OFFERED)
    appointment = selectors.appointment_page(
        actor=request.user,
        patient_id=_me(request),
        appointment_id=appointment_id,
        context=audit_context(request),
    )
    found = selectors.slot_search(
        actor=request.user,
        patient_id=_me(request),
        visit_type_id=appointment.visit_type.pk,
        location_id=_uuid(request.GET.get("location", "")),
        ignore_appointment=appointment.id,
        context=audit_context(request),
    )
    context = {"appointment": appointment, "found": found, "refused": refused}
    return render(request, "appointments/reschedule.html", context)


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def calendar(request: SignedInRequest, appointment_id: uuid.UUID) -> HttpResponse:
    ics = selectors.appointment_calendar(
        actor=request.user,
        patient_id=_me(request),
        appointment_id=appointment_id,
        context=audit_context(request),
    )
    response = HttpResponse(ics, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="appointment.ics"'
    return response


# --- Staff: schedules, and the front desk booking for a patient --------------------------


@roles(FRONT_DESK, *CLINICAL_ROLES)
@require_safe
def schedule(request: SignedInRequest) -> HttpResponse:
    form = ScheduleForm(request.GET, options=selectors.booking_options(actor=request.user))
    data = form.cleaned_data if form.is_valid() else {}
    span = data.get("span") or "day"
    page = selectors.schedule_page(
        actor=request.user,
        first_day=data.get("day") or timezone.localdate(),
        days=7 if span == "week" else 1,
        clinician_id=_uuid(data.get("clinician", "")),
        location_id=_uuid(data.get("location", "")),
        context=audit_context(request),
    )
    context = {
        "form": form,
        "page": page,
        "span": span,
        "previous": page.first_day - timedelta(days=page.days),
        "next": page.first_day + timedelta(days=page.days),
        "mark_form": MarkForm(),
    }
    return render(request, "appointments/schedule.html", context)


@roles(FRONT_DESK)
@require_http_methods(["GET", "HEAD", "POST"])
def find_patient(request: SignedInRequest) -> HttpResponse:
    # The MRN is POSTed, never put in a URL (logs, history, Referer).
    form = MrnForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        found = selectors.patient_by_mrn(
            actor=request.user, mrn=form.cleaned_data["mrn"], context=audit_context(request)
        )
        if found is not None:
            return redirect("schedule:patient", patient_id=found)
        form.add_error("mrn", "No patient has that medical record number.")
    return render(request, "appointments/find_patient.html", {"form": form})


@roles(FRONT_DESK)
@require_safe
def patient(request: SignedInRequest, patient_id: uuid.UUID) -> HttpResponse:
    page = selectors.appointments_page(
        actor=request.user, patient_id=patient_id, context=audit_context(request)
    )
    form = FindSlotsForm(request.GET or None, options=selectors.booking_options(actor=request.user))
    found = _slots(request, patient_id, form)
    context = {"page": page, "form": form, "found": found}
    return render(request, "appointments/staff_patient.html", context)


@roles(FRONT_DESK)
@require_http_methods(["GET", "HEAD", "POST"])
def staff_book(request: SignedInRequest, patient_id: uuid.UUID) -> HttpResponse:
    form = StaffBookForm(request.POST if request.method == "POST" else None, initial=request.GET)
    refused = None
    if form.is_valid():
        try:
            services.appointment_book(
                actor=request.user,
                patient_id=patient_id,
                choice=form.choice(),
                reason=form.cleaned_data["reason"],
                context=audit_context(request),
            )
        except BookingRefused as refusal:
            refused = refusal
        else:
            messages.success(request, "The appointment is booked.")
            return redirect("schedule:patient", patient_id=patient_id)
    context = _booking(form, refused) | {"patient_id": patient_id}
    return render(request, "appointments/book.html", context)


@roles(FRONT_DESK)
@require_POST
def staff_cancel(
    request: SignedInRequest, patient_id: uuid.UUID, appointment_id: uuid.UUID
) -> HttpResponse:
    form = CancelForm(request.POST)
    try:
        if not form.is_valid():
            raise BookingRefused("Say why the appointment is cancelled.")
        services.appointment_cancel(
            actor=request.user,
            patient_id=patient_id,
            appointment_id=appointment_id,
            reason=form.cleaned_data["reason"],
            context=audit_context(request),
        )
    except BookingRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, "The appointment is cancelled.")
    return redirect("schedule:patient", patient_id=patient_id)


@roles(FRONT_DESK)
@require_POST
def mark(
    request: SignedInRequest, patient_id: uuid.UUID, appointment_id: uuid.UUID
) -> HttpResponse:
    form = MarkForm(request.POST)
    try:
        services.appointment_mark(
            actor=request.user,
            patient_id=patient_id,
            appointment_id=appointment_id,
            status=form.cleaned_data["status"] if form.is_valid() else "",
            context=audit_context(request),
        )
    except BookingRefused as refusal:
        messages.error(request, refusal.message)
    back = request.POST.get("next", "")
    return redirect(back if back.startswith(reverse("schedule:schedule")) else "schedule:schedule")


# --- The waitlist -------------------------------------------------------------------


@roles(*PATIENT_SIDE_ROLES)
@require_POST
def waitlist_join(request: SignedInRequest, appointment_id: uuid.UUID) -> HttpResponse:
    try:
        services.waitlist_join(
            actor=request.user,
            patient_id=_me(request),
            appointment_id=appointment_id,
            context=audit_context(request),
        )
    except BookingRefused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, "We will offer you an earlier time if one opens up.")
    return redirect("my_appointments:detail", appointment_id=appointment_id)


@roles(*PATIENT_SIDE_ROLES)
@require_http_methods(["GET", "HEAD", "POST"])
def offer(request: SignedInRequest, offer_id: uuid.UUID) -> HttpResponse:
    if request.method == "POST":
        try:
            moved = services.waitlist_offer_accept(
                actor=request.user,
                patient_id=_me(request),
                offer_id=offer_id,
                context=audit_context(request),
            )
        except BookingRefused as refusal:
            messages.error(request, refusal.message)
        else:
            messages.success(request, "Your appointment is moved to the earlier time.")
            return redirect("my_appointments:detail", appointment_id=moved.pk)
    page = selectors.offer_page(
        actor=request.user,
        patient_id=_me(request),
        offer_id=offer_id,
        context=audit_context(request),
    )
    return render(request, "appointments/offer.html", {"offer": page})
