"""Encrypted fields: values round-trip; a ciphertext reads nowhere but where it was written."""

import secrets
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import FieldError
from django.db import connection, transaction
from django.http import HttpResponse
from django.template import Context, Template
from django.test import RequestFactory

from audit.actions import Action, Outcome, Severity
from patients.models import PatientDemographics
from portal.crypto.blind_index import blind_index
from portal.crypto.bulk import copy_insert_sealed
from portal.crypto.errors import DecryptionError, KeyConfigurationError
from portal.crypto.fields import bulk_update_sealed
from portal.crypto.models import PatientKey
from portal.crypto.primitives import NONCE_BYTES, OVERHEAD
from portal.crypto.scope import KeyScopeMiddleware, current_scope, key_scope
from portal.crypto.values import UNREADABLE_TEXT, Sealed, Undecryptable
from tests.audit_helpers import events, last_event
from tests.portal.crypto.conftest import (
    a_request,
    demographics_of,
    execute,
    fresh,
    pg_dump,
    raw_column,
)

FLIP_BYTE_20 = (
    "UPDATE portal_patient_demographics "
    "SET given_name = set_byte(given_name, 20, get_byte(given_name, 20) # 1) WHERE id = %s"
)


def test_it_round_trips_text_json_date_and_file_contents(db, alice):
    card = secrets.token_bytes(3000)
    row = demographics_of(
        alice,
        given_name="Alice",
        family_name="Ångström-Łukasz",
        birth_date=date(1984, 2, 29),
        contact={"address": ["1 Main St", "Springfield"], "phone": "+1 555 0100"},
        mrn="A-123",
        insurance_card=card,
    )
    loaded = fresh(row)
    assert loaded.given_name == "Alice"
    assert loaded.family_name == "Ångström-Łukasz"
    assert loaded.birth_date == date(1984, 2, 29)
    assert loaded.contact == {"address": ["1 Main St", "Springfield"], "phone": "+1 555 0100"}
    assert loaded.mrn == "A-123"
    assert loaded.insurance_card == card


def test_it_stores_version_nonce_and_tagged_ciphertext(db, alice):
    row = demographics_of(alice, given_name="Alice")
    stored = raw_column(row, "given_name")
    assert stored[0] == 1
    assert len(stored) == OVERHEAD + len(b"Alice")
    assert b"Alice" not in stored


def test_it_keeps_nulls_as_nulls(db, alice):
    row = demographics_of(alice)
    assert fresh(row).birth_date is None
    assert fresh(row).insurance_card is None
    assert PatientDemographics.objects.filter(birth_date__isnull=True).count() == 1


def test_it_never_stores_a_canary_in_the_clear(committed, alice):
    canary = f"Canary{secrets.token_hex(6)}"
    row = demographics_of(
        alice,
        given_name=canary,
        family_name=canary,
        contact={"note": canary},
        mrn=canary,
        insurance_card=canary.encode(),
    )
    needles = [canary, canary.casefold(), canary.encode().hex()]

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        tables = [name for (name,) in cursor.fetchall()]
        rows_text = []
        for table in tables:
            cursor.execute(f'SELECT t::text FROM "{table}" t')  # noqa: S608
            rows_text += [text for (text,) in cursor.fetchall()]
    everything = "\n".join(rows_text)
    assert str(row.pk) in everything  # the row is there, and was read
    for needle in needles:
        assert needle not in everything

    dump = pg_dump()
    assert raw_column(row, "given_name").hex() in dump  # the ciphertext is in the dump
    for needle in needles:
        assert needle not in dump


def test_it_refuses_a_flipped_ciphertext_byte_and_audits_it_once(db, alice):
    row = demographics_of(alice, given_name="Alice", family_name="Liddell")
    execute(FLIP_BYTE_20, [row.pk])

    with key_scope():
        loaded = fresh(row)
        value = loaded.given_name
        assert isinstance(value, Undecryptable)
        assert str(value) == UNREADABLE_TEXT
        with pytest.raises(DecryptionError) as raised:
            value.upper()
        assert loaded.family_name == "Liddell"
        # The same value again on the same page: reported once.
        assert isinstance(fresh(row).given_name, Undecryptable)

    message = str(raised.value)
    assert f"portal.patientdemographics.given_name of row {row.pk}" in message
    assert "Alice" not in message
    (event,) = events(Action.DECRYPT_FAILED)
    assert (event.outcome, event.severity) == (Outcome.FAILURE, Severity.HIGH)
    assert event.object_type == "portal.patientdemographics.given_name"
    assert event.object_id == str(row.pk)
    assert event.patient_id == alice.patient_id


@pytest.mark.parametrize(
    "use",
    [
        lambda v: v + "x",
        lambda v: v[0],
        lambda v: len(v),
        lambda v: v == "Alice",
        lambda v: list(v),
        lambda v: v.year,
    ],
)
def test_it_raises_when_an_undecryptable_value_is_used_as_data(db, alice, use):
    row = demographics_of(alice, given_name="Alice")
    execute(FLIP_BYTE_20, [row.pk])
    with pytest.raises(DecryptionError):
        use(fresh(row).given_name)


def test_it_shows_the_other_rows_of_a_page_when_one_is_undecryptable(db, alice, mallory):
    demographics_of(alice, given_name="Alice")
    broken = demographics_of(mallory, given_name="Mallory")
    execute(FLIP_BYTE_20, [broken.pk])
    page = Template("{% for d in rows %}<li>{{ d.given_name }}</li>{% endfor %}")

    html = page.render(Context({"rows": list(PatientDemographics.objects.all())}))

    assert "<li>Alice</li>" in html
    assert f"<li>{UNREADABLE_TEXT}</li>" in html
    assert "<li></li>" not in html


def test_it_names_the_signed_in_user_when_auditing_an_undecryptable_value(db, alice, carol):
    row = demographics_of(alice, given_name="Alice")
    execute(FLIP_BYTE_20, [row.pk])
    request = RequestFactory().get("/")
    request.user = carol
    with key_scope() as scope:
        scope.request = request
        assert isinstance(fresh(row).given_name, Undecryptable)
    assert last_event(Action.DECRYPT_FAILED).actor_id == carol.pk


def test_it_refuses_a_ciphertext_moved_to_another_patients_row(db, alice, mallory):
    source = demographics_of(alice, given_name="Alice")
    target = demographics_of(mallory, given_name="Mallory")
    execute(
        "UPDATE portal_patient_demographics SET given_name = "
        "(SELECT given_name FROM portal_patient_demographics WHERE id = %s) WHERE id = %s",
        [source.pk, target.pk],
    )
    assert isinstance(fresh(target).given_name, Undecryptable)
    assert fresh(source).given_name == "Alice"


def test_it_refuses_a_ciphertext_moved_to_another_row_of_the_same_patient(db, alice):
    row = demographics_of(alice, given_name="Alice")
    moved_to = uuid.uuid4()
    execute("UPDATE portal_patient_demographics SET id = %s WHERE id = %s", [moved_to, row.pk])
    value = PatientDemographics.objects.get(pk=moved_to).given_name
    assert isinstance(value, Undecryptable)
    assert str(moved_to) in str(value.error)


def test_it_refuses_a_ciphertext_moved_to_another_field(db, alice):
    row = demographics_of(alice, given_name="Alice", family_name="Liddell")
    execute(
        "UPDATE portal_patient_demographics SET family_name = given_name WHERE id = %s", [row.pk]
    )
    loaded = fresh(row)
    assert loaded.given_name == "Alice"
    assert isinstance(loaded.family_name, Undecryptable)
    assert "family_name" in str(loaded.family_name.error)


def test_it_repeats_no_nonce_in_100000_encryptions(db, alice):
    row = PatientDemographics(patient=alice.patient)
    field = PatientDemographics._meta.get_field("given_name")
    with key_scope():
        nonces = {field.seal(row, "same value")[1 : 1 + NONCE_BYTES] for _ in range(100_000)}
    assert len(nonces) == 100_000


def test_it_unwraps_a_patients_key_once_per_request(db, alice, django_assert_num_queries):
    row = demographics_of(alice, given_name="Alice", contact={"phone": "1"}, mrn="A-1")
    with a_request():
        loaded = fresh(row)
        with django_assert_num_queries(1):  # the key row, once for four fields
            assert (loaded.given_name, loaded.family_name, loaded.mrn) == ("Alice", "Family", "A-1")
            assert loaded.contact == {"phone": "1"}
    assert current_scope() is None


def test_it_decrypts_lazily_on_first_access(db, alice):
    row = demographics_of(alice, given_name="Alice")
    loaded = fresh(row)
    assert isinstance(loaded.__dict__["given_name"], Sealed)
    assert loaded.given_name == "Alice"
    assert loaded.__dict__["given_name"] == "Alice"


def test_it_keeps_stored_bytes_when_a_value_is_not_changed(db, alice):
    row = demographics_of(alice, given_name="Alice", family_name="Liddell")
    before = raw_column(row, "given_name")
    loaded = fresh(row)
    loaded.family_name = "Pleasance"
    loaded.save()
    assert raw_column(row, "given_name") == before
    assert fresh(row).family_name == "Pleasance"


def test_it_keeps_an_undecryptable_value_as_evidence_when_the_row_is_saved(db, alice):
    row = demographics_of(alice, given_name="Alice", family_name="Liddell")
    execute(FLIP_BYTE_20, [row.pk])
    tampered = raw_column(row, "given_name")
    loaded = fresh(row)
    assert isinstance(loaded.given_name, Undecryptable)
    loaded.family_name = "Pleasance"
    loaded.save()
    assert raw_column(row, "given_name") == tampered
    assert fresh(row).family_name == "Pleasance"


def test_it_re_encrypts_a_row_moved_to_another_patient(db, alice, mallory):
    row = demographics_of(alice, given_name="Alice")
    loaded = fresh(row)
    loaded.patient = mallory.patient
    loaded.save()
    assert fresh(row).given_name == "Alice"
    assert fresh(row).patient_id == mallory.patient_id


def test_it_creates_one_data_key_per_patient_on_first_write(db, alice, mallory):
    demographics_of(alice)
    demographics_of(mallory)
    keys = PatientKey.objects.order_by("created_at")
    assert {k.patient_id for k in keys} == {alice.patient_id, mallory.patient_id}
    assert all(k.kek_version == 1 and len(bytes(k.wrapped_key)) == OVERHEAD + 32 for k in keys)


def test_it_refuses_queryset_updates_and_lookups_on_encrypted_fields(db, alice):
    row = demographics_of(alice, given_name="Alice")
    rows = PatientDemographics.objects.filter(pk=row.pk)
    with pytest.raises(TypeError, match="encrypted per row"), transaction.atomic():
        rows.update(given_name="Mallory")
    with pytest.raises(FieldError):
        PatientDemographics.objects.filter(given_name="Alice")
    with pytest.raises(TypeError, match="encrypted per row"), transaction.atomic():
        PatientDemographics.objects.bulk_update([row], ["given_name"])
    assert fresh(row).given_name == "Alice"


def test_it_updates_rows_in_bulk_each_sealed_for_its_own_row(db, alice, mallory):
    rows = [demographics_of(alice, given_name="Alice"), demographics_of(mallory, given_name="M")]
    before = [raw_column(row, "given_name") for row in rows]
    rows[0].given_name, rows[1].given_name = "Alicia", "Mallory"

    assert bulk_update_sealed(rows, ["given_name", "family_name"]) == 2

    assert [row.given_name for row in rows] == ["Alicia", "Mallory"]  # plaintext kept
    assert [fresh(row).given_name for row in rows] == ["Alicia", "Mallory"]
    after = [raw_column(row, "given_name") for row in rows]
    assert all(a != b and b"Ali" not in a for a, b in zip(after, before, strict=True))
    # Bound to its row: mallory's ciphertext copied into alice's row does not decrypt.
    execute(
        "UPDATE portal_patient_demographics SET given_name = %s WHERE id = %s",
        [after[1], rows[0].pk],
    )
    assert isinstance(fresh(rows[0]).given_name, Undecryptable)


def test_it_inserts_rows_by_copy_each_sealed_for_its_own_row(db, alice, mallory):
    rows = [
        PatientDemographics(
            patient=user.patient,
            given_name=name,
            family_name="Liddell",
            birth_date=date(1984, 2, 29),
            contact={"phone": "+1 555 0100", "weight": Decimal("70.10")},
            mrn=f"MRN-{name}",
        )
        for user, name in ((alice, "Alice"), (mallory, "Mallory"))
    ]

    assert copy_insert_sealed(rows) == 2

    assert [row.given_name for row in rows] == ["Alice", "Mallory"]  # plaintext kept
    assert not rows[0]._state.adding
    loaded = fresh(rows[0])
    assert (loaded.given_name, loaded.family_name) == ("Alice", "Liddell")
    assert loaded.birth_date == date(1984, 2, 29)
    assert loaded.contact == {"phone": "+1 555 0100", "weight": Decimal("70.10")}
    assert PatientDemographics.objects.get(mrn_index=blind_index("MRN-Alice", purpose="mrn")) == (
        loaded
    )
    stored = [raw_column(row, "given_name") for row in rows]
    assert all(b"Alice" not in s and b"Mallory" not in s for s in stored)
    # Bound to its row: mallory's ciphertext copied into alice's row does not decrypt.
    execute(
        "UPDATE portal_patient_demographics SET given_name = %s WHERE id = %s",
        [stored[1], rows[0].pk],
    )
    assert isinstance(fresh(rows[0]).given_name, Undecryptable)


def test_it_never_serialises_plaintext(db, alice):
    row = demographics_of(alice, given_name="Alice")
    field = PatientDemographics._meta.get_field("given_name")
    with pytest.raises(TypeError, match="never serialised"):
        field.value_to_string(row)
    assert isinstance(
        PatientDemographics.objects.values_list("given_name", flat=True).get(), Sealed
    )


def test_it_fails_loudly_without_keys_instead_of_reporting_every_value(db, alice, settings):
    row = demographics_of(alice, given_name="Alice")
    settings.PORTAL_KEKS = ""
    with pytest.raises(KeyConfigurationError, match="PORTAL_KEKS is empty"):
        fresh(row).given_name  # noqa: B018
    assert not events(Action.DECRYPT_FAILED)


def test_it_lets_the_middleware_name_the_request_in_the_scope(db):
    request = RequestFactory().get("/")
    with a_request() as scope:
        KeyScopeMiddleware(lambda r: HttpResponse())(request)
        assert scope.request is request


@pytest.mark.parametrize(
    "document",
    [
        {"valueQuantity": {"value": Decimal("7.10"), "unit": "mmol/L"}, "n": 3, "ok": True},
        {"x": [Decimal("1E+2"), Decimal("-0.000"), None, 'é\u2028<>/\\"\x01 \u00e9']},
        {"when": datetime(2026, 11, 30, 9, 30, 0, 123456, tzinfo=UTC), "on": date(2026, 1, 2)},
        {"id": uuid.UUID(int=7), "deep": {"a": [{"b": [Decimal("0.5")]}]}},
        # What orjson refuses goes through simplejson: the same bytes either way.
        {"big": 10**30, "also": Decimal("1.25")},
    ],
)
def test_a_json_document_encodes_to_the_same_bytes_as_simplejson_writes(document):
    import simplejson

    from portal.crypto.fields import EncryptedJSONField, _json_default

    expected = simplejson.dumps(
        document, use_decimal=True, default=_json_default, separators=(",", ":"), ensure_ascii=False
    ).encode()
    field = EncryptedJSONField()
    assert field.encode(document) == expected
    assert field.decode(field.encode(document)) == document | (
        {"when": "2026-11-30T09:30:00.123Z", "on": "2026-01-02"} if "when" in document else {}
    ) | ({"id": str(uuid.UUID(int=7))} if "id" in document else {})


def test_a_json_document_with_a_number_that_is_no_json_number_is_refused():
    from portal.crypto.fields import EncryptedJSONField

    with pytest.raises(ValueError, match="not JSON compliant"):
        EncryptedJSONField().encode({"value": Decimal("NaN")})
