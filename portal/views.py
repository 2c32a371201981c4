import logging
import sys

from django.db import connection
from django.db.utils import Error as DatabaseError
from django.db.utils import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template import loader
from django.views.decorators.http import require_GET

from assistant import checkins
from audit.context import audit_context
from billing import money
from billing import selectors as bill_selectors
from messaging import selectors as message_selectors
from portal.access import (
    ALL_ROLES,
    PATIENT_SIDE_ROLES,
    STAFF_ROLES,
    SignedInRequest,
    active_proxy_grants,
    current_patient_id,
    public,
    roles,
)


@roles(*ALL_ROLES)
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.role in PATIENT_SIDE_ROLES:
        return redirect("patient_home")
    return redirect("staff_home")


@roles(*PATIENT_SIDE_ROLES)
@require_GET
def patient_home(request: SignedInRequest) -> HttpResponse:
    """The patient's home, or a proxy's: the record shown is the one chosen on the switch
    page (portal.access.current_patient_id)."""
    record_id = current_patient_id(request)
    try:
        balance: int | None = bill_selectors.balance_due(
            actor=request.user, patient_id=record_id, context=audit_context(request)
        )
    except Http404:  # a proxy whose grant leaves bills out, or no record to show
        balance = None
    context = {
        "record_id": record_id,
        "acts_for_others": active_proxy_grants(request.user).exists(),
        "unread_messages": message_selectors.unread_count(actor=request.user),
        "balance": balance,
        "balance_currency": money.default_currency(),
        "due_checkins": checkins.due_checkins(actor=request.user, patient_id=record_id),
    }
    return render(request, "portal/patient_home.html", context)


@roles(*STAFF_ROLES)
@require_GET
def staff_home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/staff_home.html")


@public
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Whether the database answers; nothing about versions, hosts or data."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return JsonResponse({"status": "unavailable"}, status=503)
    return JsonResponse({"status": "ok"})


logger = logging.getLogger(__name__)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: a lost database (down, restarting, unreachable) is a 503 that says to
    try again, not an error page; anything else is the plain 500 page.

    Django calls it while handling the exception, so sys.exc_info() names it. It renders
    without a request context: the context processors would ask the database again.
    Later requests reconnect by themselves (CONN_HEALTH_CHECKS), no restart needed.
    """
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        # The class only: a driver's message may carry a host name or a query.
        logger.error("database unavailable: %s", type(error).__name__)
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = "30"
        return response
    return HttpResponse(loader.render_to_string("500.html"), status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    # The reason names Django internals; the user needs to know what to do.
    return render(request, "403_csrf.html", status=403)
