"""The patient's post-discharge check-in page, under /patient/assistant/checkins/<id>/.

A plain server-rendered form (no JavaScript): GET shows the questions (or, once
answered, the outcome); POST validates, and a form with errors is shown again with
every answer kept. A red-flag answer shows the emergency instructions in the answer's
own response, before anything else on the page.
"""

import uuid

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from assistant import checkins
from assistant.questionnaire import CheckInForm
from audit.context import audit_context
from portal.access import Role, SignedInRequest, roles


@roles(Role.PATIENT)
@require_http_methods(["GET", "HEAD", "POST"])
def checkin(request: SignedInRequest, checkin_id: uuid.UUID) -> HttpResponse:
    context = audit_context(request)
    form = CheckInForm(request.POST if request.method == "POST" else None)
    # A red flag is acted on even when other answers are missing (they are not asked again).
    if request.method == "POST" and (form.is_valid() or form.urgent()):
        try:
            page = checkins.checkin_answer(
                actor=request.user,
                checkin_id=checkin_id,
                answers=form.cleaned_data,
                context=context,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return render(request, "assistant/checkins/answered.html", {"page": page})
    page = checkins.checkin_page(actor=request.user, checkin_id=checkin_id, context=context)
    if page.state == "answered":
        return render(request, "assistant/checkins/answered.html", {"page": page})
    status = 400 if request.method == "POST" else 200
    return render(
        request, "assistant/checkins/checkin.html", {"page": page, "form": form}, status=status
    )
