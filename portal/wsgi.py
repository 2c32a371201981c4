import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_wsgi_application()

# gunicorn does not run system checks; run them here so a production instance
# without its secrets refuses to start instead of serving.
from django.conf import settings  # noqa: E402

if settings.PRODUCTION:
    from django.core.management import call_command

    call_command("check", deploy=True, fail_level="ERROR")
