from django.urls import path

from records import views

app_name = "records"

urlpatterns = [
    path("", views.patient_list, name="patient_list"),
    path("directory/", views.directory, name="directory"),
    path("<uuid:patient_id>/", views.chart, name="chart"),
    path("<uuid:patient_id>/shred/", views.patient_shred, name="shred"),
]
