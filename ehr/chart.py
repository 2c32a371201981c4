"""A small builder of one patient's FHIR R4 resources (see demo_data.py).

Each method adds resources with ids `<patient id>-<kind>-<key>`; dates count
back from the anchor date. Quantities are `Decimal`s written as a lab reports
them ("7.10", "13.0"), and `dumps()` writes them into JSON digit for digit.
"""

import base64
import datetime as dt
import json
from decimal import Decimal
from typing import Any, NamedTuple

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
CVX = "http://hl7.org/fhir/sid/cvx"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
HL7 = "http://terminology.hl7.org/CodeSystem/"
US_CORE_DOC_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category"
MRN_SYSTEM = "https://carebridge.example.org/fhir/demo-mrn"
CLINIC = "Carebridge Demo Clinic"
HOSPITAL = "Carebridge Demo General Hospital"
LAB = "Carebridge Demo Laboratory"

Resource = dict[str, Any]

# The LOINC long common names.
LOINC_NAMES = {
    "4548-4": "Hemoglobin A1c/Hemoglobin.total in Blood",
    "1558-6": "Fasting glucose [Mass/volume] in Serum or Plasma",
    "13457-7": "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
    "2085-9": "Cholesterol in HDL [Mass/volume] in Serum or Plasma",
    "2093-3": "Cholesterol [Mass/volume] in Serum or Plasma",
    "2571-8": "Triglyceride [Mass/volume] in Serum or Plasma",
    "2160-0": "Creatinine [Mass/volume] in Serum or Plasma",
    "98979-8": "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, "
    "Plasma or Blood by Creatinine-based formula (CKD-EPI 2021)",
    "2823-3": "Potassium [Moles/volume] in Serum or Plasma",
    "2951-2": "Sodium [Moles/volume] in Serum or Plasma",
    "718-7": "Hemoglobin [Mass/volume] in Blood",
    "3016-3": "Thyrotropin [Units/volume] in Serum or Plasma",
    "9318-7": "Albumin/Creatinine [Mass Ratio] in Urine",
    "1742-6": "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
    "2276-4": "Ferritin [Mass/volume] in Serum or Plasma",
    "6690-2": "Leukocytes [#/volume] in Blood by Automated count",
    "1988-5": "C reactive protein [Mass/volume] in Serum or Plasma",
}
# slug, LOINC, UCUM code, unit as shown, reference low and high ("-": none), short name
_TESTS = """
hba1c          4548-4   %                 %              4.0   5.6   Hemoglobin A1c
glucose        1558-6   mg/dL             mg/dL          70    99    Glucose, fasting
ldl            13457-7  mg/dL             mg/dL          -     99    LDL cholesterol
hdl            2085-9   mg/dL             mg/dL          40    -     HDL cholesterol
cholesterol    2093-3   mg/dL             mg/dL          -     199   Total cholesterol
triglycerides  2571-8   mg/dL             mg/dL          -     149   Triglycerides
creatinine     2160-0   mg/dL             mg/dL          0.50  1.10  Creatinine
egfr           98979-8  mL/min/{1.73_m2}  mL/min/1.73m2  60    -     eGFR
potassium      2823-3   mmol/L            mmol/L         3.5   5.1   Potassium
sodium         2951-2   mmol/L            mmol/L         136   145   Sodium
hemoglobin     718-7    g/dL              g/dL           12.0  15.5  Hemoglobin
tsh            3016-3   m[IU]/L           mIU/L          0.40  4.00  TSH
uacr           9318-7   mg/g              mg/g           -     29    Urine albumin/creatinine ratio
alt            1742-6   U/L               U/L            7     35    ALT
ferritin       2276-4   ng/mL             ng/mL          15    150   Ferritin
wbc            6690-2   10*3/uL           10^3/uL        4.0   11.0  White blood cells
crp            1988-5   mg/L              mg/L           -     10.0  C-reactive protein
"""


class Test(NamedTuple):
    loinc: str
    ucum: str
    unit: str
    low: str | None
    high: str | None
    name: str


TESTS = {
    slug: Test(loinc, ucum, unit, None if low == "-" else low, None if high == "-" else high, name)
    for slug, loinc, ucum, unit, low, high, name in (
        line.split(maxsplit=6) for line in _TESTS.strip().splitlines()
    )
}
INTERPRETATION = {"H": "High", "L": "Low", "N": "Normal"}


def dumps(value: Any) -> str:
    """JSON text in which a Decimal is written exactly as it is ("7.10", never 7.1)."""
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("JSON has no NaN or infinity")
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


def _cc(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    return {
        "coding": [{"system": system, "code": code, "display": display}],
        "text": text or display,
    }


def _ref(resource_type: str, rid: str, display: str | None = None) -> dict[str, str]:
    return {"reference": f"{resource_type}/{rid}"} | ({"display": display} if display else {})


class Chart:
    """Builds one patient's resources; ids are `<patient id>-<kind>-<key>`."""

    def __init__(self, patient_id: str, anchor: dt.date) -> None:
        self.pid = patient_id
        self.anchor = anchor
        self.subject = _ref("Patient", patient_id)
        self.out: list[Resource] = []

    def at(self, days_before: int, time: str = "09:00") -> str:
        return f"{(self.anchor - dt.timedelta(days=days_before)).isoformat()}T{time}:00Z"

    def day(self, days_before: int) -> str:
        return (self.anchor - dt.timedelta(days=days_before)).isoformat()

    def id(self, kind: str, key: str) -> str:
        return f"{self.pid}-{kind}-{key}"

    def add(self, resource_type: str, kind: str, key: str, **fields: Any) -> str:
        rid = self.id(kind, key)
        self.out.append({"resourceType": resource_type, "id": rid, **fields})
        return rid

    def patient(
        self, *, mrn: str, given: list[str], family: str, birth: str, phone: str, street: str
    ) -> None:
        self.out.append(
            {
                "resourceType": "Patient",
                "id": self.pid,
                "identifier": [
                    {
                        "use": "usual",
                        "type": _cc(HL7 + "v2-0203", "MR", "Medical record number"),
                        "system": MRN_SYSTEM,
                        "value": mrn,
                    }
                ],
                "active": True,
                "name": [{"use": "official", "family": family, "given": given}],
                "telecom": [
                    {"system": "phone", "value": phone, "use": "mobile"},
                    {"system": "email", "value": f"{given[0]}.{family}@example.org".lower()},
                ],
                "gender": "female",
                "birthDate": birth,
                "address": [
                    {
                        "use": "home",
                        "line": [street],
                        "city": "Springfield",
                        "postalCode": "00000",
                        "country": "US",
                    }
                ],
                "generalPractitioner": [{"display": "Dr Carol Chen"}],
                "managingOrganization": {"display": CLINIC},
            }
        )

    def labs(
        self,
        days: tuple[int, ...],
        series: dict[str, tuple[str | None, ...]],
        *,
        time: str = "08:10",
        encounter: str | None = None,
    ) -> None:
        """One Observation per value and one DiagnosticReport per draw date."""
        for n, days_before in enumerate(days, start=1):
            results = [
                self.lab(slug, values[n - 1], days_before, time, encounter, f"{n}")
                for slug, values in series.items()
                if values[n - 1] is not None
            ]
            extra = {"encounter": _ref("Encounter", self.id("enc", encounter))} if encounter else {}
            self.add(
                "DiagnosticReport",
                "labs",
                f"{encounter or 'panel'}-{n}",
                status="final",
                category=[_cc(HL7 + "v2-0074", "LAB", "Laboratory")],
                code=_cc(LOINC, "11502-2", "Laboratory report", "Laboratory results"),
                subject=self.subject,
                **extra,
                effectiveDateTime=self.at(days_before, time),
                issued=self.at(days_before, "14:30"),
                performer=[{"display": LAB}],
                result=[_ref("Observation", rid) for rid in results],
            )

    def lab(
        self, slug: str, text: str, days_before: int, time: str, encounter: str | None, key: str
    ) -> str:
        loinc, ucum, unit, low, high, short = TESTS[slug]
        display = LOINC_NAMES[loinc]
        value = Decimal(text)
        flag = "N"
        if high is not None and value > Decimal(high):
            flag = "H"
        elif low is not None and value < Decimal(low):
            flag = "L"
        bounds: dict[str, Any] = {}
        for name, limit in (("low", low), ("high", high)):
            if limit is not None:
                bounds[name] = {"value": Decimal(limit), "unit": unit, "system": UCUM, "code": ucum}
        extra = {"encounter": _ref("Encounter", self.id("enc", encounter))} if encounter else {}
        return self.add(
            "Observation",
            "lab",
            f"{slug}-{encounter or 'panel'}-{key}",
            status="final",
            category=[_cc(HL7 + "observation-category", "laboratory", "Laboratory")],
            code=_cc(LOINC, loinc, display, short),
            subject=self.subject,
            **extra,
            effectiveDateTime=self.at(days_before, time),
            issued=self.at(days_before, "14:30"),
            performer=[{"display": LAB}],
            valueQuantity={"value": value, "unit": unit, "system": UCUM, "code": ucum},
            interpretation=[_cc(HL7 + "v3-ObservationInterpretation", flag, INTERPRETATION[flag])],
            referenceRange=[bounds],
        )

    def vitals(
        self,
        key: str,
        days_before: int,
        time: str,
        *,
        systolic: int,
        diastolic: int,
        pulse: int,
        weight: str | None = None,
        temperature: str | None = None,
        encounter: str,
    ) -> None:
        common = {
            "status": "final",
            "category": [_cc(HL7 + "observation-category", "vital-signs", "Vital Signs")],
            "subject": self.subject,
            "encounter": _ref("Encounter", self.id("enc", encounter)),
            "effectiveDateTime": self.at(days_before, time),
        }

        def qty(value: str | int, unit: str, code: str) -> dict[str, Any]:
            return {"value": Decimal(value), "unit": unit, "system": UCUM, "code": code}

        self.add(
            "Observation",
            "bp",
            key,
            **common,
            code=_cc(
                LOINC,
                "85354-9",
                "Blood pressure panel with all children optional",
                "Blood pressure",
            ),
            component=[
                {
                    "code": _cc(LOINC, "8480-6", "Systolic blood pressure"),
                    "valueQuantity": qty(systolic, "mmHg", "mm[Hg]"),
                },
                {
                    "code": _cc(LOINC, "8462-4", "Diastolic blood pressure"),
                    "valueQuantity": qty(diastolic, "mmHg", "mm[Hg]"),
                },
            ],
        )
        self.add(
            "Observation",
            "pulse",
            key,
            **common,
            code=_cc(LOINC, "8867-4", "Heart rate"),
            valueQuantity=qty(pulse, "beats/min", "/min"),
        )
        if weight:
            self.add(
                "Observation",
                "weight",
                key,
                **common,
                code=_cc(LOINC, "29463-7", "Body weight"),
                valueQuantity=qty(weight, "kg", "kg"),
            )
        if temperature:
            self.add(
                "Observation",
                "temp",
                key,
                **common,
                code=_cc(LOINC, "8310-5", "Body temperature"),
                valueQuantity=qty(temperature, "°C", "Cel"),
            )

    def condition(
        self,
        key: str,
        code: str,
        display: str,
        *,
        onset: int,
        problem: bool,
        resolved: int | None = None,
        encounter: str | None = None,
    ) -> None:
        category = (
            ("problem-list-item", "Problem List Item")
            if problem
            else ("encounter-diagnosis", "Encounter Diagnosis")
        )
        status = ("resolved", "Resolved") if resolved else ("active", "Active")
        extra: dict[str, Any] = {"abatementDateTime": self.day(resolved)} if resolved else {}
        if encounter:
            extra["encounter"] = _ref("Encounter", self.id("enc", encounter))
        self.add(
            "Condition",
            "cond",
            key,
            clinicalStatus=_cc(HL7 + "condition-clinical", *status),
            verificationStatus=_cc(HL7 + "condition-ver-status", "confirmed", "Confirmed"),
            category=[_cc(HL7 + "condition-category", *category)],
            code=_cc(SNOMED, code, display),
            subject=self.subject,
            onsetDateTime=self.day(onset),
            **extra,
            recordedDate=self.day(onset),
        )

    def encounter(
        self,
        key: str,
        *,
        kind: str,
        start: str,
        end: str,
        type_: tuple[str, str],
        reason: tuple[str, str],
        diagnoses: tuple[str, ...],
        clinician: str,
        note_title: str,
        note: str,
        discharge: bool = False,
    ) -> None:
        classes = {"AMB": "ambulatory", "EMER": "emergency", "IMP": "inpatient encounter"}
        extra: dict[str, Any] = {}
        if kind != "AMB":
            extra["hospitalization"] = {
                "dischargeDisposition": _cc(HL7 + "discharge-disposition", "home", "Home")
            }
        if kind == "IMP":
            extra["hospitalization"]["admitSource"] = _cc(
                HL7 + "admit-source", "emd", "From accident/emergency department"
            )
        eid = self.add(
            "Encounter",
            "enc",
            key,
            status="finished",
            **{"class": {"system": HL7 + "v3-ActCode", "code": kind, "display": classes[kind]}},
            type=[_cc(SNOMED, *type_)],
            subject=self.subject,
            participant=[{"individual": {"display": clinician}}],
            period={"start": start, "end": end},
            reasonCode=[_cc(SNOMED, *reason)],
            diagnosis=[
                {"condition": _ref("Condition", self.id("cond", c)), "rank": rank}
                for rank, c in enumerate(diagnoses, start=1)
            ],
            **extra,
            serviceProvider={"display": HOSPITAL if kind != "AMB" else CLINIC},
        )
        doc = ("18842-5", "Discharge summary") if discharge else ("11506-3", "Progress note")
        self.add(
            "DocumentReference",
            "note",
            key,
            status="current",
            docStatus="final",
            type=_cc(LOINC, *doc),
            category=[_cc(US_CORE_DOC_CATEGORY, "clinical-note", "Clinical Note")],
            subject=self.subject,
            date=end,
            author=[{"display": clinician}],
            description=note_title,
            content=[
                {
                    "attachment": {
                        "contentType": "text/plain",
                        "language": "en",
                        "title": note_title,
                        "creation": end,
                        "data": base64.b64encode(note.encode("utf-8")).decode("ascii"),
                    }
                }
            ],
            context={"encounter": [_ref("Encounter", eid)], "period": {"start": start, "end": end}},
        )

    def medication(
        self,
        key: str,
        rxnorm: str,
        ingredient: str,
        text: str,
        dosage: str,
        *,
        status: str,
        authored: int,
        reason: str | None,
        prescriber: str,
        why_stopped: str | None = None,
        repeats: int | None = None,
        valid_until: int | None = None,
    ) -> None:
        """``repeats``: refills allowed; ``valid_until``: days before the anchor the
        prescription stops being valid (negative: after it)."""
        extra: dict[str, Any] = {"statusReason": {"text": why_stopped}} if why_stopped else {}
        if reason:
            extra["reasonReference"] = [_ref("Condition", self.id("cond", reason))]
        dispense: dict[str, Any] = {}
        if valid_until is not None:
            dispense["validityPeriod"] = {"start": self.day(authored), "end": self.day(valid_until)}
        if repeats is not None:
            dispense["numberOfRepeatsAllowed"] = repeats
        if dispense:
            extra["dispenseRequest"] = dispense
        self.add(
            "MedicationRequest",
            "med",
            key,
            status=status,
            intent="order",
            medicationCodeableConcept=_cc(RXNORM, rxnorm, ingredient, text),
            subject=self.subject,
            authoredOn=self.day(authored),
            requester={"display": prescriber},
            dosageInstruction=[{"text": dosage}],
            **extra,
        )

    def medication_statement(
        self, key: str, rxnorm: str, ingredient: str, text: str, dosage: str, *, since: int
    ) -> None:
        """A medicine the patient reports taking, not prescribed here."""
        self.add(
            "MedicationStatement",
            "medstmt",
            key,
            status="active",
            medicationCodeableConcept=_cc(RXNORM, rxnorm, ingredient, text),
            subject=self.subject,
            effectivePeriod={"start": self.day(since)},
            dateAsserted=self.day(since),
            informationSource=self.subject,
            dosage=[{"text": dosage}],
        )

    def allergy(
        self,
        key: str,
        code: str,
        display: str,
        *,
        category: str,
        criticality: str,
        reaction: tuple[str, str],
        severity: str,
        onset: int,
        type_: str = "allergy",
    ) -> None:
        self.add(
            "AllergyIntolerance",
            "allergy",
            key,
            clinicalStatus=_cc(HL7 + "allergyintolerance-clinical", "active", "Active"),
            verificationStatus=_cc(
                HL7 + "allergyintolerance-verification", "confirmed", "Confirmed"
            ),
            type=type_,
            category=[category],
            criticality=criticality,
            code=_cc(SNOMED, code, display),
            patient=self.subject,
            onsetDateTime=self.day(onset),
            recordedDate=self.day(onset),
            reaction=[{"manifestation": [_cc(SNOMED, *reaction)], "severity": severity}],
        )

    def immunization(
        self,
        key: str,
        cvx: str,
        display: str,
        days_before: int,
        lot: str,
        dose: tuple[int, int] | None = None,
    ) -> None:
        extra: dict[str, Any] = {}
        if dose:
            extra["protocolApplied"] = [
                {"doseNumberPositiveInt": dose[0], "seriesDosesPositiveInt": dose[1]}
            ]
        self.add(
            "Immunization",
            "imm",
            key,
            status="completed",
            vaccineCode=_cc(CVX, cvx, display),
            patient=self.subject,
            occurrenceDateTime=self.at(days_before, "10:30"),
            primarySource=True,
            lotNumber=lot,
            location={"display": CLINIC},
            route=_cc(HL7 + "v3-RouteOfAdministration", "IM", "Injection, intramuscular"),
            **extra,
        )
