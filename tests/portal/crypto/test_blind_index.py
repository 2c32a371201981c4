"""Blind indexes find rows by exact value without storing the value."""

import base64
import secrets

import pytest

from patients.models import PatientDemographics
from portal.crypto.blind_index import blind_index
from tests.portal.crypto.conftest import demographics_of, fresh, raw_column


def test_it_finds_a_row_by_mrn_as_people_type_it(db, alice, mallory):
    row = demographics_of(alice, mrn="A-123 45")
    demographics_of(mallory, mrn="B-999")
    fullwidth_a = "\uff21"
    for typed in ("A-123 45", " a12345 ", "a-12345", f"{fullwidth_a}12345"):
        found = PatientDemographics.objects.get(mrn_index=blind_index(typed, purpose="mrn"))
        assert found.pk == row.pk


def test_it_stores_a_digest_not_the_value(db, alice):
    row = demographics_of(alice, mrn="A-12345")
    stored = raw_column(row, "mrn_index")
    assert len(stored) == 32
    assert b"12345" not in stored
    assert stored == blind_index("A-12345", purpose="mrn")


def test_it_keys_each_purpose_separately(db):
    assert blind_index("alice@example.org", purpose="mrn") != blind_index(
        "alice@example.org", purpose="email"
    )


def test_it_depends_on_the_index_key(db, settings):
    before = blind_index("A-1", purpose="mrn")
    settings.PORTAL_BLIND_INDEX_KEY = base64.b64encode(secrets.token_bytes(32)).decode()
    assert blind_index("A-1", purpose="mrn") != before


def test_it_follows_its_source_field_on_save(db, alice):
    row = demographics_of(alice, mrn="A-1")
    loaded = fresh(row)
    loaded.given_name = "Alicia"  # the MRN is not touched, so not even decrypted
    loaded.save()
    assert PatientDemographics.objects.filter(mrn_index=blind_index("A-1", purpose="mrn")).exists()
    loaded.mrn = "A-2"
    loaded.save()
    assert not PatientDemographics.objects.filter(
        mrn_index=blind_index("A-1", purpose="mrn")
    ).exists()
    assert PatientDemographics.objects.filter(mrn_index=blind_index("A-2", purpose="mrn")).exists()


def test_it_leaves_an_empty_value_unindexed(db, alice, mallory):
    demographics_of(alice, mrn="")
    demographics_of(mallory, mrn="")  # no clash on the unique index
    assert PatientDemographics.objects.filter(mrn_index__isnull=True).count() == 2


def test_it_refuses_to_compare_an_index_with_plain_text(db):
    with pytest.raises(TypeError, match="blind_index"):
        PatientDemographics.objects.filter(mrn_index="A-1")
