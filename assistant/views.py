"""The assistant's pages: the patient's conversation under /patient/assistant/, the care
team's alert queue under /staff/assistant/alerts/.

Each view is its policy, then form → service or selector → render; selectors and
services resolve the patient (404 alike for missing and not yours) and record the
audit events.
"""

import uuid

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import User
from assistant import alerts, replies, selectors, services
from assistant.forms import AnswerForm, SayForm
from audit.context import audit_context
from portal.access import CLINICAL_ROLES, PATIENT_SIDE_ROLES, current_patient_id, roles


class SignedInRequest(HttpRequest):
    """For type checking only: behind ``@roles(...)`` the user is a signed-in account."""

    user: User  # type: ignore[assignment]


@roles(*CLINICAL_ROLES)
@require_safe
def alert_queue(request: SignedInRequest) -> HttpResponse:
    queue = selectors.alert_queue(actor=request.user, context=audit_context(request))
    return render(request, "assistant/alerts.html", {"queue": queue})


@roles(*CLINICAL_ROLES)
@require_POST
def alert_acknowledge(request: SignedInRequest, alert_id: uuid.UUID) -> HttpResponse:
    alerts.alert_acknowledge(actor=request.user, alert_id=alert_id, context=audit_context(request))
    messages.success(request, "Alert acknowledged.")
    return redirect("assistant:alerts")


# --- The patient's conversation ----------------------------------------------------------


def _own(request: SignedInRequest) -> uuid.UUID:
    """Whose record the patient pages show (their own, or one they act for); 404 for none."""
    patient_id = current_patient_id(request)  # type: ignore[arg-type]
    if patient_id is None:
        raise Http404
    return patient_id


def _page(
    request: SignedInRequest, say: SayForm | None = None, *, status: int = 200
) -> HttpResponse:
    page = selectors.conversation_page(
        actor=request.user, patient_id=_own(request), context=audit_context(request)
    )
    context = {
        "page": page,
        "form": say or SayForm(),
        "time_zone": settings.PORTAL_TIME_ZONE,
        "welcome": replies.WELCOME,
    }
    return render(request, "assistant/chat.html", context, status=status)


@roles(*PATIENT_SIDE_ROLES)
@require_http_methods(["GET", "HEAD", "POST"])
def chat(request: SignedInRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    form = SayForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    services.conversation_say(
        actor=request.user,
        patient_id=_own(request),
        text=form.cleaned_data["text"],
        context=audit_context(request),
    )
    return redirect(f"{reverse('my_assistant:chat')}#latest")


@roles(*PATIENT_SIDE_ROLES)
@require_POST
def answer(request: SignedInRequest) -> HttpResponse:
    form = AnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Please choose one of the offered answers.")
        return _page(request, status=400)
    data = form.cleaned_data
    services.conversation_answer(
        actor=request.user,
        patient_id=_own(request),
        pending_id=data["pending"],
        choice=data["choice"],
        draft={"subject": data["subject"], "body": data["body"]},
        context=audit_context(request),
    )
    return redirect(f"{reverse('my_assistant:chat')}#latest")


@roles(*PATIENT_SIDE_ROLES)
@require_POST
def restart(request: SignedInRequest) -> HttpResponse:
    services.conversation_restart(
        actor=request.user, patient_id=_own(request), context=audit_context(request)
    )
    return redirect("my_assistant:chat")
