"""Development only: Stripe Checkout's hosted page, played locally under /dev/checkout/."""

from django.urls import path

from billing.devcheckout import views

app_name = "dev_checkout"

urlpatterns = [path("<str:session_id>/", views.hosted_page, name="page")]
