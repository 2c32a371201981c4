"""Clinic set-up for administrators: locations, visit types, weekly hours, exceptions.

Appointments themselves (with the patient's encrypted reason) have no admin page: the
front desk changes them through the schedule pages, on the safe path.
"""

from django.contrib import admin

from appointments.models import Location, ScheduleException, VisitType, WeeklyTemplate


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "time_zone", "address")


@admin.register(VisitType)
class VisitTypeAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "duration_minutes",
        "mode",
        "self_book",
        "min_notice_minutes",
        "horizon_days",
        "cancel_cutoff_hours",
        "buffer_minutes",
    )


@admin.register(WeeklyTemplate)
class WeeklyTemplateAdmin(admin.ModelAdmin):
    list_display = ("clinician", "location", "visit_type", "weekday", "start_time", "end_time")
    list_filter = ("location", "visit_type", "weekday")


@admin.register(ScheduleException)
class ScheduleExceptionAdmin(admin.ModelAdmin):
    list_display = ("clinician", "location", "starts_at", "ends_at", "label")
