"""Staff messaging, under /staff/messages/: the role's pool and its threads."""

from django.urls import path

from messaging import views

app_name = "staff_messages"

urlpatterns = [
    path("", views.pool, name="pool"),
    path("away/", views.away, name="away"),
    path("<uuid:thread_id>/", views.thread_staff, name="thread"),
    path("<uuid:thread_id>/reply/", views.reply_staff, name="reply"),
    path("<uuid:thread_id>/note/", views.note, name="note"),
    path("<uuid:thread_id>/claim/", views.claim, name="claim"),
    path("<uuid:thread_id>/reassign/", views.reassign, name="reassign"),
    path("<uuid:thread_id>/close/", views.close, name="close"),
    path("attachments/<uuid:attachment_id>/", views.attachment_staff, name="attachment"),
]
