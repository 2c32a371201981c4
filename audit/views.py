import json
import uuid

from django.conf import settings
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from audit import exports, selectors
from audit.forms import TrailSearchForm
from portal.policy import Role, roles


def _workspace(request: HttpRequest, form: TrailSearchForm, status: int = 200) -> HttpResponse:
    page = None
    if form.is_valid():
        page = selectors.event_page(
            actor=request.user, filters=form.cleaned_data, size=settings.AUDIT_PAGE_SIZE
        )
    exports_done = selectors.export_list(actor=request.user)
    context = {"form": form, "page": page, "exports": exports_done}
    return render(request, "audit/workspace.html", context, status=status)


@roles(Role.AUDITOR)
@require_GET
def workspace(request: HttpRequest) -> HttpResponse:
    form = TrailSearchForm(request.GET)
    return _workspace(request, form, status=200 if form.is_valid() else 400)


@roles(Role.AUDITOR)
@require_POST
def export(request: HttpRequest, kind: str, fmt: str) -> HttpResponse:
    form = TrailSearchForm(request.POST)
    if not form.is_valid():
        return _workspace(request, form, status=400)
    export_id, stream = exports.export_start(
        request=request, kind=kind, fmt=fmt, filters=form.cleaned_data
    )
    response = StreamingHttpResponse(stream, content_type=exports.FORMATS[fmt])
    name = exports.filename(kind=kind, fmt=fmt, export_id=export_id)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    # The manifest exists once the last byte has gone; this says where it will be.
    manifest_url = reverse("audit:export_manifest", args=[export_id])
    response["Link"] = f'<{manifest_url}>; rel="describedby"'
    return response


@roles(Role.AUDITOR)
@require_GET
def export_manifest(request: HttpRequest, export_id: uuid.UUID) -> HttpResponse:
    found = selectors.access_export(actor=request.user, export_id=export_id)
    body = json.dumps(exports.signed_manifest(found), indent=2, sort_keys=True)
    response = HttpResponse(body + "\n", content_type="application/json")
    response["Content-Disposition"] = (
        f'attachment; filename="audit-export-{export_id}.manifest.json"'
    )
    return response


@roles(Role.PATIENT)
@require_GET
def who_viewed(request: HttpRequest) -> HttpResponse:
    page, accesses = selectors.record_access_page(
        actor=request.user, number=request.GET.get("page"), size=settings.AUDIT_PAGE_SIZE
    )
    return render(request, "audit/who_viewed.html", {"page": page, "accesses": accesses})
