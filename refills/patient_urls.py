"""The signed-in patient's refill requests, under /patient/refills/."""

from django.urls import path

from refills import views

app_name = "my_refills"

urlpatterns = [
    path("", views.refills_own, name="list"),
    path("new/", views.request_new, name="new"),
    path("<uuid:request_id>/", views.detail_own, name="detail"),
]
