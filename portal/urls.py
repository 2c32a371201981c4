from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from billing import views as billing_views
from portal import views
from portal.access import public, sign_in_step

urlpatterns = [
    path("", views.home, name="home"),
    path("patient/", views.patient_home, name="patient_home"),
    path("patient/records/", include("records.patient_urls")),
    path("patient/", include("invitations.proxy_urls")),
    path("patient/messages/", include("messaging.patient_urls")),
    path("staff/", views.staff_home, name="staff_home"),
    path("staff/patients/", include("records.urls")),
    path("staff/messages/", include("messaging.urls")),
    path("patient/appointments/", include("appointments.patient_urls")),
    path("staff/schedule/", include("appointments.urls")),
    path("patient/refills/", include("refills.patient_urls")),
    path("staff/refills/", include("refills.urls")),
    path("patient/bills/", include("billing.patient_urls")),
    path("staff/billing/", include("billing.urls")),
    path("patient/assistant/", include("assistant.patient_urls")),
    path("staff/assistant/", include("assistant.urls")),
    # Stripe's signed webhook: public and CSRF-exempt, the only such route.
    path("billing/stripe/webhook", billing_views.stripe_webhook, name="stripe_webhook"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("audit/", include("audit.urls")),
    path("", include("invitations.urls")),
    # The admin signs in and out through the portal's own pages (password + 2FA).
    path(
        "admin/login/",
        public(RedirectView.as_view(pattern_name="accounts:login", query_string=True)),
        name="admin_login",
    ),
    path(
        "admin/logout/",
        sign_in_step(RedirectView.as_view(pattern_name="accounts:logout")),
        name="admin_logout",
    ),
    path("admin/", admin.site.urls),
]

if settings.BILLING_DEV_CHECKOUT:
    # Development only: the stand-in for Stripe Checkout's hosted page (`make run`'s demo).
    urlpatterns.append(path("dev/checkout/", include("billing.devcheckout.urls")))

# A lost database answers 503 "try again" (portal.views.server_error), not a 500.
handler500 = "portal.views.server_error"
