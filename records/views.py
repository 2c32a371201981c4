import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from audit.actions import Action, Outcome, Severity
from audit.services import record
from portal.access import CLINICAL_ROLES, Role, access_patient, roles
from records import selectors, services
from records.forms import MrnLookupForm, ShredConfirmIdForm, ShredConfirmWordForm
from records.models import Patient


@roles(*CLINICAL_ROLES)
@require_GET
def patient_list(request: HttpRequest) -> HttpResponse:
    patients = selectors.patient_list(actor=request.user)
    return render(request, "records/patient_list.html", {"patients": patients})


@roles(*CLINICAL_ROLES)
@require_GET
def chart(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = access_patient(actor=request.user, patient_id=patient_id)
    context = selectors.chart_context(actor=request.user, patient=patient)
    record(
        action=Action.RECORD_VIEW,
        request=request,
        patient_id=patient.pk,
        object_type="chart",
        severity=Severity.HIGH if context["break_glass"] else Severity.INFO,
    )
    return render(request, "records/chart.html", context)


@roles(*selectors.DEMOGRAPHICS_ROLES)
@require_GET
def directory(request: HttpRequest) -> HttpResponse:
    """Find a patient's demographics by MRN: no browsing, no clinical data."""
    form = MrnLookupForm(request.GET or None)
    found = None
    if form.is_valid():
        found = selectors.demographics_by_mrn(actor=request.user, mrn=form.cleaned_data["mrn"])
        record(
            action=Action.RECORD_VIEW if found else Action.DIRECTORY_SEARCH,
            outcome=Outcome.SUCCESS if found else Outcome.FAILURE,
            request=request,
            patient_id=found.patient_id if found else None,
            object_type="demographics",
        )
    contact = found.contact if found else None
    context = {
        "form": form,
        "found": found,
        "searched": form.is_bound,
        # An unreadable contact renders as its marker, never as data.
        "contact": contact if isinstance(contact, dict) else None,
    }
    return render(request, "records/directory.html", context)


@roles(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def patient_shred(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Crypto-shredding, confirmed twice: first the patient id, then the word SHRED."""
    patient = get_object_or_404(Patient, pk=patient_id)
    final = "word" in request.POST
    form_class = ShredConfirmWordForm if final else ShredConfirmIdForm
    form = form_class(request.POST or None, patient_id=patient.pk)
    if request.method == "POST" and form.is_valid():
        if not final:
            form = ShredConfirmWordForm(initial=form.cleaned_data, patient_id=patient.pk)
            return render(request, "records/shred.html", {"patient": patient, "form": form})
        services.patient_dispose(
            request=request, patient=patient, reason=form.cleaned_data["reason"]
        )
        messages.success(request, "The patient's data key is destroyed; their data is unreadable.")
        return redirect("staff_home")
    return render(request, "records/shred.html", {"patient": patient, "form": form})
