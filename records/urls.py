from django.urls import path

from records import views

app_name = "records"

urlpatterns = [
    path("", views.patient_list, name="patient_list"),
    path("directory/", views.directory, name="directory"),
    path("<uuid:patient_id>/", views.chart, name="chart"),
    path("<uuid:patient_id>/shred/", views.patient_shred, name="shred"),
    # The patient's records from the EHR: the same pages the patient sees.
    path("<uuid:patient_id>/summary/", views.summary_staff, name="summary"),
    path("<uuid:patient_id>/labs/", views.labs_staff, name="labs"),
    path("<uuid:patient_id>/labs/<slug:key>/", views.trend_staff, name="trend"),
    path("<uuid:patient_id>/visits/", views.visits_staff, name="visits"),
    path("<uuid:patient_id>/medications/", views.medications_staff, name="medications"),
    path("<uuid:patient_id>/allergies/", views.allergies_staff, name="allergies"),
    path("<uuid:patient_id>/immunizations/", views.immunizations_staff, name="immunizations"),
    path("<uuid:patient_id>/problems/", views.problems_staff, name="problems"),
    path("<uuid:patient_id>/refresh/", views.refresh_staff, name="refresh"),
]
