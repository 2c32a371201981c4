"""Site digests: opaque keyed ids, stable across the move into portal/crypto."""

from django.utils.crypto import salted_hmac

from portal.crypto.digests import site_digest


def test_it_keeps_the_value_django_s_salted_hmac_gave(settings):
    settings.SECRET_KEY = "a-fixed-key-for-this-test-only-0123456789"
    # Trend URLs made before the move still name the same test.
    expected = salted_hmac("records.trend", "http://loinc.org|4548-4", algorithm="sha256")
    assert site_digest("http://loinc.org|4548-4", purpose="records.trend") == expected.digest()


def test_it_gives_another_digest_for_another_purpose_or_key(settings):
    settings.SECRET_KEY = "a-fixed-key-for-this-test-only-0123456789"
    trend = site_digest("4548-4", purpose="records.trend")
    assert site_digest("4548-4", purpose="records.other") != trend
    settings.SECRET_KEY = "another-fixed-key-for-this-test-9876543210"
    assert site_digest("4548-4", purpose="records.trend") != trend
