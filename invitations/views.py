"""The desk's invitation pages and the patient's activation pages.

Each view is its policy, then form → selector or service → render. Search terms
and codes travel in POST bodies, never in URLs (which end up in logs).
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from audit.context import audit_context
from invitations import selectors, services
from invitations.forms import AccountForm, EhrSearchForm, IdentityForm, InviteForm, LetterForm
from portal.access import Role, SignedInRequest, public, roles

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
    """Step 1: the code, the last name and the date of birth."""
    if request.user.is_authenticated:
        return redirect("home")
    form = IdentityForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.identity_check(request=request, **form.cleaned_data)
        except services.ActivationRefused as refused:
            form.add_error(None, str(refused))
        else:
            return redirect("invitations:activate_account")
    return render(request, "invitations/activate.html", {"form": form})


@public
@require_http_methods(["GET", "POST"])
@never_cache
def activate_account(request: HttpRequest) -> HttpResponse:
    """Step 2: username, e-mail and password; then the second factor (accounts' enrolment)."""
    if services.verified_invitation(request) is None:
        return redirect("invitations:activate")
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
        except services.ActivationRefused as refused:
            messages.error(request, str(refused))
            return redirect("invitations:activate")
        else:
            return redirect("accounts:enrol")
    return render(request, "invitations/activate_account.html", {"form": form})
