"""Signals records sends, so that features above it can add to its pages without a cycle.

``medications_shown``: the patient-side medicines page is being built. Receivers
get ``patient`` (already resolved through the access check) and ``proxy`` and
return ``{MedicationRequest FHIR id: note}``; the page shows each note beside its
prescription (refills connects one: whether it can be refilled online, or why not).
"""

from django.dispatch import Signal

medications_shown = Signal()
