"""The smallest WSGI app, for tests/test_tls.py to serve through gunicorn.conf.py.

It keeps those tests about TLS and logging, independent of Django and the database.
"""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
