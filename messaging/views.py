"""Messaging pages: the patient's under /patient/messages/, staff pools under /staff/messages/.

Each view is its policy, then form → service or selector → render. The selectors
and services resolve the patient or thread (404 alike for missing and not yours)
and record the audit event; no view here calls the access helpers or the recorder
(a test checks).
"""

import uuid
from urllib.parse import quote

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import User
from audit.context import audit_context
from messaging import selectors, services
from messaging.files import AttachmentRefused
from messaging.forms import (
    AbsenceForm,
    ComposeForm,
    NoteForm,
    PreferenceForm,
    ReassignForm,
    ReplyForm,
)
from messaging.models import Pool
from messaging.scope import MESSAGING_STAFF_ROLES
from portal.access import Role, roles

EMERGENCY = (
    "Messages are not for emergencies. If you need help now, call your local emergency number."
)


class SignedInRequest(HttpRequest):
    """For type checking only: behind ``@roles(...)`` the user is a signed-in account.

    ``upload_too_large`` and ``upload_no_space`` are set by messaging.uploads when it cut
    an upload off, or could not store it.
    """

    user: User  # type: ignore[assignment]
    upload_too_large: bool
    upload_no_space: bool


def _upload_trouble(request: SignedInRequest) -> dict[str, bool]:
    """Why the upload handler dropped files, for the form to say."""
    return {
        "upload_too_large": bool(getattr(request, "upload_too_large", False)),
        "upload_no_space": bool(getattr(request, "upload_no_space", False)),
    }


def _posted(request: SignedInRequest) -> tuple[object, object]:
    """(data, files) of a POST, bound even when empty; (None, None) otherwise."""
    return (request.POST, request.FILES) if request.method == "POST" else (None, None)


def _own(request: SignedInRequest) -> uuid.UUID:
    """The signed-in patient's id (a patient account always has one: a check constraint)."""
    if request.user.patient_id is None:
        raise Http404
    return request.user.patient_id


# --- The patient ------------------------------------------------------------------------


@roles(Role.PATIENT)
@require_safe
def inbox(request: SignedInRequest) -> HttpResponse:
    page = selectors.inbox_page(
        actor=request.user,
        patient_id=_own(request),
        query=request.GET.get("q", ""),
        context=audit_context(request),
    )
    return render(request, "messaging/inbox.html", {"page": page, "emergency": EMERGENCY})


@roles(Role.PATIENT)
@require_safe
def sent(request: SignedInRequest) -> HttpResponse:
    page = selectors.sent_page(
        actor=request.user, patient_id=_own(request), context=audit_context(request)
    )
    return render(request, "messaging/sent.html", {"page": page})


@roles(Role.PATIENT)
@require_http_methods(["GET", "HEAD", "POST"])
def compose(request: SignedInRequest) -> HttpResponse:
    form = ComposeForm(*_posted(request), **_upload_trouble(request))
    if request.method == "POST" and form.is_valid():
        try:
            thread = services.thread_start(
                actor=request.user,
                topic=form.cleaned_data["topic"],
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                files=form.cleaned_data["attachments"],
                context=audit_context(request),
            )
        except AttachmentRefused as refused:
            form.add_error("attachments", str(refused))
        except ValidationError as error:
            form.add_error("topic", error)
        else:
            messages.success(request, "Your message was sent.")
            return redirect("my_messages:thread", thread_id=thread.pk)
    return render(request, "messaging/compose.html", {"form": form, "emergency": EMERGENCY})


@roles(Role.PATIENT)
@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: SignedInRequest) -> HttpResponse:
    form = PreferenceForm(
        request.POST if request.method == "POST" else None,
        initial={"email": selectors.notification_preference(actor=request.user)},
    )
    if request.method == "POST" and form.is_valid():
        services.notification_preference_set(
            actor=request.user, email=form.cleaned_data["email"], context=audit_context(request)
        )
        messages.success(request, "Your notification choice is saved.")
        return redirect("my_messages:inbox")
    return render(request, "messaging/preferences.html", {"form": form})


# --- Threads: the same pages for the patient (own) and for staff ----------------------


@roles(Role.PATIENT)
@require_safe
def thread_own(request: SignedInRequest, thread_id: uuid.UUID) -> HttpResponse:
    return _thread(request, thread_id, ReplyForm(), NoteForm(), ReassignForm())


@roles(*MESSAGING_STAFF_ROLES)
@require_safe
def thread_staff(request: SignedInRequest, thread_id: uuid.UUID) -> HttpResponse:
    return _thread(request, thread_id, ReplyForm(), NoteForm(), ReassignForm())


@roles(Role.PATIENT)
@require_POST
def reply_own(request: SignedInRequest, thread_id: uuid.UUID) -> HttpResponse:
    return _reply(request, thread_id, "my_messages:thread")


@roles(*MESSAGING_STAFF_ROLES)
@require_POST
def reply_staff(request: SignedInRequest, thread_id: uuid.UUID) -> HttpResponse:
    return _reply(request, thread_id, "staff_messages:thread")


@roles(Role.PATIENT)
@require_safe
def attachment_own(request: SignedInRequest, attachment_id: uuid.UUID) -> HttpResponse:
    return _attachment(request, attachment_id)


@roles(*MESSAGING_STAFF_ROLES)
@require_safe
def attachment_staff(request: SignedInRequest, attachment_id: uuid.UUID) -> HttpResponse:
    return _attachment(request, attachment_id)


@roles(*MESSAGING_STAFF_ROLES)
@require_POST
def note(request: SignedInRequest, thread_id: uuid.UUID) -> HttpResponse:
    form = NoteForm(request.POST)
    if form.is_valid():
        services.note_add(
            actor=request.user,
            thread_id=thread_id,
            body=form.cleaned_data["body"],
            context=audit_context(request),
        )
        return redirect("staff_messages:thread", thread_id=thread_id)
    return _thread(request, thread_id, ReplyForm(), form, ReassignForm(), status=400)


@roles(*MESSAGING_STAFF_ROLES)
@require_POST
def claim(request: SignedInRequest, thread_id: uuid.UUID) -> HttpResponse:
    services.thread_claim(actor=request.user, thread_id=thread_id, context=audit_context(request))
    messages.success(request, "The conversation is assigned to you.")
    return redirect("staff_messages:thread", thread_id=thread_id)


@roles(*MESSAGING_STAFF_ROLES)
@require_POST
def reassign(request: SignedInRequest, thread_id: uuid.UUID) -> HttpResponse:
    form = ReassignForm(request.POST)
    if form.is_valid():
        try:
            services.thread_reassign(
                actor=request.user,
                thread_id=thread_id,
                **form.cleaned_data["to"],
                context=audit_context(request),
            )
        except ValidationError as error:
            form.add_error("to", error)
        else:
            messages.success(request, "The conversation was passed on.")
            return redirect("staff_messages:pool")
    return _thread(request, thread_id, ReplyForm(), NoteForm(), form, status=400)


@roles(*MESSAGING_STAFF_ROLES)
@require_POST
def close(request: SignedInRequest, thread_id: uuid.UUID) -> HttpResponse:
    services.thread_close(actor=request.user, thread_id=thread_id, context=audit_context(request))
    messages.success(request, "The conversation is closed.")
    return redirect("staff_messages:pool")


# --- Staff pools --------------------------------------------------------------------------


@roles(*MESSAGING_STAFF_ROLES)
@require_safe
def pool(request: SignedInRequest) -> HttpResponse:
    page = selectors.pool_page(
        actor=request.user, status=request.GET.get("status", "open"), context=audit_context(request)
    )
    return render(request, "messaging/pool.html", {"page": page})


@roles(*MESSAGING_STAFF_ROLES)
@require_http_methods(["GET", "HEAD", "POST"])
def away(request: SignedInRequest) -> HttpResponse:
    """Out of office: when, and who takes the conversations meanwhile."""
    page = selectors.absence_page(actor=request.user)
    colleagues = [(str(c.id), c.name) for c in page.colleagues]
    form = AbsenceForm(_posted(request)[0], colleagues=colleagues)
    if request.method == "POST" and "end" in request.POST:
        services.absence_end(actor=request.user, context=audit_context(request))
        messages.success(request, "Welcome back.")
        return redirect("staff_messages:away")
    if request.method == "POST" and form.is_valid():
        try:
            services.absence_set(
                actor=request.user,
                starts_at=form.cleaned_data["starts_at"],
                ends_at=form.cleaned_data["ends_at"],
                delegate_id=form.cleaned_data["delegate"],
                context=audit_context(request),
            )
        except ValidationError as error:
            form.add_error("delegate", error)
        else:
            messages.success(request, "Your absence is set.")
            return redirect("staff_messages:away")
    return render(request, "messaging/away.html", {"page": page, "form": form})


# --- Helpers --------------------------------------------------------------------------------


def _reply(request: SignedInRequest, thread_id: uuid.UUID, back: str) -> HttpResponse:
    form = ReplyForm(request.POST, request.FILES, **_upload_trouble(request))
    if form.is_valid():
        try:
            services.message_reply(
                actor=request.user,
                thread_id=thread_id,
                body=form.cleaned_data["body"],
                files=form.cleaned_data["attachments"],
                context=audit_context(request),
            )
        except AttachmentRefused as refused:
            form.add_error("attachments", str(refused))
        except services.ThreadClosed:
            form.add_error(None, "This conversation is closed. Please start a new message.")
        else:
            messages.success(request, "Your reply was sent.")
            return redirect(back, thread_id=thread_id)
    return _thread(request, thread_id, form, NoteForm(), ReassignForm(), status=400)


def _attachment(request: SignedInRequest, attachment_id: uuid.UUID) -> HttpResponse:
    """The file, as a download only: never rendered by the browser, never sniffed."""
    found = selectors.attachment_file(
        actor=request.user, attachment_id=attachment_id, context=audit_context(request)
    )
    response = HttpResponse(found.content, content_type=found.content_type)
    response["Content-Disposition"] = _disposition(found.name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


def _thread(
    request: SignedInRequest,
    thread_id: uuid.UUID,
    reply_form: ReplyForm,
    note_form: NoteForm,
    reassign_form: ReassignForm,
    status: int = 200,
) -> HttpResponse:
    page = selectors.thread_page(
        actor=request.user, thread_id=thread_id, context=audit_context(request)
    )
    context = {
        "page": page,
        "form": reply_form,
        "note_form": note_form,
        "reassign_form": reassign_form,
        "pools": Pool.choices,
        "emergency": EMERGENCY,
        "base": "my_messages" if request.user.role == Role.PATIENT else "staff_messages",
    }
    return render(request, "messaging/thread.html", context, status=status)


def _disposition(name: str) -> str:
    """attachment; an ASCII fallback name and the real one (RFC 6266 / 5987)."""
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
