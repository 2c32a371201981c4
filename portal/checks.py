"""Start-up checks that refuse an unsafe configuration.

Registered with the ``deploy`` tag and also run by portal/wsgi.py before the
first request, so gunicorn will not serve a production instance that lacks
its secrets.
"""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_production_configuration(app_configs=None, **kwargs) -> list:
    if not settings.PRODUCTION:
        return [
            Warning(
                "PORTAL_ENV is not 'production': development defaults are in use.",
                hint="Set PORTAL_ENV=production with real secrets before serving patients.",
                id="portal.W001",
            )
        ]
    errors = []
    if len(settings.SECRET_KEY) < 50:
        errors.append(
            Error(
                "No secret key: set DJANGO_SECRET_KEY or DJANGO_SECRET_KEY_FILE (50+ characters).",
                id="portal.E001",
            )
        )
    if not settings.ALLOWED_HOSTS or "*" in settings.ALLOWED_HOSTS:
        errors.append(
            Error("Set ALLOWED_HOSTS to the portal's host names (no '*').", id="portal.E002")
        )
    if not settings.DATABASE_URL:
        errors.append(Error("Set DATABASE_URL or DATABASE_URL_FILE.", id="portal.E003"))
    if settings.DEBUG:
        errors.append(Error("DEBUG must be off in production.", id="portal.E004"))
    if settings.EMAIL_BACKEND.endswith("filebased.EmailBackend"):
        errors.append(
            Error(
                "No mail server: set EMAIL_HOST (and EMAIL_HOST_USER/PASSWORD) for sign-in codes "
                "and password resets.",
                id="portal.E005",
            )
        )
    if not settings.PORTAL_BASE_URL.startswith("https://"):
        errors.append(
            Error(
                "Set PORTAL_BASE_URL to the portal's public https:// address; links in "
                "e-mail are built from it.",
                id="portal.E006",
            )
        )
    return errors
