"""The record pages, the staff chart and directory, downloads, Refresh and disposal.

Each view is its policy, then form → selector or service → render. The selectors
resolve the patient (404 alike for missing and not yours) and record the view
event; no view here calls the access helpers or the audit recorder (a test
checks), and only the administrator's disposal page, which shows a patient's
id and nothing of their record, looks a row up itself.
Every record page comes twice: ``<page>_own`` for the signed-in patient under
/patient/records/ and ``<page>_staff`` for clinicians under /staff/patients/<uuid>/.
"""

import uuid
from dataclasses import fields

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from audit.context import audit_context
from patients.models import Patient
from portal.access import (
    CLINICAL_ROLES,
    PATIENT_SIDE_ROLES,
    Role,
    current_patient_id,
    patient_methods,
    roles,
)
from records import pdf, selectors, services
from records.bundle import bundle_chunks
from records.forms import MrnLookupForm, ShredConfirmIdForm, ShredConfirmWordForm
from records.selectors import RecordPage
from records.services import RefreshOutcome


@roles(*CLINICAL_ROLES)
@require_GET
def patient_list(request: HttpRequest) -> HttpResponse:
    patients = selectors.patient_list(actor=request.user)
    return render(request, "records/patient_list.html", {"patients": patients})


@roles(*CLINICAL_ROLES)
@require_GET
def chart(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    page = selectors.chart_page(
        actor=request.user, patient_id=patient_id, context=audit_context(request)
    )
    return render(request, "records/chart.html", vars(page))


@roles(*selectors.DEMOGRAPHICS_ROLES)
@require_http_methods(["GET", "HEAD", "POST"])
def directory(request: HttpRequest) -> HttpResponse:
    """Find a patient's demographics by MRN: no browsing, no clinical data.

    The MRN is POSTed, never put in a URL (logs, history, Referer).
    """
    form = MrnLookupForm(request.POST if request.method == "POST" else None)
    found = None
    if form.is_valid():
        found = selectors.demographics_by_mrn(
            actor=request.user, mrn=form.cleaned_data["mrn"], context=audit_context(request)
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
    # The page shows the patient's id only, no record data: nothing to scope or audit.
    patient = get_object_or_404(Patient, pk=patient_id)
    final = "word" in request.POST
    form_class = ShredConfirmWordForm if final else ShredConfirmIdForm
    form = form_class(request.POST or None, patient_id=patient.pk)
    if request.method == "POST" and form.is_valid():
        if not final:
            form = ShredConfirmWordForm(initial=form.cleaned_data, patient_id=patient.pk)
            return render(request, "records/shred.html", {"patient": patient, "form": form})
        services.patient_dispose(
            actor=request.user,
            patient_id=patient.pk,
            reason=form.cleaned_data["reason"],
            context=audit_context(request),
        )
        messages.success(request, "The patient's data key is destroyed; their data is unreadable.")
        return redirect("staff_home")
    return render(request, "records/shred.html", {"patient": patient, "form": form})


# --- The patient's records: each page for the patient, then for clinicians --------------
# A clinician's view is declared with patient_methods, not require_safe: someone
# else's id is a 404 whatever the method.

PAGES = (
    "summary",
    "labs",
    "visits",
    "medications",
    "allergies",
    "immunizations",
    "problems",
    "refresh",
)


def _nav(patient_id: uuid.UUID | None) -> dict[str, str]:
    """The record's pages: the patient's own (no id), or a patient's for clinicians."""
    if patient_id is None:
        return {page: reverse(f"my_records:{page}") for page in PAGES}
    return {page: reverse(f"records:{page}", args=[patient_id]) for page in PAGES}


def _show(request: HttpRequest, template: str, page: RecordPage) -> HttpResponse:
    """Render a record page: its fields, and the frame's navigation."""
    context = {f.name: getattr(page, f.name) for f in fields(page)}
    context |= {
        "nav": _nav(None if page.subject.own else page.subject.patient.pk),
        "page": template.rsplit("/", 1)[-1].removesuffix(".html").replace("trend", "labs"),
    }
    return render(request, template, context)


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def summary_own(request: HttpRequest) -> HttpResponse:
    page = selectors.summary_page(
        actor=request.user, patient_id=current_patient_id(request), context=audit_context(request)
    )
    return _show(request, "records/summary.html", page)


@roles(*CLINICAL_ROLES)
@patient_methods("GET", "HEAD")
def summary_staff(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    page = selectors.summary_page(
        actor=request.user, patient_id=patient_id, context=audit_context(request)
    )
    return _show(request, "records/summary.html", page)


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def labs_own(request: HttpRequest) -> HttpResponse:
    page = selectors.labs_page(
        actor=request.user,
        patient_id=current_patient_id(request),
        test_key=request.GET.get("test", ""),
        context=audit_context(request),
    )
    return _show(request, "records/labs.html", page)


@roles(*CLINICAL_ROLES)
@patient_methods("GET", "HEAD")
def labs_staff(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    page = selectors.labs_page(
        actor=request.user,
        patient_id=patient_id,
        test_key=request.GET.get("test", ""),
        context=audit_context(request),
    )
    return _show(request, "records/labs.html", page)


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def trend_own(request: HttpRequest, key: str) -> HttpResponse:
    page = selectors.trend_page(
        actor=request.user,
        patient_id=current_patient_id(request),
        key=key,
        context=audit_context(request),
    )
    return _show(request, "records/trend.html", page)


@roles(*CLINICAL_ROLES)
@patient_methods("GET", "HEAD")
def trend_staff(request: HttpRequest, patient_id: uuid.UUID, key: str) -> HttpResponse:
    page = selectors.trend_page(
        actor=request.user, patient_id=patient_id, key=key, context=audit_context(request)
    )
    return _show(request, "records/trend.html", page)


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def visits_own(request: HttpRequest) -> HttpResponse:
    page = selectors.visits_page(
        actor=request.user, patient_id=current_patient_id(request), context=audit_context(request)
    )
    return _show(request, "records/visits.html", page)


@roles(*CLINICAL_ROLES)
@patient_methods("GET", "HEAD")
def visits_staff(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    page = selectors.visits_page(
        actor=request.user, patient_id=patient_id, context=audit_context(request)
    )
    return _show(request, "records/visits.html", page)


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def medications_own(request: HttpRequest) -> HttpResponse:
    page = selectors.medications_page(
        actor=request.user, patient_id=current_patient_id(request), context=audit_context(request)
    )
    return _show(request, "records/medications.html", page)


@roles(*CLINICAL_ROLES)
@patient_methods("GET", "HEAD")
def medications_staff(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    page = selectors.medications_page(
        actor=request.user, patient_id=patient_id, context=audit_context(request)
    )
    return _show(request, "records/medications.html", page)


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def allergies_own(request: HttpRequest) -> HttpResponse:
    page = selectors.allergies_page(
        actor=request.user, patient_id=current_patient_id(request), context=audit_context(request)
    )
    return _show(request, "records/allergies.html", page)


@roles(*CLINICAL_ROLES)
@patient_methods("GET", "HEAD")
def allergies_staff(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    page = selectors.allergies_page(
        actor=request.user, patient_id=patient_id, context=audit_context(request)
    )
    return _show(request, "records/allergies.html", page)


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def immunizations_own(request: HttpRequest) -> HttpResponse:
    page = selectors.immunizations_page(
        actor=request.user, patient_id=current_patient_id(request), context=audit_context(request)
    )
    return _show(request, "records/immunizations.html", page)


@roles(*CLINICAL_ROLES)
@patient_methods("GET", "HEAD")
def immunizations_staff(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    page = selectors.immunizations_page(
        actor=request.user, patient_id=patient_id, context=audit_context(request)
    )
    return _show(request, "records/immunizations.html", page)


@roles(*PATIENT_SIDE_ROLES)
@require_safe
def problems_own(request: HttpRequest) -> HttpResponse:
    page = selectors.problems_page(
        actor=request.user, patient_id=current_patient_id(request), context=audit_context(request)
    )
    return _show(request, "records/problems.html", page)


@roles(*CLINICAL_ROLES)
@patient_methods("GET", "HEAD")
def problems_staff(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    page = selectors.problems_page(
        actor=request.user, patient_id=patient_id, context=audit_context(request)
    )
    return _show(request, "records/problems.html", page)


# --- Refresh: queue a sync now, then go back to the page -------------------------------

REFRESH_MESSAGES = {
    RefreshOutcome.QUEUED: (messages.SUCCESS, "Refresh requested"),
    RefreshOutcome.TOO_SOON: (
        messages.WARNING,
        "You refreshed a moment ago; try again in a few minutes",
    ),
    RefreshOutcome.UNAVAILABLE: (
        messages.WARNING,
        "These records are not connected to the clinic's system yet",
    ),
}


def _refreshed(request: HttpRequest, outcome: RefreshOutcome, nav: dict[str, str]) -> HttpResponse:
    """Say what became of the Refresh, then return to the record page it came from."""
    level, text = REFRESH_MESSAGES[outcome]
    messages.add_message(request, level, text)
    back = request.POST.get("next", "")
    # Only back to one of this record's own pages (or a trend): never elsewhere.
    if not (back in nav.values() or back.startswith(nav["labs"])):
        back = nav["summary"]
    return redirect(back)


@roles(*PATIENT_SIDE_ROLES)
@require_POST
def refresh_own(request: HttpRequest) -> HttpResponse:
    outcome = services.records_refresh(actor=request.user, patient_id=current_patient_id(request))
    return _refreshed(request, outcome, _nav(None))


@roles(*CLINICAL_ROLES)
@patient_methods("POST")
def refresh_staff(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    outcome = services.records_refresh(actor=request.user, patient_id=patient_id)
    return _refreshed(request, outcome, _nav(patient_id))


# --- Downloads (the patient's own record) ---------------------------------------------


@roles(*PATIENT_SIDE_ROLES)
@require_GET
def download_bundle(request: HttpRequest) -> HttpResponse:
    resources = selectors.bundle_resources(
        actor=request.user, patient_id=current_patient_id(request), context=audit_context(request)
    )
    response = HttpResponse(
        "".join(bundle_chunks(resources)), content_type="application/fhir+json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{pdf.filename("json")}"'
    return response


@roles(*PATIENT_SIDE_ROLES)
@require_GET
def download_pdf(request: HttpRequest) -> HttpResponse:
    full = selectors.full_record(
        actor=request.user, patient_id=current_patient_id(request), context=audit_context(request)
    )
    response = HttpResponse(pdf.record_pdf(full), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{pdf.filename("pdf")}"'
    return response
