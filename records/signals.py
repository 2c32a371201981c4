"""Signals records sends, so that features above it can add to its pages without a cycle.

``medications_shown``: the patient-side medicines page is being built. Receivers
get ``patient`` (already resolved through the access check) and ``proxy`` and
return ``{MedicationRequest FHIR id: note}``; the page shows each note beside its
prescription (refills connects one: whether it can be refilled online, or why not).

``encounters_synced``: a sync stored new or changed Encounters of a patient. Sent
once per sync, after the writes committed, with ``patient_id`` and ``encounter_ids``
(the EHR's ids of the Encounters written; ids only). Receivers read them through
``records.selectors.encounter_resources`` (the assistant schedules post-discharge
check-ins). A receiver that raises is logged (its error's type) and never fails the
sync, but stops the receivers after it: each should catch what it can handle.
"""

from django.dispatch import Signal

medications_shown = Signal()
encounters_synced = Signal()
