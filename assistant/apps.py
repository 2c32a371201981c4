from django.apps import AppConfig


class AssistantConfig(AppConfig):
    name = "assistant"

    def ready(self) -> None:
        # A sync that stores a discharge (records) schedules its check-ins, through records'
        # own signal: records never imports the assistant.
        from assistant.checkins import encounters_synced as schedule_checkins
        from records.signals import encounters_synced

        encounters_synced.connect(schedule_checkins, dispatch_uid="assistant.checkins")
