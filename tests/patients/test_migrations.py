"""Moving the patient models to patients/ moves no row: a database from before migrates.

The database is taken back to the migrations of before the move (main's
leaves), rows are written through the old models, and after migrating forward
the same rows read through patients.models. All of it runs in the test's
transaction, which is rolled back, migration records included.
"""

from datetime import date, timedelta

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from patients.models import BreakGlassGrant, CareTeam, Patient, PatientDemographics
from portal.crypto.fields import AAD_PREFIX

BEFORE = [
    ("accounts", "0002_careteam_breakglassgrant"),
    ("portal", "0002_throttle_hit"),
    ("records", "0005_sync_state_last_complete_at"),
    ("patients", None),
]
MOVED = {
    ("records", "patient"),
    ("portal", "patientdemographics"),
    ("accounts", "careteam"),
    ("accounts", "breakglassgrant"),
}


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def latest():
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


@pytest.fixture
def before_the_move(db):
    old_apps = migrate(BEFORE)
    yield old_apps
    migrate(latest())
    ContentType.objects.clear_cache()


def test_it_keeps_every_row_of_the_moved_tables(before_the_move):
    old = before_the_move
    patient = old.get_model("records", "Patient").objects.create(fhir_id="ehr-1")
    clinician = old.get_model("accounts", "User").objects.create(
        username="carol", email="carol@example.org", role="physician", password="!"
    )
    team = old.get_model("accounts", "CareTeam").objects.create(name="Ward 3")
    team.members.add(clinician)
    team.patients.add(patient)
    grant = old.get_model("accounts", "BreakGlassGrant").objects.create(
        clinician=clinician,
        patient=patient,
        reason="unconscious in A&E",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    # Encrypted values need the real model's fields (the historical one has no
    # PHIModel behind it); the table then had every column but mrn_system (patients
    # 0002, after the move), so the row is written with the others.
    demographics = PatientDemographics(
        patient_id=patient.pk, given_name="Alice", family_name="Liddell", mrn="A-1"
    )
    demographics.birth_date = date(1990, 5, 4)
    fields = [f for f in PatientDemographics._meta.local_concrete_fields if f.name != "mrn_system"]
    values = [f.get_db_prep_save(f.pre_save(demographics, True), connection) for f in fields]
    # Table and column names come from the model, never from input.
    columns = ", ".join(f.column for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {PatientDemographics._meta.db_table} ({columns}) VALUES ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks before ALTER TABLE

    migrate(latest())

    moved = Patient.objects.get(pk=patient.pk)
    assert moved.fhir_id == "ehr-1"
    assert list(CareTeam.objects.get(pk=team.pk).patients.all()) == [moved]
    assert [m.pk for m in CareTeam.objects.get(pk=team.pk).members.all()] == [clinician.pk]
    assert BreakGlassGrant.objects.get(pk=grant.pk).reason == "unconscious in A&E"
    row = PatientDemographics.objects.get(patient=moved)
    assert (row.given_name, row.family_name, row.birth_date) == (
        "Alice",
        "Liddell",
        date(1990, 5, 4),
    )
    assert moved.demographics == row
    assert [t.pk for t in moved.care_teams.all()] == [team.pk]


def test_it_carries_the_content_types_along(before_the_move):
    ContentType.objects.filter(app_label="patients").delete()
    for app_label, model in MOVED:
        ContentType.objects.get_or_create(app_label=app_label, model=model)
    old_ids = {
        model: ContentType.objects.get(app_label=app_label, model=model).pk
        for app_label, model in MOVED
    }

    migrate(latest())

    ContentType.objects.clear_cache()
    for model, old_id in old_ids.items():
        # The same row, renamed: auditlog's history of care teams stays attached.
        assert ContentType.objects.get(app_label="patients", model=model).pk == old_id


def test_it_binds_demographics_values_to_the_label_they_were_encrypted_under():
    # Values written before the move carry portal's label in their associated
    # data; a new label would make every one of them undecryptable.
    field = PatientDemographics._meta.get_field("given_name")
    assert field._aad_prefix == AAD_PREFIX + b"portal.patientdemographics\x00given_name\x00"
