from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.workspace, name="workspace"),
    path("export/events.csv", views.export, {"kind": "events", "fmt": "csv"}, name="export_csv"),
    path(
        "export/events.jsonl", views.export, {"kind": "events", "fmt": "jsonl"}, name="export_jsonl"
    ),
    path(
        "export/changes.csv",
        views.export,
        {"kind": "changes", "fmt": "csv"},
        name="export_changes_csv",
    ),
    path(
        "export/changes.jsonl",
        views.export,
        {"kind": "changes", "fmt": "jsonl"},
        name="export_changes_jsonl",
    ),
    path("exports/<uuid:export_id>/manifest.json", views.export_manifest, name="export_manifest"),
    path("who-viewed-my-record/", views.who_viewed, name="who_viewed"),
]
