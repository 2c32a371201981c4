"""Key scopes: how long an unwrapped data key may stay in memory.

Every request gets a scope (Django's request_started/request_finished
signals), so a page showing 200 fields of one patient unwraps that patient's key
once, and no key outlives its request: a shred committed by another process
takes effect at the next request. Jobs and commands that read PHI wrap their
work in ``with key_scope():``; outside any scope each read unwraps afresh.

The scope also remembers which undecryptable values it has already reported, so
a broken value shown twice on one page is audited once.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.core.signals import request_finished, request_started
from django.http import HttpRequest, HttpResponse

from portal.crypto.primitives import Aead


@dataclass(eq=False)
class KeyScope:
    parent: "KeyScope | None" = None
    # By patient id as an int: hashing a UUID runs Python code, once per field read.
    keys: dict[int, Aead] = field(default_factory=dict)
    reported: set[tuple[str, str, str]] = field(default_factory=set)
    # Set by KeyScopeMiddleware, so that audit events name the actor and request.
    request: HttpRequest | None = None


_current: ContextVar[KeyScope | None] = ContextVar("portal_crypto_key_scope", default=None)


# The active scope or None; the bound method itself, as it runs once per decrypted field.
current_scope: Callable[[], KeyScope | None] = _current.get


@contextmanager
def key_scope() -> Iterator[KeyScope]:
    """Cache unwrapped data keys until the block ends (nested blocks share the outer scope)."""
    outer = _current.get()
    if outer is not None:
        yield outer
        return
    scope = KeyScope()
    token = _current.set(scope)
    try:
        yield scope
    finally:
        scope.keys.clear()
        _current.reset(token)


def _open_request_scope(**kwargs: Any) -> None:
    _current.set(KeyScope(parent=_current.get()))


def _close_request_scope(**kwargs: Any) -> None:
    scope = _current.get()
    if scope is not None:
        scope.keys.clear()
        _current.set(scope.parent)


request_started.connect(_open_request_scope, dispatch_uid="portal.crypto.scope.open")
request_finished.connect(_close_request_scope, dispatch_uid="portal.crypto.scope.close")


class KeyScopeMiddleware:
    """Lets audit events about undecryptable values name the request's user.

    Optional (scopes exist without it); place it after AuthenticationMiddleware.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        scope = current_scope()
        if scope is not None:
            scope.request = request
        return self.get_response(request)
