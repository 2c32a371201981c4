from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    name = "portal"
    default = True

    def ready(self) -> None:
        from portal import checks  # noqa: F401  (registers the system checks)
        from portal.fhir import checks as fhir_checks  # noqa: F401  (same, for the EHR)


class PortalAdminConfig(admin_apps.AdminConfig):
    """The Django admin, on our site class: admin role, verified 2FA, audited."""

    default = False
    default_site = "portal.admin.PortalAdminSite"
