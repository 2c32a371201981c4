"""Slow clients cannot take the portal down (security test finding: 10 slowloris
connections stopped gunicorn answering when it faced clients itself).

The real front (scripts/serve.sh: nginx before gunicorn) serves the portal. For 30 s,
250 slowloris clients (headers a line every 3 s) and 250 slow-POST clients (headers
complete, body a byte every 3 s) hold connections from 127.0.0.2-11, reconnecting when
cut; meanwhile a signed-in patient's page and /healthz, fetched over fresh connections
from 127.0.0.1, must each answer within a second. Then the timeouts must cut them all.
"""

import re
import resource
import ssl
import threading
import time
from urllib.parse import urlsplit

import httpx
import pytest

from tests import slowclients
from tests.conftest import PASSWORD, device_of, totp_now

ATTACK_SECONDS = 30
PER_KIND = 250
HEADER_TIMEOUT = 10  # client_header_timeout in deploy/nginx.conf: the whole header
BODY_TIMEOUT = 10  # client_body_timeout: the longest pause between two reads of a body
SLACK = 3


def _csrf(page: httpx.Response) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)


def sign_in(url: str, tls: ssl.SSLContext, user) -> httpx.Cookies:
    """Password and authenticator code over HTTP, as a browser would; the session's cookies."""
    with httpx.Client(base_url=url, verify=tls, timeout=10) as client:
        form = client.get("/accounts/sign-in/")
        answer = client.post(
            "/accounts/sign-in/",
            data={
                "csrfmiddlewaretoken": _csrf(form),
                "username": user.username,
                "password": PASSWORD,
            },
            headers={"Referer": f"{url}/accounts/sign-in/"},
        )
        assert answer.status_code == 302, answer.text[:500]
        verify = client.get(answer.headers["location"])
        answer = client.post(
            verify.url.raw_path.decode(),
            data={
                "csrfmiddlewaretoken": _csrf(verify),
                "method": "totp",
                "token": totp_now(device_of(user)),
            },
            headers={"Referer": str(verify.url)},
        )
        assert answer.status_code == 302
        assert client.get(answer.headers["location"], follow_redirects=True).url.path == "/patient/"
        return client.cookies


def probe(url: str, tls: ssl.SSLContext, cookies: httpx.Cookies | None = None):
    """One GET over a new connection: (status, seconds); status 0 when it failed or timed out."""
    started = time.monotonic()
    try:
        with httpx.Client(verify=tls, timeout=5, cookies=cookies) as client:
            status = client.get(url).status_code
    except httpx.HTTPError:
        status = 0
    return status, time.monotonic() - started


@pytest.fixture
def enough_file_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@pytest.mark.usefixtures("enough_file_descriptors")
def test_500_slow_clients_neither_stop_the_portal_nor_stay_connected(
    portal_server, portal_cert, alice
):
    url = portal_server()
    cafile = str(portal_cert)
    tls = ssl.create_default_context(cafile=cafile)
    cookies = sign_in(url, tls, alice)
    port = urlsplit(url).port
    tallies = {}
    attack = threading.Thread(
        target=lambda: tallies.update(
            slowclients.attack(
                port=port,
                cafile=cafile,
                per_kind=PER_KIND,
                duration=ATTACK_SECONDS,
                interval=3,
                linger=BODY_TIMEOUT + 10,
            )
        )
    )
    attack.start()
    probing_until = time.monotonic() + ATTACK_SECONDS - 1
    time.sleep(3)  # let every slow connection open

    home, health = [], []
    while time.monotonic() < probing_until:
        home.append(probe(f"{url}/patient/", tls, cookies))
        health.append(probe(f"{url}/healthz", tls))
        time.sleep(0.8)
    attack.join(timeout=ATTACK_SECONDS + BODY_TIMEOUT + 30)
    header, body = tallies["header"], tallies["body"]
    slowest = max(seconds for _, seconds in home + health)
    print(
        f"{len(home)} page and {len(health)} /healthz probes, slowest {slowest:.3f} s; "
        f"slow headers: {header.opened} connections, {len(header.cut_after)} cut, longest "
        f"{max(header.cut_after, default=0):.1f} s; slow bodies: {body.opened} connections, "
        f"{body.open_at_end} held to the end, cut {max(body.cut_after_silence, default=0):.1f} s "
        "after falling silent"
    )

    assert len(home) >= 20
    assert [status for status, _ in home] == [200] * len(home)
    assert [status for status, _ in health] == [200] * len(health)
    assert slowest < 1.0
    # Every slow-header client got in and was cut off within the header timeout, again
    # after each reconnection; none outlived it.
    assert header.refused == 0
    assert len(header.cut_after) >= PER_KIND
    assert max(header.cut_after) < HEADER_TIMEOUT + SLACK
    assert header.never_cut == 0
    # Slow bodies were held (buffered by nginx, not by a gunicorn thread) while they
    # trickled, and cut once they paused for longer than the body timeout.
    assert body.refused == 0
    assert body.open_at_end == PER_KIND
    assert body.never_cut == 0
    assert max(body.cut_after_silence) < BODY_TIMEOUT + SLACK
