"""Staff: schedules, and the front desk booking for a patient, under /staff/schedule/."""

from django.urls import path

from appointments import views

app_name = "schedule"

urlpatterns = [
    path("", views.schedule, name="schedule"),
    path("find-patient/", views.find_patient, name="find_patient"),
    path("patients/<uuid:patient_id>/", views.patient, name="patient"),
    path("patients/<uuid:patient_id>/book/", views.staff_book, name="book"),
    path(
        "patients/<uuid:patient_id>/<uuid:appointment_id>/cancel/",
        views.staff_cancel,
        name="cancel",
    ),
    path("patients/<uuid:patient_id>/<uuid:appointment_id>/mark/", views.mark, name="mark"),
]
