"""Finding a patient on the EHR for an invitation: FHIR ``Patient`` searches.

Searches always narrow: an MRN (``identifier=<system>|<value>``, or any system
when none is given), or a family name with a full birth date. Every resource
is validated before anything of it is used; the EHR is untrusted.
"""

from dataclasses import dataclass
from datetime import date
from itertools import islice
from typing import Any

from portal.fhir import FhirClient, InvalidResource, validate
from records.demographics import from_fhir_patient

# More than this many matches: the search is too broad to pick from.
MAX_RESULTS = 20


@dataclass(frozen=True)
class EhrPatient:
    """What the front desk sees of a match (name, birth date, MRN) and what inviting needs."""

    fhir_id: str
    given_name: str
    family_name: str
    birth_date: date | None
    mrn: str
    mrn_system: str
    email: str
    resource: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


def from_resource(resource: dict[str, Any]) -> EhrPatient | None:
    """The match a (validated) Patient resource makes; None when it is not a valid Patient."""
    if resource.get("resourceType") != "Patient" or not isinstance(resource.get("id"), str):
        return None
    try:
        validate(resource)
    except InvalidResource:
        return None
    values = from_fhir_patient(resource)
    return EhrPatient(
        fhir_id=resource["id"],
        given_name=values["given_name"],
        family_name=values["family_name"],
        birth_date=values["birth_date"],
        mrn=values["mrn"],
        mrn_system=values["mrn_system"],
        email=str(values["contact"].get("email", "")),
        resource=resource,
    )


def search(
    client: FhirClient,
    *,
    mrn: str = "",
    system: str = "",
    family: str = "",
    birth_date: date | None = None,
) -> list[EhrPatient]:
    """Patients matching an MRN, or a family name and birth date (exact, case aside)."""
    if mrn:
        params = {"identifier": f"{system}|{mrn}" if system else mrn}
    elif family and birth_date:
        params = {"family": family, "birthdate": birth_date.isoformat()}
    else:
        raise ValueError("search by MRN, or by family name and birth date")
    found = [
        p
        for r in islice(client.search("Patient", params), MAX_RESULTS + 1)
        if (p := from_resource(r))
    ]
    if mrn:
        # The server matches tokens; keep only the identifier asked for.
        return [p for p in found if p.mrn == mrn and (not system or p.mrn_system == system)]
    # FHIR's family search matches a prefix; the desk asked for this name.
    return [p for p in found if p.family_name.casefold() == family.strip().casefold()]


def fetch(client: FhirClient, fhir_id: str) -> EhrPatient | None:
    """The EHR's Patient with this id, validated; None when absent or invalid."""
    for resource in islice(client.search("Patient", {"_id": fhir_id}), 5):
        if resource.get("id") == fhir_id and (patient := from_resource(resource)):
            return patient
    return None
