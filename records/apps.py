from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = "Medical records"

    def ready(self) -> None:
        # Receivers are connected once the app registry is ready (they use models).
        from accounts.signals import second_factor_verified
        from records.sync import sync_at_sign_in

        second_factor_verified.connect(sync_at_sign_in, dispatch_uid="records.sync_at_sign_in")
