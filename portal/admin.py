"""The admin site: administrators only, second factor verified, every change audited."""

from django.contrib import admin
from django.http import HttpRequest

from audit.actions import Action
from audit.services import record
from portal.access import Role


class AuditedAdminMixin:
    """Mixed into every ModelAdmin the site registers: each change is an audit event."""

    def _audit(self, request, action, obj) -> None:
        record(
            action=getattr(Action, action),
            request=request,
            object_type=obj._meta.label_lower,
            object_id=obj.pk,
        )

    def log_addition(self, request, obj, message):
        self._audit(request, "ADMIN_ADD", obj)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, "ADMIN_CHANGE", obj)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, "ADMIN_DELETE", obj)
        return super().log_deletions(request, queryset)


class PortalAdminSite(admin.AdminSite):
    site_header = "Carebridge administration"
    site_title = "Carebridge admin"
    index_title = "Users, roles and configuration"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(
            user.is_active and getattr(user, "role", None) == Role.ADMIN and user.is_verified()
        )

    def register(self, model_or_iterable, admin_class=None, **options):
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, AuditedAdminMixin):
            admin_class = type(admin_class.__name__, (AuditedAdminMixin, admin_class), {})
        return super().register(model_or_iterable, admin_class, **options)
