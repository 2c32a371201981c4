"""Background jobs of the accounts app (procrastinate, queue "mail").

Account mail is sent by the worker, not by the request: a request that mails
answers in the same time as one that does not (no account enumeration by
timing), and a slow mail server never holds a web thread. The job row holds the
user's id and the kind of mail, nothing else.
"""

import logging

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import connection
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from procrastinate.contrib.django import app

from accounts.models import User

logger = logging.getLogger(__name__)

# Each kind is templates/accounts/email/<kind>.txt and <kind>_subject.txt. None of them
# may carry PHI: they say what happened to the account and where to look.
KINDS = frozenset(
    {
        "password_reset",
        "password_changed",
        "second_factor_changed",
        "backup_codes_changed",
        "email_changed",
        "proxy_access_changed",
    }
)


def account_email_later(*, user: User, kind: str, to: str = "") -> None:
    """Queue mail of this kind to the user, in the caller's transaction.

    `to` sends it to another address than the account's current one (the old
    address, when the address itself changed).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown account e-mail {kind!r}")
    send_account_email.defer(user_id=str(user.pk), kind=kind, to=to)


@app.task(name="accounts.send_account_email", queue="mail", pass_context=False)
def send_account_email(user_id: str, kind: str, to: str = "") -> None:
    try:
        _send(user_id, kind, to)
    finally:
        # The worker runs jobs in threads of its own; close what this one opened.
        connection.close()


def _send(user_id: str, kind: str, to: str) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or kind not in KINDS:
        logger.info("account e-mail %s for user %s not sent: no such active user", kind, user_id)
        return
    context = {"base_url": settings.PORTAL_BASE_URL}
    if kind == "password_reset":
        # Made when the mail is sent: the token is valid for PASSWORD_RESET_TIMEOUT from now
        # and dies as soon as the password (or last sign-in) changes.
        context["uid"] = urlsafe_base64_encode(force_bytes(user.pk))
        context["token"] = default_token_generator.make_token(user)
    subject = render_to_string(f"accounts/email/{kind}_subject.txt", context).strip()
    body = render_to_string(f"accounts/email/{kind}.txt", context)
    send_mail(subject, body, None, [to or user.email])
