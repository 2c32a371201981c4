"""The desk's invitation pages and the patient's activation pages.

Each view is its policy, then form → selector or service → render. Search terms
and codes travel in POST bodies, never in URLs (which end up in logs).
"""

import uuid
from typing import cast

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from audit.context import audit_context
from invitations import proxies, selectors, services
from invitations.forms import (
    AccountForm,
    CaregiverForm,
    ChooseRecordForm,
    EhrSearchForm,
    GuardianForm,
    IdentityForm,
    InviteForm,
    LetterForm,
)
from invitations.models import Invitation
from portal.access import (
    PATIENT_SIDE_ROLES,
    Role,
    SignedInRequest,
    current_patient_id,
    public,
    record_choose,
    roles,
)

DESK = (Role.FRONT_DESK, Role.ADMIN)


@roles(*DESK)
@require_http_methods(["GET", "POST"])
def search(request: SignedInRequest) -> HttpResponse:
    """Find the patient on the EHR: by MRN, or by last name and birth date."""
    form = EhrSearchForm(request.POST if request.method == "POST" else None)
    matches, error = None, ""
    if form.is_valid():
        try:
            matches = selectors.ehr_patients_find(
                actor=request.user, context=audit_context(request), **form.cleaned_data
            )
        except selectors.EhrUnavailable as unavailable:
            error = str(unavailable)
    context = {"form": form, "matches": matches, "error": error}
    return render(request, "invitations/search.html", context)


@roles(*DESK)
@require_POST
@never_cache
def invite(request: SignedInRequest) -> HttpResponse:
    """Issue the code: shown once on this page, to read out, print or hand over."""
    form = InviteForm(request.POST)
    if not form.is_valid():
        return redirect("invitations:search")
    try:
        found = selectors.ehr_patient(actor=request.user, fhir_id=form.cleaned_data["fhir_id"])
        issued = services.invite(actor=request.user, context=audit_context(request), found=found)
    except (selectors.EhrUnavailable, services.InvitationError) as error:
        messages.error(request, str(error))
        return redirect("invitations:search")
    return render(request, "invitations/issued.html", {"issued": issued, "patient": found})


@roles(*DESK)
@require_POST
@never_cache
def letter(request: SignedInRequest) -> HttpResponse:
    form = LetterForm(request.POST)
    if not form.is_valid():
        return redirect("invitations:search")
    pdf = selectors.letter_pdf(
        actor=request.user,
        context=audit_context(request),
        invitation_id=form.cleaned_data["invitation"],
        code=form.cleaned_data["code"],
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="portal-invitation.pdf"'
    return response


@public
@require_http_methods(["GET", "POST"])
@never_cache
def activate(request: HttpRequest) -> HttpResponse:
    """Step 1: the code, the last name and the date of birth (of the patient, also when
    the code invites someone to act for them). Signed in, only a proxy invitation can be
    taken (to add it to this account)."""
    signed_in = request.user.is_authenticated
    if signed_in and not _verified(request):
        return redirect("home")  # the second factor comes first
    form = IdentityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            invitation = services.identity_check(request=request, **form.cleaned_data)
        except services.ActivationRefused as refused:
            form.add_error(None, str(refused))
        else:
            if signed_in and not invitation.for_proxy:
                form.add_error(None, services.SIGNED_IN_PATIENT_CODE)
            else:
                return redirect("invitations:activate_account")
    return render(request, "invitations/activate.html", {"form": form, "signed_in": signed_in})


@public
@require_http_methods(["GET", "POST"])
@never_cache
def activate_account(request: HttpRequest) -> HttpResponse:
    """Step 2: username, e-mail and password; then the second factor (accounts' enrolment).

    Signed in (a proxy invitation only): the page names whose record it is and asks to
    confirm; the access is added to this account.
    """
    invitation = services.verified_invitation(request)
    if invitation is None:
        return redirect("invitations:activate")
    if request.user.is_authenticated:
        return _accept(request, invitation)
    form = AccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.account_create(
                request=request,
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
            )
        except services.AccountTaken as taken:
            form.add_error(None, str(taken))
            if invitation.for_proxy:
                form.add_error(None, services.USE_YOUR_ACCOUNT)
        except services.ActivationRefused as refused:
            messages.error(request, str(refused))
            return redirect("invitations:activate")
        else:
            return redirect("accounts:enrol")
    context = {"form": form, "for_proxy": invitation.for_proxy}
    return render(request, "invitations/activate_account.html", context)


def _verified(request: HttpRequest) -> bool:
    """Signed in with both factors (django-otp's is_verified, unknown to the type stubs)."""
    return bool(getattr(request.user, "is_verified", lambda: False)())


def _accept(request: HttpRequest, invitation: Invitation) -> HttpResponse:
    if not _verified(request):
        return redirect("home")
    actor = cast(User, request.user)
    if request.method == "POST":
        try:
            services.grant_accept(actor=actor, context=audit_context(request), request=request)
        except services.ActivationRefused as refused:
            messages.error(request, str(refused))
            return redirect("invitations:activate")
        messages.success(request, "Done: you can now open their record from Switch record.")
        return redirect("proxy:switch")
    offer = selectors.proxy_offer(
        actor=actor, context=audit_context(request), invitation=invitation
    )
    return render(request, "invitations/accept.html", {"offer": offer})


# --- Proxy access ----------------------------------------------------------------------


@roles(*DESK)
@require_POST
@never_cache
def guardian(request: SignedInRequest) -> HttpResponse:
    """Invite a parent or guardian of a minor found on the EHR (checked in person)."""
    form = GuardianForm(
        request.POST if "relationship" in request.POST else None, initial=request.POST
    )
    try:
        child = selectors.ehr_patient(actor=request.user, fhir_id=request.POST.get("fhir_id", ""))
    except selectors.EhrUnavailable as error:
        messages.error(request, str(error))
        return redirect("invitations:search")
    if form.is_valid():
        try:
            issued = proxies.guardian_invite(
                actor=request.user,
                context=audit_context(request),
                found=child,
                relationship=form.cleaned_data["relationship"],
                email=form.cleaned_data["email"],
            )
        except services.InvitationError as error:
            form.add_error(None, str(error))
        else:
            context = {"issued": issued, "patient": child, "guardian": True}
            return render(request, "invitations/issued.html", context)
    context = {
        "form": form,
        "child": child,
        "full_under": settings.PORTAL_PROXY_FULL_UNDER,
        "adult_age": settings.PORTAL_PROXY_ADULT_AGE,
    }
    return render(request, "invitations/guardian.html", context)


@roles(*PATIENT_SIDE_ROLES)
@require_http_methods(["GET", "POST"])
def switch(request: SignedInRequest) -> HttpResponse:
    """Choose whose record the patient pages show: your own, or someone you act for."""
    form = ChooseRecordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        record_choose(request, form.cleaned_data["patient"])
        return redirect("my_records:summary")
    choices = selectors.record_choices(actor=request.user, context=audit_context(request))
    context = {"choices": choices, "current": current_patient_id(request)}
    return render(request, "invitations/switch.html", context)


@roles(Role.PATIENT)
@require_http_methods(["GET", "POST"])
def sharing(request: SignedInRequest) -> HttpResponse:
    """Who may act for you: invite a caregiver by e-mail, or stop someone's access."""
    form = CaregiverForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            proxies.caregiver_invite(
                actor=request.user, context=audit_context(request), **form.cleaned_data
            )
        except services.InvitationError as error:
            form.add_error(None, str(error))
        else:
            messages.success(
                request, "Invitation sent. It works once, with your last name and date of birth."
            )
            return redirect("proxy:sharing")
    page = selectors.sharing_page(actor=request.user)
    return render(request, "invitations/sharing.html", {"form": form, "page": page})


@roles(Role.PATIENT)
@require_POST
def sharing_revoke(request: SignedInRequest, grant_id: uuid.UUID) -> HttpResponse:
    if proxies.proxy_revoke(actor=request.user, context=audit_context(request), grant_id=grant_id):
        messages.success(request, "Their access has ended. They can no longer open your record.")
    else:
        messages.error(request, "That access had already ended.")
    return redirect("proxy:sharing")
