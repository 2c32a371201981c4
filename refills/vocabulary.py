"""Codes the refill decisions carry to the EHR.

Denial reasons are HL7 v3 ActReason's refill/renewal refusal reasons
(``_PharmacySupplyRequestRenewalRefusalReasonCode``); the clinician adds free text.
"""

ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
TASK_CODE = "https://carebridge.example.org/fhir/CodeSystem/task-code"

REFUSAL_REASONS = {
    "FAMPHYS": "Family physician must authorize further fills",
    "MODIFY": "Modified prescription exists",
    "NEEDAPMT": "Patient needs appointment",
    "NOTAVAIL": "Prescriber not available",
    "NOTPAT": "Patient no longer in this practice",
    "ONHOLD": "Medication on hold",
    "PRNA": "Product not available",
    "STOPMED": "Prescriber stopped medication",
    "TOOEARLY": "Too early",
}
