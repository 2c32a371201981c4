"""The demo patients' records as FHIR R4 resources, the same on every run.

Four fictional patients with fixed ids; the first two are linked to the portal's
demo users, the third is invited by the demo loader and has no account yet, the
fourth is a child whose guardian has a demo account:

- `carebridge-demo-alice`, 58: type 2 diabetes, hypertension, high
  cholesterol and hypothyroidism followed over two years (seven lab draws),
  a hospital stay for pneumonia admitted through the emergency department,
  three allergies, ten vaccinations; and, when seeded (``resources(today=...)``), a
  short stay that ended two days before the seed's day (post-discharge check-ins).
- `carebridge-demo-mallory`, 35: asthma and hay fever, an iron deficiency
  treated back to normal (five lab draws), a sprained ankle in the emergency
  department, a peanut allergy.
- `carebridge-demo-rosa`, 72: osteoarthritis and glaucoma, one visit, a
  penicillin allergy, a flu vaccine.
- `carebridge-demo-leo`, 8: ear infections, childhood vaccines, and one
  problem labelled confidential (mental health), which his guardian never sees.

Every date counts back from ANCHOR, so the output depends on nothing but
this file. Names, phone numbers (555) and addresses (example.org) are made
up; codes are real LOINC, SNOMED CT, RxNorm (ingredient level), CVX and UCUM.
Lab values are `Decimal`s written as a lab reports them ("7.10"); `dumps()`
keeps every digit on the wire.

    python -m ehr.demo_data > demo.json    # a transaction Bundle of all of it
"""

import datetime as dt
from typing import Any

from ehr.chart import Chart, Resource, dumps

__all__ = ["ALICE", "ANCHOR", "LEO", "MALLORY", "ROSA", "dumps", "resources", "transaction"]

ANCHOR = dt.date(2026, 9, 15)
ALICE = "carebridge-demo-alice"
MALLORY = "carebridge-demo-mallory"
# Has no portal account yet: the demo loader invites her (a pending activation code).
ROSA = "carebridge-demo-rosa"
# A child: the demo guardian account acts for him (proxy access).
LEO = "carebridge-demo-leo"
# A label the EHR puts on what a proxy must never see (records/labels.py).
CONFIDENTIAL = {
    "security": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"},
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"},
    ]
}

CAROL = "Dr Carol Chen"
DAVE = "Dr Dave Okafor"
ER_DOCTOR = "Dr Priya Natarajan"

# Alice's routine draws, in days before the anchor; None: not measured that day.
ALICE_LAB_DAYS = (700, 590, 470, 365, 250, 130, 20)
ALICE_LABS: dict[str, tuple[str | None, ...]] = {
    "hba1c": ("8.40", "7.90", "7.40", "7.10", "6.90", "7.10", "6.80"),
    "glucose": ("168", "152", "141", "132", "126", "131", "118"),
    "creatinine": ("0.90", "0.95", "1.00", "0.98", "1.05", "1.12", "1.08"),
    "egfr": ("74", "70", "66", "67", "62", "58", "60"),
    "potassium": ("4.2", "4.5", "4.0", "5.3", "4.6", "4.4", "4.3"),
    "sodium": ("139", "140", "138", "141", "137", "135", "139"),
    "ldl": ("162", None, "121", None, "96", None, "88"),
    "hdl": ("38", None, "42", None, "45", None, "47"),
    "cholesterol": ("248", None, "201", None, "178", None, "172"),
    "triglycerides": ("210", None, "182", None, "150", None, "138"),
    "hemoglobin": ("13.2", None, "13.0", None, "12.9", "11.6", "12.8"),
    "tsh": ("6.20", "4.80", "3.10", None, "2.40", None, "2.10"),
    "uacr": ("18", None, "24", None, "35", None, "28"),
    "alt": ("28", None, None, "31", None, None, "26"),
}
# Drawn in hospital, on admission and two days later.
ALICE_WARD_LAB_DAYS = (140, 138)
ALICE_WARD_LABS: dict[str, tuple[str | None, ...]] = {
    "wbc": ("15.80", "9.40"),
    "crp": ("86.0", "31.0"),
    "hemoglobin": ("12.1", "11.8"),
    "creatinine": ("1.20", "1.04"),
}

MALLORY_LAB_DAYS = (610, 480, 360, 200, 45)
MALLORY_LABS: dict[str, tuple[str | None, ...]] = {
    "hemoglobin": ("10.4", "11.2", "12.1", "12.6", "13.0"),
    "ferritin": ("8", "14", "32", "48", "55"),
    "tsh": ("1.90", None, None, None, "2.30"),
    "glucose": ("88", None, "92", None, "90"),
    "creatinine": ("0.70", None, "0.72", None, "0.68"),
    "potassium": ("4.0", None, "4.1", None, "3.9"),
}


def _visit(chart: Chart, key: str, days: int, **fields: Any) -> None:
    """An ordinary clinic visit of half an hour."""
    chart.encounter(
        key, kind="AMB", start=chart.at(days, "10:00"), end=chart.at(days, "10:30"), **fields
    )


# The charts are tables of facts; one call per fact reads better than the formatter's
# one argument per line.
# fmt: off
def alice_chart(anchor: dt.date = ANCHOR) -> list[Resource]:
    c = Chart(ALICE, anchor)
    c.patient(
        mrn="DEMO-100234",
        given=["Alice", "Marie"],
        family="Whitfield",
        birth="1968-04-21",
        phone="+1 555 0134",
        street="12 Example Lane",
    )

    c.condition("diabetes", "44054006", "Diabetes mellitus type 2", onset=2300, problem=True)
    c.condition("hypertension", "38341003", "Hypertensive disorder", onset=2900, problem=True)
    c.condition("hyperlipidemia", "55822004", "Hyperlipidemia", onset=700, problem=True)
    c.condition("hypothyroidism", "40930008", "Hypothyroidism", onset=700, problem=True)
    c.condition(
        "bronchitis", "10509002", "Acute bronchitis", onset=566, resolved=545, problem=False,
        encounter="bronchitis",
    )
    c.condition(
        "pneumonia", "385093006", "Community acquired pneumonia", onset=142, resolved=115,
        problem=False, encounter="pneumonia",
    )

    review = ("185349003", "Encounter for check up")
    _visit(
        c, "checkup-1", 700, type_=review, reason=("44054006", "Diabetes mellitus type 2"),
        diagnoses=("diabetes", "hypertension", "hyperlipidemia", "hypothyroidism"),
        clinician=CAROL, note_title="Annual review",
        note="Annual review. HbA1c 8.4 %, above target; metformin increased to 1000 mg twice "
        "daily and glipizide 5 mg added. LDL 162 mg/dL: start atorvastatin 40 mg. TSH 6.2 with "
        "tiredness: start levothyroxine 50 mcg. BP 142/88. Recheck labs in 3-4 months.",
    )
    _visit(
        c, "bronchitis", 563, type_=("11429006", "Consultation"),
        reason=("49727002", "Cough"), diagnoses=("bronchitis", "diabetes"), clinician=DAVE,
        note_title="Cough for ten days",
        note="Productive cough for 10 days, no fever, chest clear apart from scattered wheeze. "
        "Acute bronchitis; no antibiotic. Fluids, honey, return if breathless or febrile.",
    )
    _visit(
        c, "diabetes-2", 470, type_=review, reason=("44054006", "Diabetes mellitus type 2"),
        diagnoses=("diabetes", "hyperlipidemia", "hypothyroidism"), clinician=CAROL,
        note_title="Diabetes follow-up",
        note="HbA1c down to 7.4 %. Two episodes of shakiness before lunch. TSH 3.1 on "
        "levothyroxine 50 mcg but still tired: increase to 75 mcg. LDL 121, improving.",
    )
    _visit(
        c, "diabetes-3", 250, type_=review, reason=("44054006", "Diabetes mellitus type 2"),
        diagnoses=("diabetes", "hypertension"), clinician=CAROL,
        note_title="Diabetes follow-up",
        note="HbA1c 6.9 %. Recurrent low sugars (lowest 3.4 mmol/L) on glipizide: stopped. "
        "Urine albumin/creatinine 35 mg/g, mildly raised; continue lisinopril 20 mg, recheck.",
    )
    c.encounter(
        "pneumonia", kind="IMP", start=c.at(140, "22:40"), end=c.at(137, "11:00"),
        type_=("32485007", "Hospital admission"),
        reason=("267036007", "Dyspnea"), diagnoses=("pneumonia", "diabetes", "hypertension"),
        clinician=ER_DOCTOR, discharge=True, note_title="Discharge summary",
        note="Admitted through the emergency department with 3 days of fever, cough and "
        "breathlessness. Right lower lobe consolidation on chest X-ray; WBC 15.8, CRP 86. "
        "Community acquired pneumonia: IV ceftriaxone then oral azithromycin. Sugars managed "
        "with a correction scale; metformin held for 48 h. Discharged home well on day 3 to "
        "finish azithromycin. Follow-up with Dr Chen in 1 week.",
    )
    _visit(
        c, "after-hospital", 130, type_=("390906007", "Follow-up encounter"),
        reason=("385093006", "Community acquired pneumonia"),
        diagnoses=("pneumonia", "diabetes"), clinician=CAROL,
        note_title="Follow-up after hospital stay",
        note="Feeling much better, mild cough only. Chest clear. Hemoglobin 11.6, slightly low "
        "after the infection; recheck at next visit. eGFR 58, likely from the illness: repeat.",
    )
    _visit(
        c, "diabetes-4", 20, type_=review, reason=("44054006", "Diabetes mellitus type 2"),
        diagnoses=("diabetes", "hypertension", "hyperlipidemia"), clinician=CAROL,
        note_title="Diabetes follow-up",
        note="HbA1c 6.8 %, at target. eGFR back to 60, creatinine 1.08. BP 128/78. LDL 88. "
        "No changes. Next review in 6 months with labs the week before.",
    )

    for n, (days, (sys_, dia, pulse, weight)) in enumerate(
        {
            700: (142, 88, 78, "84.6"),
            563: (136, 84, 88, "83.9"),
            470: (134, 82, 74, "82.0"),
            250: (130, 80, 72, "80.5"),
            130: (126, 76, 84, "78.4"),
            20: (128, 78, 70, "79.0"),
        }.items(),
        start=1,
    ):
        encounter = ["checkup-1", "bronchitis", "diabetes-2", "diabetes-3", "after-hospital",
                     "diabetes-4"][n - 1]
        c.vitals(f"{n}", days, "10:05", systolic=sys_, diastolic=dia, pulse=pulse, weight=weight,
                 encounter=encounter)
    c.vitals("er", 140, "21:15", systolic=118, diastolic=70, pulse=108, temperature="38.6",
             encounter="pneumonia")

    c.labs(ALICE_LAB_DAYS, ALICE_LABS)
    c.labs(ALICE_WARD_LAB_DAYS, ALICE_WARD_LABS, time="23:30", encounter="pneumonia")

    c.medication(
        "metformin", "6809", "metformin", "Metformin 1000 mg oral tablet",
        "Take 1 tablet by mouth twice a day with breakfast and the evening meal.",
        status="active", authored=700, reason="diabetes", prescriber=CAROL,
        repeats=5, valid_until=-300,
    )
    c.medication(
        "glipizide", "4815", "glipizide", "Glipizide 5 mg oral tablet",
        "Take 1 tablet by mouth every morning 30 minutes before breakfast.",
        status="stopped", authored=700, reason="diabetes", prescriber=CAROL,
        why_stopped="Recurrent low blood sugar",
    )
    c.medication(
        "lisinopril", "29046", "lisinopril", "Lisinopril 20 mg oral tablet",
        "Take 1 tablet by mouth once a day.",
        status="active", authored=900, reason="hypertension", prescriber=CAROL,
        repeats=3, valid_until=-200,
    )
    c.medication(
        "atorvastatin", "83367", "atorvastatin", "Atorvastatin 40 mg oral tablet",
        "Take 1 tablet by mouth at bedtime.",
        status="active", authored=700, reason="hyperlipidemia", prescriber=CAROL,
        repeats=2, valid_until=30,
    )
    c.medication(
        "levothyroxine-50", "10582", "levothyroxine", "Levothyroxine 50 mcg oral tablet",
        "Take 1 tablet by mouth every morning on an empty stomach.",
        status="stopped", authored=700, reason="hypothyroidism", prescriber=CAROL,
        why_stopped="Dose increased to 75 mcg",
    )
    c.medication(
        "levothyroxine-75", "10582", "levothyroxine", "Levothyroxine 75 mcg oral tablet",
        "Take 1 tablet by mouth every morning on an empty stomach.",
        status="active", authored=470, reason="hypothyroidism", prescriber=CAROL,
        repeats=0, valid_until=-100,
    )
    # A Schedule II opioid after the hospital stay: never refillable online.
    c.medication(
        "oxycodone", "7804", "oxycodone", "Oxycodone 5 mg oral tablet",
        "Take 1 tablet by mouth every 6 hours if needed for pain.",
        status="active", authored=130, reason=None, prescriber=ER_DOCTOR,
        repeats=0, valid_until=-30,
    )
    c.medication(
        "azithromycin", "18631", "azithromycin", "Azithromycin 250 mg oral tablet",
        "Take 1 tablet by mouth once a day for 4 more days.",
        status="completed", authored=137, reason="pneumonia", prescriber=ER_DOCTOR,
    )
    c.medication_statement(
        "vitamin-d", "2418", "cholecalciferol", "Vitamin D3 1000 unit oral tablet",
        "1 tablet by mouth once a day (bought over the counter).", since=400,
    )

    c.allergy(
        "sulfonamide", "387406002", "Sulfonamide", category="medication", criticality="low",
        reaction=("271807003", "Eruption of skin"), severity="moderate", onset=6200,
    )
    c.allergy(
        "latex", "111088007", "Latex", category="environment", criticality="low",
        reaction=("40275004", "Contact dermatitis"), severity="mild", onset=4000,
    )
    c.allergy(
        "codeine", "387494007", "Codeine", category="medication", criticality="low",
        reaction=("422587007", "Nausea"), severity="mild", onset=3000, type_="intolerance",
    )

    flu = "Influenza, injectable, quadrivalent, preservative free"
    for year, days in enumerate((1100, 730, 365, 5)):
        c.immunization(f"influenza-{year + 1}", "150", flu, days, f"FLU{4471 + year}A")
    c.immunization("tdap", "115", "Tdap", 1800, "TDP2207C")
    c.immunization("covid-1", "208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose", 1500,
                   "CV1187X", dose=(1, 2))
    c.immunization("covid-2", "208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose", 1479,
                   "CV1201X", dose=(2, 2))
    c.immunization("zoster-1", "187", "Zoster vaccine recombinant", 540, "ZR0419B", dose=(1, 2))
    c.immunization("zoster-2", "187", "Zoster vaccine recombinant", 470, "ZR0733B", dose=(2, 2))
    c.immunization("pcv20", "216", "Pneumococcal conjugate PCV20", 400, "PN2016D")
    return c.out


def mallory_chart(anchor: dt.date = ANCHOR) -> list[Resource]:
    c = Chart(MALLORY, anchor)
    c.patient(
        mrn="DEMO-100871",
        given=["Mallory"],
        family="Stone",
        birth="1991-03-08",
        phone="+1 555 0187",
        street="7 Sample Street",
    )

    c.condition("asthma", "195967001", "Asthma", onset=7000, problem=True)
    c.condition("rhinitis", "61582004", "Allergic rhinitis", onset=5000, problem=True)
    c.condition(
        "anemia", "87522002", "Iron deficiency anemia", onset=612, resolved=340, problem=True
    )
    c.condition(
        "sprain", "44465007", "Sprain of ankle", onset=200, resolved=160, problem=False,
        encounter="ankle",
    )

    _visit(
        c, "tiredness", 610, type_=("11429006", "Consultation"), reason=("84229001", "Fatigue"),
        diagnoses=("anemia",), clinician=DAVE, note_title="Tiredness",
        note="Two months of tiredness and breathlessness on stairs; heavy periods. Pale. "
        "Hemoglobin 10.4, ferritin 8: iron deficiency anemia. Ferrous sulfate daily for three "
        "months, recheck bloods.",
    )
    _visit(
        c, "asthma-review", 360, type_=("185349003", "Encounter for check up"),
        reason=("195967001", "Asthma"), diagnoses=("asthma", "rhinitis", "anemia"),
        clinician=DAVE, note_title="Asthma review",
        note="Asthma well controlled, reliever twice a month. Inhaler technique good. "
        "Hemoglobin 12.1 and ferritin 32: iron stores restored, stop ferrous sulfate.",
    )
    c.encounter(
        "ankle", kind="EMER", start=c.at(200, "19:20"), end=c.at(200, "21:45"),
        type_=("50849002", "Emergency room admission"), reason=("44465007", "Sprain of ankle"),
        diagnoses=("sprain",), clinician=ER_DOCTOR, note_title="Emergency department visit",
        note="Inverted left ankle running for a bus. Swelling over the lateral ligament, able to "
        "bear weight; Ottawa rules negative, no X-ray. Sprain: rest, ice, compression, "
        "ibuprofen for 5 days. Peanut allergy noted. Discharged home.",
    )
    _visit(
        c, "annual", 45, type_=("185349003", "Encounter for check up"),
        reason=("195967001", "Asthma"), diagnoses=("asthma", "rhinitis"), clinician=DAVE,
        note_title="Annual review",
        note="Well. Ankle fully recovered. Asthma controlled on fluticasone. Blood count and "
        "ferritin normal. Flu vaccine given.",
    )

    c.vitals("1", 610, "10:05", systolic=112, diastolic=70, pulse=92, weight="61.0",
             encounter="tiredness")
    c.vitals("2", 360, "10:05", systolic=114, diastolic=72, pulse=70, weight="62.4",
             encounter="asthma-review")
    c.vitals("er", 200, "19:30", systolic=124, diastolic=78, pulse=96, encounter="ankle")
    c.vitals("3", 45, "10:05", systolic=110, diastolic=68, pulse=66, weight="62.0",
             encounter="annual")

    c.labs(MALLORY_LAB_DAYS, MALLORY_LABS)

    c.medication(
        "albuterol", "435", "albuterol", "Albuterol 90 mcg/actuation inhaler",
        "Inhale 2 puffs every 4 hours as needed for wheeze or breathlessness.",
        status="active", authored=360, reason="asthma", prescriber=DAVE,
    )
    c.medication(
        "fluticasone", "41126", "fluticasone", "Fluticasone 110 mcg/actuation inhaler",
        "Inhale 2 puffs twice a day; rinse mouth afterwards.",
        status="active", authored=360, reason="asthma", prescriber=DAVE,
    )
    c.medication(
        "iron", "24947", "ferrous sulfate", "Ferrous sulfate 325 mg oral tablet",
        "Take 1 tablet by mouth once a day with orange juice.",
        status="stopped", authored=610, reason="anemia", prescriber=DAVE,
        why_stopped="Iron stores restored",
    )
    c.medication(
        "ibuprofen", "5640", "ibuprofen", "Ibuprofen 400 mg oral tablet",
        "Take 1 tablet by mouth three times a day with food for 5 days.",
        status="completed", authored=200, reason="sprain", prescriber=ER_DOCTOR,
    )

    c.allergy(
        "peanut", "256349002", "Peanut", category="food", criticality="high",
        reaction=("39579001", "Anaphylaxis"), severity="severe", onset=9000,
    )

    flu = "Influenza, injectable, quadrivalent, preservative free"
    c.immunization("influenza-1", "150", flu, 410, "FLU5120A")
    c.immunization("influenza-2", "150", flu, 45, "FLU5533A")
    c.immunization("tdap", "115", "Tdap", 2500, "TDP1930C")
    c.immunization("covid-1", "208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose", 1480,
                   "CV1190X", dose=(1, 2))
    return c.out


def rosa_chart(anchor: dt.date = ANCHOR) -> list[Resource]:
    c = Chart(ROSA, anchor)
    c.patient(
        mrn="DEMO-101502",
        given=["Rosa"],
        family="Delgado",
        birth="1954-11-02",
        phone="+1 555 0152",
        street="3 Placeholder Road",
    )
    c.condition("osteoarthritis", "239873007", "Osteoarthritis of knee", onset=3000, problem=True)
    c.condition("glaucoma", "23986001", "Glaucoma", onset=1500, problem=True)
    _visit(
        c, "knee", 90, type_=("11429006", "Consultation"),
        reason=("239873007", "Osteoarthritis of knee"), diagnoses=("osteoarthritis",),
        clinician=CAROL, note_title="Knee pain",
        note="Right knee pain on stairs for a year, worse in the mornings. Crepitus, no "
        "effusion. Osteoarthritis: exercise programme, paracetamol as needed, review in 3 months.",
    )
    c.allergy(
        "penicillin", "91936005", "Penicillin", category="medication", criticality="high",
        reaction=("271807003", "Skin rash"), severity="moderate", onset=20000,
    )
    c.immunization(
        "influenza-1", "150", "Influenza, injectable, quadrivalent, preservative free", 60,
        "FLU5601A",
    )
    c.medication(
        "paracetamol", "161", "acetaminophen", "Acetaminophen 500 mg oral tablet",
        "Take 2 tablets by mouth up to four times a day as needed for pain.",
        status="active", authored=90, reason="osteoarthritis", prescriber=CAROL,
    )
    return c.out


def leo_chart(anchor: dt.date = ANCHOR) -> list[Resource]:
    c = Chart(LEO, anchor)
    c.patient(
        mrn="DEMO-102210",
        given=["Leo"],
        family="Whitfield",
        birth="2018-05-10",
        phone="+1 555 0134",
        street="12 Example Lane",
    )
    c.condition(
        "otitis", "65363002", "Otitis media", onset=400, resolved=385, problem=False,
        encounter="ear",
    )
    c.condition("anxiety", "197480006", "Anxiety disorder", onset=120, problem=True)
    c.out[-1]["meta"] = CONFIDENTIAL
    _visit(
        c, "ear", 400, type_=("11429006", "Consultation"), reason=("65363002", "Otitis media"),
        diagnoses=("otitis",), clinician=CAROL, note_title="Ear ache",
        note="Two days of left ear pain and fever. Red bulging drum. Amoxicillin for 5 days.",
    )
    c.immunization("mmr-2", "03", "MMR", 1100, "MMR2231A", dose=(2, 2))
    c.immunization("dtap-5", "20", "DTaP", 1100, "DTP5512B", dose=(5, 5))
    c.immunization(
        "influenza-1", "150", "Influenza, injectable, quadrivalent, preservative free", 60,
        "FLU5602A",
    )
    return c.out
# fmt: on


def alice_recent_discharge(today: dt.date) -> list[Resource]:
    """Alice's short hospital stay that ended two days before ``today``, so that the portal's
    first sync schedules her post-discharge check-ins and the first one is due (issue 15).

    Dated from the seed's own day, not the anchor: the id names the discharge date, so a
    seed on a later day replaces the stay (the old one is deleted) instead of moving it.
    """
    c = Chart(ALICE, today)
    left = today - dt.timedelta(days=2)
    c.encounter(
        f"discharge-{left:%Y%m%d}",
        kind="IMP",
        start=c.at(4, "16:20"),
        end=c.at(2, "11:30"),
        type_=("32485007", "Hospital admission"),
        reason=("49727002", "Cough"),
        diagnoses=("bronchitis", "diabetes"),
        clinician=ER_DOCTOR,
        discharge=True,
        note_title="Discharge summary",
        note="Admitted with a chest infection and high sugars. Oral antibiotics, sugars back "
        "in range on the usual metformin. Discharged home on day 3. Follow-up with Dr Chen "
        "within a week.",
    )
    return c.out


def resources(anchor: dt.date = ANCHOR, *, today: dt.date | None = None) -> list[Resource]:
    """The demo patients' resources: each Patient first, then its record.

    ``today`` (the seed passes its date) adds alice's recent discharge; without it the
    output depends on nothing but this file.
    """
    recent = alice_recent_discharge(today) if today is not None else []
    return [
        *alice_chart(anchor),
        *recent,
        *mallory_chart(anchor),
        *rosa_chart(anchor),
        *leo_chart(anchor),
    ]


def transaction(items: list[Resource]) -> Resource:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in items
        ],
    }


if __name__ == "__main__":
    print(dumps(transaction(resources())))
