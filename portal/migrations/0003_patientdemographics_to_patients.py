"""PatientDemographics now lives in patients (patients/0001): state only, the
table stays. The key table's patient points at patients.Patient (same table)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0001_initial"),
        ("portal", "0002_throttle_hit"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="PatientDemographics"),
                migrations.AlterField(
                    model_name="patientkey",
                    name="patient",
                    field=models.OneToOneField(
                        on_delete=django.db.models.deletion.PROTECT,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="patients.patient",
                    ),
                ),
            ]
        ),
    ]
