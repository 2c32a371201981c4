from django.conf import settings
from django.http import HttpRequest


def session_timeout(request: HttpRequest) -> dict:
    """What the page's session timer needs (only signed-in, verified pages run it)."""
    user = getattr(request, "user", None)
    active = bool(user and user.is_authenticated and user.is_verified())
    return {
        "session_timer": active,
        "idle_timeout": settings.PORTAL_IDLE_TIMEOUT,
        "idle_warning": min(settings.PORTAL_IDLE_WARNING, settings.PORTAL_IDLE_TIMEOUT // 2),
    }


def time_zone(request: HttpRequest) -> dict:
    """The zone the portal's times are shown in, for pages to name it."""
    return {"portal_time_zone": settings.PORTAL_TIME_ZONE}
