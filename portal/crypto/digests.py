"""Keyed digests under the site's SECRET_KEY, for opaque ids in URLs.

Not for PHI lookups (those use blind_index, under their own key): a digest
here changes when SECRET_KEY rotates, so it may only name things that can be
looked up again, such as a lab test's key in a trend URL.
"""

from django.utils.crypto import salted_hmac  # noqa: TID251


def site_digest(value: str, *, purpose: str) -> bytes:
    """HMAC-SHA256 of ``value`` under a key derived from SECRET_KEY and ``purpose``.

    ``purpose`` (e.g. "records.trend") keeps digests made for one use from
    matching those made for another. It is Django's ``salted_hmac`` with the
    purpose as its salt, so existing digests keep their value.
    """
    return salted_hmac(purpose, value, algorithm="sha256").digest()
