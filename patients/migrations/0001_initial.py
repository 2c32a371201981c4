"""Patient, PatientDemographics, CareTeam and BreakGlassGrant move here from
records, portal and accounts: in the migration state only. Their tables keep
their names (``db_table``), so no row moves and no SQL runs except renaming
their content types, which keeps the admin's and auditlog's history attached.
The old apps drop the models from their state in their next migration.
"""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import portal.crypto.fields

# (old app, model): the content types that follow the models here.
MOVED = [
    ("records", "patient"),
    ("portal", "patientdemographics"),
    ("accounts", "careteam"),
    ("accounts", "breakglassgrant"),
]


def _rename_content_types(apps, schema_editor, *, forward: bool) -> None:
    content_type = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    for old_app, model in MOVED:
        old, new = (old_app, "patients") if forward else ("patients", old_app)
        if content_type.objects.using(db).filter(app_label=new, model=model).exists():
            continue  # already there (created by a run of post_migrate); leave both
        content_type.objects.using(db).filter(app_label=old, model=model).update(app_label=new)


def content_types_forward(apps, schema_editor) -> None:
    _rename_content_types(apps, schema_editor, forward=True)


def content_types_backward(apps, schema_editor) -> None:
    _rename_content_types(apps, schema_editor, forward=False)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("accounts", "0002_careteam_breakglassgrant"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("portal", "0002_throttle_hit"),
        ("records", "0005_sync_state_last_complete_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    state_operations = [
        migrations.CreateModel(
            name="Patient",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("fhir_id", models.CharField(blank=True, db_index=True, max_length=64)),
                ("sync_requested_at", models.DateTimeField(blank=True, null=True)),
            ],
            options={
                "db_table": "records_patient",
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("fhir_id", ""), _negated=True),
                        fields=("fhir_id",),
                        name="records_patient_fhir_id_unique",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="PatientDemographics",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("given_name", portal.crypto.fields.EncryptedTextField()),
                ("family_name", portal.crypto.fields.EncryptedTextField()),
                ("birth_date", portal.crypto.fields.EncryptedDateField(blank=True, null=True)),
                ("contact", portal.crypto.fields.EncryptedJSONField(blank=True, default=dict)),
                ("mrn", portal.crypto.fields.EncryptedTextField(blank=True)),
                (
                    "mrn_index",
                    portal.crypto.fields.BlindIndexField(purpose="mrn", source="mrn", unique=True),
                ),
                (
                    "insurance_card",
                    portal.crypto.fields.EncryptedBinaryField(blank=True, null=True),
                ),
                (
                    "patient",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="demographics",
                        to="patients.patient",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "patient demographics",
                "db_table": "portal_patient_demographics",
            },
        ),
        migrations.CreateModel(
            name="CareTeam",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("name", models.CharField(max_length=120, unique=True)),
                (
                    "members",
                    models.ManyToManyField(
                        blank=True,
                        help_text="Physicians and nurses only.",
                        limit_choices_to={"role__in": ["physician", "nurse"]},
                        related_name="care_teams",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "patients",
                    models.ManyToManyField(
                        blank=True, related_name="care_teams", to="patients.patient"
                    ),
                ),
            ],
            options={"db_table": "accounts_careteam"},
        ),
        migrations.CreateModel(
            name="BreakGlassGrant",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("reason", models.TextField()),
                ("granted_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("expires_at", models.DateTimeField()),
                ("reviewed_at", models.DateTimeField(blank=True, null=True)),
                (
                    "clinician",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="break_glass_grants",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="break_glass_grants",
                        to="patients.patient",
                    ),
                ),
                (
                    "reviewed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "db_table": "accounts_breakglassgrant",
                "indexes": [
                    models.Index(
                        fields=["clinician", "patient", "expires_at"],
                        name="accounts_br_clinici_d7ff56_idx",
                    )
                ],
            },
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=state_operations),
        migrations.RunPython(content_types_forward, content_types_backward),
    ]
