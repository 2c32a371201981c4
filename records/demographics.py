"""Who the patient is, from the EHR's Patient resource: name, birth date, MRN, contact.

The sync reads the linked patient's own Patient resource (``Patient?_id=<id>``)
and keeps ``patients.models.PatientDemographics`` (all encrypted) in step with
it; ``load_demo`` maps the demo EHR's Patients the same way.
"""

from datetime import date
from typing import Any

# identifier.type coding of a medical record number (HL7 v2 table 0203).
MRN_TYPE_CODE = "MR"


def _official_name(resource: dict[str, Any]) -> dict[str, Any]:
    names = [n for n in resource.get("name") or [] if isinstance(n, dict)]
    for use in ("official", "usual", None):
        for name in names:
            if use is None or name.get("use") == use:
                return name
    return {}


def mrn_identifier(resource: dict[str, Any]) -> tuple[str, str]:
    """The medical record number as (system, value); ("", "") when there is none."""
    for identifier in resource.get("identifier") or []:
        codings = (identifier.get("type") or {}).get("coding") or []
        if any(c.get("code") == MRN_TYPE_CODE for c in codings) and identifier.get("value"):
            return str(identifier.get("system") or ""), str(identifier["value"])
    return "", ""


def _birth_date(value: Any) -> date | None:
    """A full birth date; FHIR allows "1970" or "1970-04": those stay unknown here."""
    try:
        return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None


def _contact(resource: dict[str, Any]) -> dict[str, Any]:
    contact: dict[str, Any] = {}
    for telecom in resource.get("telecom") or []:
        system, value = telecom.get("system"), telecom.get("value")
        if system in ("phone", "email") and value and system not in contact:
            contact[system] = str(value)
    addresses = [a for a in resource.get("address") or [] if isinstance(a, dict)]
    if addresses:
        home = next((a for a in addresses if a.get("use") == "home"), addresses[0])
        town = " ".join(str(part) for part in (home.get("postalCode"), home.get("city")) if part)
        contact["address"] = _present([*_present(home.get("line")), town])
    return contact


def _present(values: Any) -> list[str]:
    """A primitive list's values; a null is the placeholder of a value sent only as its
    extension (``"given": ["Amy", null], "_given": [null, {data-absent-reason}]``)."""
    return [str(v) for v in values or [] if v is not None and v != ""]


def from_fhir_patient(resource: dict[str, Any]) -> dict[str, Any]:
    """PatientDemographics field values from a (validated) FHIR Patient resource."""
    name = _official_name(resource)
    return {
        "given_name": " ".join(_present(name.get("given"))) or str(name.get("text", "")),
        "family_name": str(name.get("family", "")),
        "birth_date": _birth_date(resource.get("birthDate")),
        "mrn": mrn_identifier(resource)[1],
        "mrn_system": mrn_identifier(resource)[0],
        "contact": _contact(resource),
    }
