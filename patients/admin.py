from django.contrib import admin

from patients.models import CareTeam


@admin.register(CareTeam)
class CareTeamAdmin(admin.ModelAdmin):
    list_display = ("name",)
    search_fields = ("name",)
    filter_horizontal = ("members",)
    # Patients are picked by id; administrators see no clinical content.
    raw_id_fields = ("patients",)
