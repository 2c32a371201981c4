from django.urls import path

from invitations import views

app_name = "proxy"

urlpatterns = [
    path("switch/", views.switch, name="switch"),
    path("sharing/", views.sharing, name="sharing"),
    path("sharing/<uuid:grant_id>/revoke/", views.sharing_revoke, name="sharing_revoke"),
]
