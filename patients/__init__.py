"""Patients at the base: who the patient is, who treats them, who broke the glass.

Core (imports no feature app): every feature app that holds a patient's data
points its foreign keys at ``patients.Patient``.
"""
