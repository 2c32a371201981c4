"""The smallest WSGI app, for tests/test_tls.py to serve through the front (scripts/serve.sh).

It keeps those tests about TLS, headers and logging, independent of Django and the database.
"""


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/own-headers":
        # A response that sets its own policy headers: the front must not add a second one.
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain"),
                ("Content-Security-Policy", "default-src 'self'"),
                ("X-Frame-Options", "SAMEORIGIN"),
            ],
        )
        return [b"own\n"]
    if path == "/forwarded":
        # What the application is told about the client, to check the proxy headers.
        lines = [
            f"for={environ.get('HTTP_X_FORWARDED_FOR', '')}",
            f"proto={environ.get('HTTP_X_FORWARDED_PROTO', '')}",
            f"ssl={environ.get('HTTP_X_FORWARDED_SSL', '')}",
            f"host={environ.get('HTTP_HOST', '')}",
        ]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["\n".join(lines).encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
