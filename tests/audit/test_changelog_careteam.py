"""Care-team changes are configuration changes: auditlog keeps their history."""

from auditlog.models import LogEntry

from patients.models import CareTeam


def test_it_records_who_joined_a_care_team(db, carol, alice):
    team = CareTeam.objects.create(name="Ward 5")
    team.members.add(carol)
    team.patients.add(alice.patient)
    entries = LogEntry.objects.get_for_object(team)
    assert entries.filter(action=LogEntry.Action.CREATE).exists()
    changed = [e.changes for e in entries.filter(action=LogEntry.Action.UPDATE)]
    assert any("members" in c for c in changed)
    assert any("patients" in c for c in changed)
