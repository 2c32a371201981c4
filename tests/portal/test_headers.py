"""Transport and browser safeguards on every response."""

from tests.conftest import sign_in_fully


def test_it_sends_the_security_headers_on_the_sign_in_page(client, db):
    response = client.get("/accounts/sign-in/")
    assert response.status_code == 200
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert "camera=()" in response["Permissions-Policy"]
    csp = response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert "http" not in csp  # no third-party origin anywhere


def test_it_forbids_caching_of_signed_in_pages(client, alice):
    sign_in_fully(client, alice)
    response = client.get("/patient/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_it_sets_host_prefixed_secure_httponly_cookies(client, alice):
    sign_in_fully(client, alice)
    session = client.cookies["__Host-session"]
    csrf = client.cookies["__Host-csrftoken"]
    for cookie in (session, csrf):
        assert cookie["secure"] is True
        assert cookie["httponly"] is True
        assert cookie["samesite"] == "Lax"
        assert cookie["path"] == "/"
        assert not cookie["domain"]


def test_it_redirects_plain_http_to_https(db):
    from django.test import Client

    response = Client().get("/accounts/sign-in/")
    assert response.status_code == 301
    assert response.url.startswith("https://")


def test_it_loads_no_inline_script_and_no_third_party_asset(client, alice):
    sign_in_fully(client, alice)
    html = client.get("/patient/").content.decode()
    assert "<script>" not in html
    assert '<script src="/static/' in html
    assert "http://" not in html
    assert "https://" not in html


def test_it_answers_health_checks_without_details(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_it_tags_every_response_with_a_request_id(client, db):
    first = client.get("/accounts/sign-in/")["X-Request-ID"]
    second = client.get("/accounts/sign-in/")["X-Request-ID"]
    assert len(first) == 36
    assert first != second
