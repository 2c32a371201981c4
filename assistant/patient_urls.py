"""The assistant's patient pages, under /patient/assistant/."""

from django.urls import path

from assistant import views

app_name = "my_assistant"

urlpatterns = [
    path("", views.chat, name="chat"),
    path("answer/", views.answer, name="answer"),
    path("start-over/", views.restart, name="restart"),
]
