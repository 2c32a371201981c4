"""The assistant's staff pages, under /staff/assistant/."""

from django.urls import path

from assistant import views

app_name = "assistant"

urlpatterns = [
    path("alerts/", views.alert_queue, name="alerts"),
    path("alerts/<uuid:alert_id>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
]
