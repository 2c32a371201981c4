"""The signed-in patient's own record, under /patient/records/ (no ids: it is always theirs)."""

from django.urls import path

from records import views

app_name = "my_records"

urlpatterns = [
    path("", views.summary_own, name="summary"),
    path("labs/", views.labs_own, name="labs"),
    path("labs/<slug:key>/", views.trend_own, name="trend"),
    path("visits/", views.visits_own, name="visits"),
    path("medications/", views.medications_own, name="medications"),
    path("allergies/", views.allergies_own, name="allergies"),
    path("immunizations/", views.immunizations_own, name="immunizations"),
    path("problems/", views.problems_own, name="problems"),
    path("refresh/", views.refresh_own, name="refresh"),
    path("download/health-record.json", views.download_bundle, name="download_bundle"),
    path("download/health-record.pdf", views.download_pdf, name="download_pdf"),
]
