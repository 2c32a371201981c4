"""CareTeam and BreakGlassGrant now live in patients (patients/0001): state only,
the tables stay. The user's patient link points at patients.Patient (same table)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_careteam_breakglassgrant"),
        ("patients", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="BreakGlassGrant"),
                migrations.DeleteModel(name="CareTeam"),
                migrations.AlterField(
                    model_name="user",
                    name="patient",
                    field=models.OneToOneField(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="user",
                        to="patients.patient",
                    ),
                ),
            ]
        ),
    ]
