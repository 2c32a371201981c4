"""Every route in the URLconf, with a concrete path for each.

Generated, never kept by hand: a new route is covered by the walk tests the
moment it exists.
"""

import re
import uuid
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern

SAMPLES = {
    "int": "1",
    "uuid": str(uuid.UUID(int=1)),
    "slug": "x",
    "str": "x",
    "path": "x",
}


@dataclass(frozen=True)
class Route:
    name: str
    path: str
    view: object


def _fill_route(route: str, converters: dict) -> str:
    def sample(match: re.Match) -> str:
        parts = match.group(1).split(":")
        kind = parts[0] if len(parts) == 2 else "str"
        return SAMPLES.get(kind, "x")

    return re.sub(r"<([^>]+)>", sample, route)


def _fill_regex(regex: str) -> str:
    """A string the regex matches: named groups get a sample or their first alternative."""

    def group(match: re.Match) -> str:
        body = match.group(2)
        first = body.split("|")[0]
        if re.fullmatch(r"[\w-]+", first):
            return first
        if "0-9" in body or r"\d" in body:
            return "1"
        return "x"

    text = re.sub(r"\(\?P<(\w+)>([^()]*)\)", group, regex)
    text = text.lstrip("^").rstrip("$").replace(r"\Z", "").replace("\\", "")
    return text


def _piece(pattern) -> str:
    if isinstance(pattern, RoutePattern):
        return _fill_route(str(pattern._route), pattern.converters)
    if isinstance(pattern, RegexPattern):
        return _fill_regex(pattern._regex)
    raise TypeError(pattern)


def walk() -> list[Route]:
    """Every reachable route: one shadowed by an earlier pattern (the admin's
    own login and logout, replaced by ours) can never run, so it is left out."""
    return [r for r in _walk() if resolve(r.path).func == r.view]


def _walk(patterns=None, prefix: str = "/", namespace: str = "") -> list[Route]:
    routes = []
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        piece = _piece(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = ":".join(filter(None, [namespace, entry.namespace]))
            routes += _walk(entry.url_patterns, prefix + piece, ns)
        elif isinstance(entry, URLPattern):
            name = ":".join(filter(None, [namespace, entry.name or entry.lookup_str]))
            routes.append(Route(name, prefix + piece, entry.callback))
    return routes
