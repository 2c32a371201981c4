"""The assistant's patient pages, under /patient/assistant/."""

from django.urls import path

from assistant import checkin_views, views

app_name = "my_assistant"

urlpatterns = [
    path("", views.chat, name="chat"),
    path("answer/", views.answer, name="answer"),
    path("start-over/", views.restart, name="restart"),
    path("checkins/<uuid:checkin_id>/", checkin_views.checkin, name="checkin"),
]
