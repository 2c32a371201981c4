"""Patient now lives in patients (patients/0001): state only, the table
records_patient stays. The records' foreign keys point at patients.Patient;
the model leaves records' state last, once nothing refers to it."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_careteam_breakglassgrant_to_patients"),
        ("patients", "0001_initial"),
        ("portal", "0003_patientdemographics_to_patients"),
        ("records", "0005_sync_state_last_complete_at"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="fhirrecord",
                    name="patient",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="fhir_records",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="quarantine",
                    name="patient",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
                migrations.AlterField(
                    model_name="syncstate",
                    name="patient",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="patients.patient",
                    ),
                ),
                migrations.DeleteModel(name="Patient"),
            ]
        ),
    ]
