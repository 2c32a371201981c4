"""Proxies (a parent, a caregiver): a full grant may ask, a limited one only reads, and a
prescription the EHR labelled confidential never shows, not even inside a request."""

import datetime as dt
import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from patients.models import ProxyGrant
from portal.access import clinic_today
from records.labels import CONFIDENTIALITY
from refills import selectors
from tests.refills.conftest import ALICE_FHIR, ALICE_MEDICINES, CONTEXT, ask, store


@pytest.fixture
def confidential_medicines(ward, alice, pharmacy):
    labelled = [dict(m) for m in ALICE_MEDICINES]
    labelled[0] = {
        **labelled[0],
        "meta": {**labelled[0]["meta"], "security": [{"system": CONFIDENTIALITY, "code": "R"}]},
    }
    store(alice.patient, ALICE_FHIR, labelled)


def grant(greta, alice, scope=ProxyGrant.Scope.FULL):
    today = clinic_today()
    return ProxyGrant.objects.create(
        patient=alice.patient,
        proxy=greta,
        kind=ProxyGrant.Kind.CAREGIVER,
        relationship=ProxyGrant.Relationship.ADULT_CHILD,
        scope=scope,
        starts_on=today - dt.timedelta(days=1),
        ends_on=today + dt.timedelta(days=365),
        accepted_at=dt.datetime.now(dt.UTC),
    )


def test_a_proxy_never_sees_a_confidential_prescription_or_its_request(
    confidential_medicines, alice, greta
):
    grant(greta, alice)
    both = ask(alice, "med-metformin", "med-lisinopril")
    page = selectors.refills_page(actor=greta, patient_id=alice.patient_id, context=CONTEXT)
    assert "med-metformin" not in {m.medication_request_id for m in page.medicines}
    (summary,) = page.requests
    assert [i.medication_request_id for i in summary.items] == ["med-lisinopril"]
    detail = selectors.refill_page(actor=greta, request_id=both.pk, context=CONTEXT)
    assert [i.medication_request_id for i in detail.items] == ["med-lisinopril"]


def test_a_request_of_confidential_medicines_only_is_a_404_to_a_proxy(
    confidential_medicines, alice, greta
):
    grant(greta, alice)
    request = ask(alice, "med-metformin")
    with pytest.raises(Http404):
        selectors.refill_page(actor=greta, request_id=request.pk, context=CONTEXT)
    # The patient herself sees it.
    assert selectors.refill_page(actor=alice, request_id=request.pk, context=CONTEXT).items


def test_a_full_grant_may_ask_and_a_limited_one_may_not(confidential_medicines, alice, greta):
    from refills import services
    from refills.models import Pharmacy

    def ask_as_greta(fhir_id):
        return services.refill_request_create(
            actor=greta,
            patient_id=alice.patient_id,
            medication_request_ids=[fhir_id],
            pharmacy_id=Pharmacy.objects.get().pk,
            comment="",
            submit_token=uuid.uuid4(),
            context=CONTEXT,
        )

    limited = grant(greta, alice, scope=ProxyGrant.Scope.LIMITED)
    with pytest.raises(PermissionDenied):
        ask_as_greta("med-lisinopril")
    limited.scope = ProxyGrant.Scope.FULL
    limited.save()
    assert ask_as_greta("med-lisinopril").requested_by == greta
