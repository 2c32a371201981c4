from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("sign-in/", views.sign_in, name="login"),
    path("sign-in/verify/", views.verify, name="verify"),
    path("sign-in/email-code/", views.email_code, name="email_code"),
    path("sign-in/enrol/", views.enrol, name="enrol"),
    path("sign-out/", views.sign_out, name="logout"),
    path("security/", views.security, name="security"),
    path("security/confirm/", views.reauth, name="reauth"),
    path("security/email/", views.email_change, name="email_change"),
    path("security/sessions/end-others/", views.sessions_end_others, name="sessions_end_others"),
    path("security/sessions/<uuid:session_id>/end/", views.session_end, name="session_end"),
    path("security/backup-codes/", views.backup_codes, name="backup_codes"),
    path("security/password/", views.password_change, name="password_change"),
    path("password-reset/", views.password_reset, name="password_reset"),
    path("password-reset/sent/", views.password_reset_sent, name="password_reset_sent"),
    path(
        "password-reset/<uidb64>/<token>/",
        views.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path("password-reset/done/", views.password_reset_done, name="password_reset_done"),
    path("emergency-access/", views.emergency_access, name="emergency_access"),
    path(
        "emergency-access/review/",
        views.emergency_access_review,
        name="emergency_access_review",
    ),
    path("session/status/", views.session_status, name="session_status"),
    path("session/extend/", views.session_extend, name="session_extend"),
]
