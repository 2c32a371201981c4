"""Small hooks that django-axes calls."""

from django.http import HttpRequest


def axes_username(request: HttpRequest, credentials: dict | None) -> str:
    """Usernames are case-insensitive, so their failure counters must be too."""
    source = credentials if credentials else request.POST
    return (source.get("username") or "").strip().lower()
