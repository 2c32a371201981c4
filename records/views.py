import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from audit.actions import Action, Outcome, Severity
from audit.services import record
from patients.models import Patient, PatientDemographics
from portal.access import CLINICAL_ROLES, Role, access_patient, roles, via_break_glass
from records import pdf, selectors, services, sync
from records.bundle import bundle_chunks
from records.forms import MrnLookupForm, ShredConfirmIdForm, ShredConfirmWordForm


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


# --- The patient's records: one page function per page, two audiences ------------------
# The patient reaches their own record under /patient/records/ (no id in the URL);
# clinicians reach a patient's under /staff/patients/<uuid>/ through access_patient
# (care team, or an emergency grant: then every view is a high-severity event).
# Each page function takes the resolved Subject, so both audiences share one code path.


@dataclass(frozen=True)
class Subject:
    patient: Patient
    own: bool
    break_glass: bool
    nav: dict[str, str]
    # Clinicians' pages name the patient on every page (positive identification).
    demographics: PatientDemographics | None = None


def _nav(patient_id: uuid.UUID | None) -> dict[str, str]:
    if patient_id is None:
        return {page: reverse(f"my_records:{page}") for page in PAGES}
    return {page: reverse(f"records:{page}", args=[patient_id]) for page in PAGES}


def _own(request: HttpRequest) -> Subject:
    return Subject(request.user.patient, own=True, break_glass=False, nav=_nav(None))


def _staff(request: HttpRequest, patient_id: uuid.UUID) -> Subject:
    patient = access_patient(actor=request.user, patient_id=patient_id)
    return Subject(
        patient,
        own=False,
        break_glass=via_break_glass(actor=request.user, patient=patient),
        nav=_nav(patient.pk),
        demographics=selectors.demographics_of(patient=patient),
    )


def audit_object_type(types: list[str]) -> str:
    """The resource types a page shows, as the audit row names them (60 characters at most)."""
    full = ",".join(types)
    if len(full) <= AUDIT_OBJECT_TYPE_MAX:
        return full
    return ",".join(SHORT_TYPE_NAMES.get(t, t) for t in types)[:AUDIT_OBJECT_TYPE_MAX]


AUDIT_OBJECT_TYPE_MAX = 60
SHORT_TYPE_NAMES = {
    "Observation": "Obs",
    "DiagnosticReport": "Report",
    "Encounter": "Visit",
    "Condition": "Condition",
    "MedicationRequest": "MedRequest",
    "MedicationStatement": "MedStatement",
    "AllergyIntolerance": "Allergy",
    "Immunization": "Immunization",
    "DocumentReference": "Note",
    "Patient": "Patient",
}


def _show(
    request: HttpRequest, subject: Subject, template: str, types: list[str], context: dict
) -> HttpResponse:
    """Record the one view event of the page, then render it."""
    # Clinicians' pages also show the patient's demographics (the banner).
    shown = [*types, "Patient"] if subject.demographics is not None else types
    record(
        action=Action.RECORD_VIEW,
        request=request,
        patient_id=subject.patient.pk,
        object_type=audit_object_type(shown),
        severity=Severity.HIGH if subject.break_glass else Severity.INFO,
    )
    context |= {
        "subject": subject,
        "nav": subject.nav,
        "page": template.rsplit("/", 1)[-1].removesuffix(".html").replace("trend", "labs"),
        "last_synced": selectors.last_synced(patient=subject.patient, types=types),
    }
    return render(request, template, context)


def _summary(request: HttpRequest, subject: Subject) -> HttpResponse:
    context = selectors.summary_context(actor=request.user, patient=subject.patient)
    return _show(request, subject, "records/summary.html", selectors.SUMMARY_TYPES, context)


def _labs(request: HttpRequest, subject: Subject) -> HttpResponse:
    context = selectors.labs_context(
        actor=request.user, patient=subject.patient, test_key=request.GET.get("test", "")
    )
    types = [selectors.OBSERVATION, selectors.DIAGNOSTIC_REPORT]
    return _show(request, subject, "records/labs.html", types, context)


def _trend(request: HttpRequest, subject: Subject, key: str) -> HttpResponse:
    context = selectors.trend_context(actor=request.user, patient=subject.patient, key=key)
    if context is None:
        raise Http404("No such test.")
    return _show(request, subject, "records/trend.html", [selectors.OBSERVATION], context)


def _visits(request: HttpRequest, subject: Subject) -> HttpResponse:
    context = selectors.visits_context(actor=request.user, patient=subject.patient)
    types = [selectors.ENCOUNTER, selectors.CONDITION, selectors.DOCUMENT]
    return _show(request, subject, "records/visits.html", types, context)


def _medications(request: HttpRequest, subject: Subject) -> HttpResponse:
    context = selectors.medications_context(actor=request.user, patient=subject.patient)
    return _show(request, subject, "records/medications.html", selectors.MEDICATIONS, context)


def _allergies(request: HttpRequest, subject: Subject) -> HttpResponse:
    context = selectors.allergies_context(actor=request.user, patient=subject.patient)
    return _show(request, subject, "records/allergies.html", [selectors.ALLERGY], context)


def _immunizations(request: HttpRequest, subject: Subject) -> HttpResponse:
    context = selectors.immunizations_context(actor=request.user, patient=subject.patient)
    types = [selectors.IMMUNIZATION]
    return _show(request, subject, "records/immunizations.html", types, context)


def _problems(request: HttpRequest, subject: Subject) -> HttpResponse:
    context = selectors.problems_context(actor=request.user, patient=subject.patient)
    return _show(request, subject, "records/problems.html", [selectors.CONDITION], context)


def _refresh(request: HttpRequest, subject: Subject) -> HttpResponse:
    """Queue a sync now (rate-limited by records.sync), then go back to the page."""
    try:
        queued = sync.request_sync(
            patient=subject.patient, actor=request.user, reason=sync.SyncReason.REFRESH
        )
    except sync.SyncUnavailable:
        messages.warning(request, "These records are not connected to the clinic's system yet")
    else:
        if queued:
            messages.success(request, "Refresh requested")
        else:
            messages.warning(request, "You refreshed a moment ago; try again in a few minutes")
    back = request.POST.get("next", "")
    if not (back in subject.nav.values() or back.startswith(subject.nav["labs"])):
        back = subject.nav["summary"]
    return redirect(back)


def _audiences(page: Callable[..., HttpResponse], *, post: bool = False):
    """The patient's own view and the clinicians' view of one page function."""
    methods = ["POST"] if post else ["GET", "HEAD"]

    @roles(Role.PATIENT)
    @require_http_methods(methods)
    def own(request: HttpRequest, **kwargs: str) -> HttpResponse:
        return page(request, _own(request), **kwargs)

    @roles(*CLINICAL_ROLES)
    def staff(request: HttpRequest, patient_id: uuid.UUID, **kwargs: str) -> HttpResponse:
        # The patient first: someone else's id is a 404 whatever the method.
        subject = _staff(request, patient_id)
        if request.method not in methods:
            return HttpResponseNotAllowed(methods)
        return page(request, subject, **kwargs)

    name = page.__name__.lstrip("_")
    own.__name__, own.__qualname__ = f"{name}_own", f"{name}_own"
    staff.__name__, staff.__qualname__ = f"{name}_staff", f"{name}_staff"
    return own, staff


summary_own, summary_staff = _audiences(_summary)
labs_own, labs_staff = _audiences(_labs)
trend_own, trend_staff = _audiences(_trend)
visits_own, visits_staff = _audiences(_visits)
medications_own, medications_staff = _audiences(_medications)
allergies_own, allergies_staff = _audiences(_allergies)
immunizations_own, immunizations_staff = _audiences(_immunizations)
problems_own, problems_staff = _audiences(_problems)
refresh_own, refresh_staff = _audiences(_refresh, post=True)
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


# --- Downloads (the patient's own record) ---------------------------------------------


@roles(Role.PATIENT)
@require_GET
def download_bundle(request: HttpRequest) -> HttpResponse:
    patient = request.user.patient
    record(
        action=Action.RECORD_DOWNLOAD, request=request, patient_id=patient.pk, object_type="bundle"
    )
    resources = selectors.bundle_resources(actor=request.user, patient=patient)
    response = HttpResponse(
        "".join(bundle_chunks(resources)), content_type="application/fhir+json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{pdf.filename("json")}"'
    return response


@roles(Role.PATIENT)
@require_GET
def download_pdf(request: HttpRequest) -> HttpResponse:
    patient = request.user.patient
    record(action=Action.RECORD_DOWNLOAD, request=request, patient_id=patient.pk, object_type="pdf")
    document = pdf.record_pdf(selectors.full_record(actor=request.user, patient=patient))
    response = HttpResponse(document, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{pdf.filename("pdf")}"'
    return response
