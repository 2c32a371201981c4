"""The assistant's pages: the patient's conversation under /patient/assistant/, the care
team's alert queue under /staff/assistant/alerts/.

Each view is its policy, then form → service or selector → render; selectors and
services resolve the patient (404 alike for missing and not yours) and record the
audit events.
"""

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.models import User
from assistant import alerts, selectors
from audit.context import audit_context
from portal.access import CLINICAL_ROLES, roles


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
