"""Whether a prescription can be refilled online, and why not, in plain words.

Read from the stored MedicationRequest as the EHR sent it: active, not past
``dispenseRequest.validityPeriod.end``, repeats left (``numberOfRepeatsAllowed``
less the dispenses the EHR reports in the portal's extension, when it does), no
open request of the patient's for it, not asked for within the minimum
interval, and not excluded by the clinic's rules (settings ``REFILLS_*`` plus
the administrator's ``MedicineRule`` rows). An expired prescription or one with
no repeats left offers a renewal request instead.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from django.conf import settings

from refills.models import MedicineRule

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
# How many times the prescription was dispensed, when the EHR reports it on the order.
DISPENSED_EXTENSION = "https://carebridge.example.org/fhir/StructureDefinition/dispense-count"


class Offer(StrEnum):
    REFILL = "refill"
    RENEWAL = "renewal"
    NONE = ""


@dataclass(frozen=True)
class Eligibility:
    medication_request_id: str
    medicine: str
    rxnorm: str
    offer: Offer
    reason: str  # plain words for the patient
    repeats_left: int | None
    valid_until: str

    @property
    def text(self) -> str:
        return self.reason

    @property
    def offer_label(self) -> str:
        return {Offer.REFILL: "Request a refill", Offer.RENEWAL: "Request a renewal"}.get(
            self.offer, ""
        )

    @property
    def url(self) -> str:
        return f"/patient/refills/new/?medicine={self.medication_request_id}"


@dataclass(frozen=True)
class ClinicRules:
    controlled: frozenset[str]
    needs_visit: frozenset[str]
    high_risk: frozenset[str]

    @classmethod
    def load(cls) -> "ClinicRules":
        rows = MedicineRule.objects.values_list("kind", "rxnorm")
        extra: dict[str, set[str]] = {kind: set() for kind in MedicineRule.Kind}
        for kind, code in rows:
            extra[kind].add(code.strip())
        return cls(
            controlled=settings.REFILLS_CONTROLLED_RXNORM | extra[MedicineRule.Kind.CONTROLLED],
            needs_visit=settings.REFILLS_NEEDS_VISIT_RXNORM | extra[MedicineRule.Kind.NEEDS_VISIT],
            high_risk=settings.REFILLS_HIGH_RISK_RXNORM | extra[MedicineRule.Kind.HIGH_RISK],
        )


def medicine_name(resource: dict[str, Any]) -> str:
    concept = resource.get("medicationCodeableConcept") or {}
    if concept.get("text"):
        return str(concept["text"])
    for coding in concept.get("coding") or []:
        if coding.get("display"):
            return str(coding["display"])
    reference = resource.get("medicationReference") or {}
    return str(reference.get("display") or "Medicine")


def rxnorm_codes(resource: dict[str, Any]) -> list[str]:
    concept = resource.get("medicationCodeableConcept") or {}
    return [
        str(c["code"])
        for c in concept.get("coding") or []
        if c.get("system") == RXNORM and c.get("code")
    ]


def repeats_left(resource: dict[str, Any]) -> int | None:
    """Repeats allowed less those dispensed (when reported); None when the order says none."""
    dispense = resource.get("dispenseRequest") or {}
    allowed = dispense.get("numberOfRepeatsAllowed")
    if not isinstance(allowed, int):
        return None
    dispensed = 0
    for extension in resource.get("extension") or []:
        if extension.get("url") == DISPENSED_EXTENSION and isinstance(
            extension.get("valueUnsignedInt"), int
        ):
            # The first fill is not a repeat.
            dispensed = max(0, extension["valueUnsignedInt"] - 1)
    return max(0, allowed - dispensed)


def valid_until(resource: dict[str, Any]) -> str:
    period = (resource.get("dispenseRequest") or {}).get("validityPeriod") or {}
    return str(period.get("end") or "")


def eligibility(
    resource: dict[str, Any],
    *,
    today: date,
    rules: ClinicRules,
    open_ids: set[str],
    last_asked: dict[str, datetime],
) -> Eligibility:
    """What the patient may ask for this prescription, and the words that say why not."""
    fhir_id = str(resource.get("id") or "")
    codes = rxnorm_codes(resource)
    left, until = repeats_left(resource), valid_until(resource)

    def answer(offer: Offer, reason: str) -> Eligibility:
        return Eligibility(
            fhir_id, medicine_name(resource), codes[0] if codes else "", offer, reason, left, until
        )

    if resource.get("status") != "active":
        return answer(Offer.NONE, "Not an active prescription.")
    if set(codes) & rules.controlled:
        return answer(
            Offer.NONE,
            "This is a controlled medicine: it cannot be refilled online. "
            "Please call the clinic or ask at your next visit.",
        )
    if set(codes) & rules.needs_visit:
        return answer(
            Offer.NONE,
            "Your care team needs to see you before this medicine is refilled. "
            "Please book an appointment.",
        )
    if fhir_id in open_ids:
        return answer(Offer.NONE, "You have already asked for this; your care team is on it.")
    asked = last_asked.get(fhir_id)
    if asked is not None:
        again = asked.date() + timedelta(days=settings.REFILLS_MIN_INTERVAL_DAYS)
        if again > today:
            return answer(
                Offer.NONE,
                f"You asked for this recently; you can ask again from {again:%-d %B %Y}.",
            )
    if until and until[:10] < today.isoformat():
        return answer(Offer.RENEWAL, "This prescription has expired: you can ask for a renewal.")
    if left is None or left <= 0:
        return answer(Offer.RENEWAL, "No refills are left: you can ask for a renewal.")
    plural = "refill" if left == 1 else "refills"
    return answer(Offer.REFILL, f"Can be refilled online ({left} {plural} left).")
