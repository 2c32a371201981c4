"""The bills of the record the patient pages show, under /patient/bills/ (no patient id)."""

from django.urls import path

from billing import views

app_name = "my_bills"

urlpatterns = [
    path("", views.statements, name="statements"),
    path("<uuid:statement_id>/", views.statement, name="statement"),
    path("<uuid:statement_id>/statement.pdf", views.statement_pdf, name="statement_pdf"),
    path("receipts/<uuid:entry_id>/", views.receipt, name="receipt"),
]
