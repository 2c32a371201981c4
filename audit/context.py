"""Where an action came from, for its audit row: what a view hands to selectors and services.

Its own module, so that views can build it without importing the recorder
(views never write audit rows themselves; audit/services.py does).
"""

from dataclasses import dataclass

from django.http import HttpRequest

from portal.net import client_ip


@dataclass(frozen=True)
class AuditContext:
    """The request's id and client address.

    Selectors and services take this (with the actor) instead of the request, so
    they can be called from anywhere and still write complete rows; a view builds
    it with ``audit_context(request)``. Outside a request (jobs, commands) it is
    empty.
    """

    request_id: str = ""
    client_ip: str | None = None


NO_CONTEXT = AuditContext()


def audit_context(request: HttpRequest) -> AuditContext:
    return AuditContext(request_id=getattr(request, "request_id", ""), client_ip=client_ip(request))
