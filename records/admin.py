"""What the sync refused and where it stands, for administrators: ids and codes, no PHI.

Both lists are read-only: a quarantine row is resolved by the EHR fixing the
resource (the next sync stores it), not by editing it here.
"""

from django.contrib import admin

from records.models import Quarantine, SyncState


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Quarantine)
class QuarantineAdmin(ReadOnlyAdmin):
    list_display = (
        "received_at",
        "resource_type",
        "fhir_id",
        "reason",
        "detail",
        "patient_id",
        "resolved_at",
    )
    list_filter = ("reason", "resource_type", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("=fhir_id", "=patient__id")
    ordering = ("-received_at",)
    date_hierarchy = "received_at"


@admin.register(SyncState)
class SyncStateAdmin(ReadOnlyAdmin):
    list_display = (
        "patient_id",
        "resource_type",
        "last_synced_at",
        "high_water",
        "last_complete_at",
    )
    list_filter = ("resource_type",)
    search_fields = ("=patient__id",)
    ordering = ("-last_synced_at",)
