"""Wrong break-glass codes are counted apart from sign-in.

Junk codes on the emergency-access form pause break-glass for that clinician
(saying so, and for how long) but never lock them out of signing in.
"""

import datetime as dt

import pytest
import time_machine

from accounts.models import BackupCode, BackupCodeDevice
from audit.actions import Action, Outcome
from patients.models import BreakGlassGrant
from tests.audit_helpers import events, last_event
from tests.conftest import device_of, sign_in_fully, totp_now

EMERGENCY = "/accounts/emergency-access/"
START = dt.datetime(2026, 8, 3, 2, 0, tzinfo=dt.UTC)


def chart(patient_user) -> str:
    return f"/staff/patients/{patient_user.patient_id}/"


def break_glass(client, patient_user, token, method="totp"):
    return client.post(
        EMERGENCY,
        {
            "patient_id": str(patient_user.patient_id),
            "reason": "Unconscious in ED, no team on shift",
            "method": method,
            "token": token,
        },
    )


def junk(client, patient_user, times=1):
    for n in range(times):
        response = break_glass(client, patient_user, f"{n:06d}")
        assert response.status_code == 200
    return response


def test_junk_codes_do_not_stop_the_clinician_signing_in(make_client, alice, carol):
    with time_machine.travel(START, tick=False):
        desk = sign_in_fully(make_client(), carol)
        junk(desk, alice, times=10)
    assert device_of(carol).throttling_failure_count == 0
    with time_machine.travel(START + dt.timedelta(minutes=1), tick=False):
        sign_in_fully(make_client(), carol)  # asserts each step succeeds
    assert last_event(Action.OTP_VERIFY).outcome == Outcome.SUCCESS


def test_it_accepts_a_valid_code_before_the_limit(client, alice, carol):
    with time_machine.travel(START, tick=False):
        sign_in_fully(client, carol)
        junk(client, alice, times=4)
        response = break_glass(client, alice, totp_now(device_of(carol), offset=1))
    assert response.url == chart(alice)
    assert BreakGlassGrant.objects.filter(clinician=carol).count() == 1


def test_it_pauses_break_glass_after_five_wrong_codes_and_says_so(client, alice, carol):
    with time_machine.travel(START, tick=False):
        sign_in_fully(client, carol)
        junk(client, alice, times=5)
        # Even the right code is refused now, without being checked.
        response = break_glass(client, alice, totp_now(device_of(carol), offset=1))
    assert response.status_code == 200
    (error,) = response.context["form"].errors["token"]
    assert error == (
        "Too many wrong codes for emergency access. Wait 15 minutes, then try again. "
        "Signing in is not affected."
    )
    assert not BreakGlassGrant.objects.exists()
    denied = last_event(Action.BREAK_GLASS)
    assert (denied.outcome, denied.actor_id, denied.object_id) == (
        Outcome.DENIED,
        carol.pk,
        "break_glass",
    )
    assert len(events(Action.BREAK_GLASS, outcome=Outcome.FAILURE)) == 5


def test_it_lifts_the_pause_after_fifteen_minutes(client, alice, carol):
    with time_machine.travel(START, tick=False):
        sign_in_fully(client, carol)
        junk(client, alice, times=5)
    later = START + dt.timedelta(minutes=10)
    with time_machine.travel(later, tick=False):
        response = break_glass(client, alice, totp_now(device_of(carol), offset=1))
        assert "Wait 5 minutes" in response.context["form"].errors["token"][0]
    later = START + dt.timedelta(minutes=15, seconds=1)
    with time_machine.travel(later, tick=False):
        response = break_glass(client, alice, totp_now(device_of(carol), offset=1))
    assert response.url == chart(alice)


def test_it_counts_each_clinician_apart(make_client, alice, carol, dave):
    with time_machine.travel(START, tick=False):
        junk(sign_in_fully(make_client(), carol), alice, times=5)
        response = break_glass(
            sign_in_fully(make_client(), dave), alice, totp_now(device_of(dave), offset=1)
        )
    assert response.url == chart(alice)


def test_a_sign_in_throttle_does_not_block_break_glass(client, alice, carol):
    with time_machine.travel(START, tick=False):
        sign_in_fully(client, carol)
        device = device_of(carol)
        device.throttling_failure_count = 8
        device.throttling_failure_timestamp = START
        device.save()
        response = break_glass(client, alice, totp_now(device, offset=1))
    assert response.url == chart(alice)
    assert device_of(carol).throttling_failure_count == 8  # sign-in's own count, untouched


def test_it_never_accepts_a_code_twice(make_client, alice, carol):
    with time_machine.travel(START, tick=False):
        client = sign_in_fully(make_client(), carol)
        # The code that just signed carol in is spent.
        spent = break_glass(client, alice, totp_now(device_of(carol)))
        assert spent.context["form"].errors["token"]
        code = totp_now(device_of(carol), offset=1)
        assert break_glass(client, alice, code).url == chart(alice)
        again = break_glass(client, alice, code)
    assert again.context["form"].errors["token"]
    assert BreakGlassGrant.objects.count() == 1


def test_it_takes_a_backup_code_once(client, alice, carol):
    sign_in_fully(client, carol)
    static = BackupCodeDevice.objects.create(user=carol, name="Backup codes", confirmed=True)
    static.add_codes(["abcdefghjk"])
    assert break_glass(client, alice, "abcde fghjk", method="backup").url == chart(alice)
    again = break_glass(client, alice, "abcdefghjk", method="backup")
    assert again.context["form"].errors["token"]
    assert not BackupCode.objects.exists()


@pytest.mark.parametrize("host", ["localhost:6666", "127.0.0.1:1"])
def test_the_privacy_officer_mail_links_to_the_base_url(
    client, alice, carol, settings, mailoutbox, django_capture_on_commit_callbacks, host
):
    settings.PORTAL_BASE_URL = "https://portal.example.org"
    settings.PORTAL_PRIVACY_OFFICER_EMAIL = "privacy@clinic.example"
    sign_in_fully(client, carol)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            EMERGENCY,
            {
                "patient_id": str(alice.patient_id),
                "reason": "Unconscious in ED, no team on shift",
                "method": "totp",
                "token": totp_now(device_of(carol), offset=1),
            },
            HTTP_HOST=host,
        )
    assert response.status_code == 302
    (message,) = mailoutbox
    assert "https://portal.example.org/accounts/emergency-access/review/" in message.body
    assert host not in message.body
