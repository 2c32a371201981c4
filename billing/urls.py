"""Billing staff, under /staff/billing/."""

from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("", views.find_patient, name="find_patient"),
    path("reconciliation/", views.reconciliation, name="reconciliation"),
    path("patients/<uuid:patient_id>/", views.patient, name="patient"),
    path("patients/<uuid:patient_id>/statements/new/", views.statement_new, name="statement_new"),
    path(
        "patients/<uuid:patient_id>/statements/<uuid:statement_id>/",
        views.staff_statement,
        name="statement",
    ),
    path(
        "patients/<uuid:patient_id>/statements/<uuid:statement_id>/refund/<uuid:entry_id>/",
        views.refund,
        name="refund",
    ),
    path(
        "patients/<uuid:patient_id>/statements/<uuid:statement_id>/plans/<uuid:plan_id>/cancel/",
        views.plan_cancel,
        name="plan_cancel",
    ),
]
