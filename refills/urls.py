"""The care team's refill queue, under /staff/refills/."""

from django.urls import path

from refills import views

app_name = "refills"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("<uuid:request_id>/", views.detail_staff, name="detail"),
    path("<uuid:request_id>/items/<uuid:item_id>/review/", views.review, name="review"),
    path("<uuid:request_id>/items/<uuid:item_id>/decide/", views.decide, name="decide"),
]
