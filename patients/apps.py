from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Patients and care teams"

    def ready(self) -> None:
        # Models cannot be imported before the app registry is ready.
        from auditlog.registry import auditlog

        from patients.models import CareTeam

        # Who treats whom: membership changes widen or narrow chart access, so
        # each one is kept with its before/after (audit/changelog.py).
        auditlog.register(CareTeam, m2m_fields={"members", "patients"})
