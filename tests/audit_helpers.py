"""Reading the audit trail in tests."""

from audit.models import AuditEvent


def events(action: str | None = None, **filters) -> list[AuditEvent]:
    qs = AuditEvent.objects.order_by("id")
    if action is not None:
        qs = qs.filter(action=action)
    return list(qs.filter(**filters))


def last_event(action: str | None = None, **filters) -> AuditEvent:
    found = events(action, **filters)
    assert found, f"no audit event {action} {filters}"
    return found[-1]
