from django.apps import AppConfig


class RefillsConfig(AppConfig):
    name = "refills"

    def ready(self) -> None:
        # The medicines page (records) asks, through its signal, what can be refilled.
        from records.signals import medications_shown
        from refills.selectors import medicine_notes

        medications_shown.connect(medicine_notes, dispatch_uid="refills.medicine_notes")
