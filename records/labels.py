"""Confidentiality labels the EHR puts on a resource (``meta.security``).

A resource is confidential when its confidentiality is R (restricted) or V
(very restricted), or when it carries a sensitivity label of a category that
needs special protection (mental health, substance use, HIV and sexually
transmitted infections, sexual and domestic violence, genetics, ...). Such a
resource is never shown to a proxy (a parent, a guardian, a caregiver): not on
a page, not in a download. Without a label a resource is ordinary.

It is read from the stored resource itself (decrypted) each time a proxy
opens a page or a download, so a label the EHR adds or removes counts from the
next sync, and no stored row needs re-mapping.
"""

from typing import Any

CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
RESTRICTED = frozenset({"R", "V"})
# v3 ActCode information sensitivity policies that call for special protection.
SENSITIVE = frozenset(
    {
        "PSY",  # psychiatry
        "PSYTHPN",  # psychotherapy note
        "BH",  # behavioral health
        "ETH",  # substance abuse
        "SUD",  # substance use disorder
        "HIV",
        "STD",  # sexually transmitted disease
        "SDV",  # sexual assault, abuse or domestic violence
        "SEX",  # sexuality and reproductive health
        "GDIS",  # genetic disease
        "MST",  # military sexual trauma
        "TBOO",  # taboo
    }
)


def is_confidential(resource: dict[str, Any]) -> bool:
    meta = resource.get("meta")
    labels = meta.get("security") if isinstance(meta, dict) else None
    for label in labels if isinstance(labels, list) else []:
        if not isinstance(label, dict):
            continue
        system, code = label.get("system"), label.get("code")
        if system in (CONFIDENTIALITY, None) and code in RESTRICTED:
            return True
        if system in (ACT_CODE, None) and code in SENSITIVE:
            return True
    return False
