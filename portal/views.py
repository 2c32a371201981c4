from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from messaging import selectors as message_selectors
from portal.access import ALL_ROLES, STAFF_ROLES, Role, public, roles


@roles(*ALL_ROLES)
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    if request.user.role == Role.PATIENT:
        return redirect("patient_home")
    return redirect("staff_home")


@roles(Role.PATIENT)
@require_GET
def patient_home(request: HttpRequest) -> HttpResponse:
    unread = message_selectors.unread_count(actor=request.user)
    return render(request, "portal/patient_home.html", {"unread_messages": unread})


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


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    # The reason names Django internals; the user needs to know what to do.
    return render(request, "403_csrf.html", status=403)
