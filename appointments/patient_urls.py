"""The signed-in patient's own appointments, under /patient/appointments/ (no patient id)."""

from django.urls import path

from appointments import views

app_name = "my_appointments"

urlpatterns = [
    path("", views.my_appointments, name="list"),
    path("find/", views.find, name="find"),
    path("book/", views.book, name="book"),
    path("<uuid:appointment_id>/", views.detail, name="detail"),
    path("<uuid:appointment_id>/cancel/", views.cancel, name="cancel"),
    path("<uuid:appointment_id>/reschedule/", views.reschedule, name="reschedule"),
    path("<uuid:appointment_id>/appointment.ics", views.calendar, name="calendar"),
    path("<uuid:appointment_id>/waitlist/", views.waitlist_join, name="waitlist_join"),
    path("offers/<uuid:offer_id>/", views.offer, name="offer"),
]
