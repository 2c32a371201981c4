"""Names the signed-in user and client address on django-auditlog's change rows."""

from collections.abc import Callable

from auditlog.context import set_actor
from django.http import HttpRequest, HttpResponse

from portal.net import client_ip


class ChangeLogActorMiddleware:
    """auditlog's own middleware trusts X-Forwarded-For; portal.net decides that here."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        with set_actor(actor=user, remote_addr=client_ip(request)):
            return self.get_response(request)
