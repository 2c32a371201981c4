"""Every audit test signs with a key of its own, never the developer's var/ key."""

import pytest

from portal.crypto import signing


@pytest.fixture(autouse=True)
def audit_signing_key(settings) -> str:
    settings.AUDIT_SIGNING_KEY = signing.generate_private_pem().decode()
    settings.AUDIT_OLD_PUBLIC_KEYS = []
    return settings.AUDIT_SIGNING_KEY


@pytest.fixture
def public_key(audit_signing_key) -> str:
    """What an auditor passes to ``python -m audit.verify_export --public-key``."""
    return signing.public_text(signing.current_public_key())
