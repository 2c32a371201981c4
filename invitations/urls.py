from django.urls import path

from invitations import views

app_name = "invitations"

urlpatterns = [
    path("staff/invitations/", views.search, name="search"),
    path("staff/invitations/invite/", views.invite, name="invite"),
    path("staff/invitations/letter/", views.letter, name="letter"),
    path("staff/invitations/guardian/", views.guardian, name="guardian"),
    path("activate/", views.activate, name="activate"),
    path("activate/account/", views.activate_account, name="activate_account"),
]
