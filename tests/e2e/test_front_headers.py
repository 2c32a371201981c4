"""The portal behind its front: responses Django does not dress (its 400 for a foreign Host,
static files) still carry a CSP, X-Frame-Options and nosniff, and nothing names gunicorn.
"""

import http.client
import re
import ssl
from urllib.parse import urlsplit


def fetch(url: str, cafile: str, path: str, host: str | None = None) -> http.client.HTTPResponse:
    parts = urlsplit(url)
    context = ssl.create_default_context(cafile=cafile)
    conn = http.client.HTTPSConnection(parts.hostname, parts.port, context=context, timeout=10)
    conn.request("GET", path, headers={"Host": host} if host else {})
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


def test_a_foreign_host_gets_400_with_the_fronts_strict_headers(portal_server, portal_cert):
    response = fetch(portal_server(), str(portal_cert), "/accounts/sign-in/", host="evil.example")

    assert response.status == 400
    assert "frame-ancestors 'none'" in response.getheader("Content-Security-Policy")
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("Server") == "nginx"


def test_static_files_carry_a_csp_and_frame_options(portal_server, portal_cert):
    url = portal_server()
    page = http.client.HTTPSConnection(
        "localhost", urlsplit(url).port, context=ssl.create_default_context(cafile=portal_cert)
    )
    page.request("GET", "/accounts/sign-in/")
    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', page.getresponse().read().decode())[1]
    page.close()

    response = fetch(url, str(portal_cert), stylesheet)

    assert response.status == 200
    assert response.getheader("Content-Security-Policy").startswith("default-src 'none'")
    assert response.getheader("X-Frame-Options") == "DENY"


def test_django_s_own_headers_on_a_page_are_not_doubled(portal_server, portal_cert):
    response = fetch(portal_server(), str(portal_cert), "/accounts/sign-in/")

    assert response.status == 200
    assert len(response.headers.get_all("Content-Security-Policy")) == 1
    assert "script-src 'self'" in response.getheader("Content-Security-Policy")
    assert len(response.headers.get_all("X-Frame-Options")) == 1
    assert "gunicorn" not in str(response.headers).lower()
