"""The signed-in patient's messages, under /patient/messages/."""

from django.urls import path

from messaging import views

app_name = "my_messages"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("sent/", views.sent, name="sent"),
    path("new/", views.compose, name="compose"),
    path("notifications/", views.preferences, name="preferences"),
    path("<uuid:thread_id>/", views.thread_own, name="thread"),
    path("<uuid:thread_id>/reply/", views.reply_own, name="reply"),
    path("attachments/<uuid:attachment_id>/", views.attachment_own, name="attachment"),
]
