"""The assistant's patient pages, under /patient/assistant/."""

from django.urls import path

from assistant import checkin_views

app_name = "my_assistant"

urlpatterns = [
    path("checkins/<uuid:checkin_id>/", checkin_views.checkin, name="checkin"),
]
