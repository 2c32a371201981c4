"""SMART on FHIR Backend Services: a signed client assertion buys an access token.

See https://hl7.org/fhir/smart-app-launch/backend-services.html. The token
endpoint is discovered from the server, the assertion is signed with our
private key (the EHR holds the public half), and the token is cached until
shortly before it expires.
"""

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
from joserfc import jwk, jwt
from joserfc.errors import JoseError

from portal.fhir.errors import FhirError
from portal.fhir.transport import parse_json, read_body

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# The spec caps the assertion's lifetime at five minutes.
MAX_ASSERTION_LIFETIME = 300
# Token and discovery responses are small; anything bigger is not one.
MAX_AUTH_RESPONSE_BYTES = 64 * 1024


@dataclass(frozen=True)
class SmartConfig:
    client_id: str
    private_key_file: Path
    key_id: str
    # Space-separated, the narrowest the pages need, e.g. "system/Observation.rs".
    scope: str
    algorithm: Literal["ES384", "RS384"] = "ES384"
    assertion_lifetime: int = MAX_ASSERTION_LIFETIME
    # Renew this long before the token expires, so a request never carries a
    # token that dies in flight.
    refresh_margin: float = 60.0


def load_signing_key(config: SmartConfig) -> jwk.Key:
    key_type = "EC" if config.algorithm == "ES384" else "RSA"
    try:
        key = jwk.import_key(config.private_key_file.read_bytes(), key_type, {"kid": config.key_id})
    except (OSError, ValueError, JoseError):
        raise FhirError("private_key") from None
    if key_type == "EC" and getattr(key, "curve_name", None) != "P-384":
        raise FhirError("private_key")
    if not key.is_private:
        raise FhirError("private_key")
    return key


def build_client_assertion(
    config: SmartConfig, *, key: jwk.Key, token_endpoint: str, now: float
) -> str:
    issued = int(now)
    claims = {
        "iss": config.client_id,
        "sub": config.client_id,
        "aud": token_endpoint,
        "jti": secrets.token_urlsafe(24),
        "iat": issued,
        "exp": issued + min(config.assertion_lifetime, MAX_ASSERTION_LIFETIME),
    }
    header = {"alg": config.algorithm, "kid": config.key_id, "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=[config.algorithm])


def granted_scope_covers(requested: str, granted: str) -> bool:
    return set(requested.split()) <= set(granted.split())


class BackendServicesAuth:
    """Hands out a bearer token; `invalidate()` after a 401 forces a new one."""

    def __init__(
        self,
        config: SmartConfig,
        *,
        base_url: str,
        http: httpx.Client,
        read_timeout: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._base_url = base_url.rstrip("/")
        self._http = http
        self._read_timeout = read_timeout
        self._clock = clock
        self._key = load_signing_key(config)
        self._token_endpoint: str | None = None
        self._token: str | None = None
        self._renew_at = 0.0

    def token(self) -> str:
        if self._token is None or self._clock() >= self._renew_at:
            self._token, self._renew_at = self._request_token()
        return self._token

    def invalidate(self) -> None:
        self._token = None

    def _request_token(self) -> tuple[str, float]:
        endpoint = self._discover_token_endpoint()
        now = self._clock()
        assertion = build_client_assertion(
            self.config, key=self._key, token_endpoint=endpoint, now=now
        )
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": self.config.scope,
        }
        data = self._call("POST", endpoint, reason="token", data=form)
        access_token = data.get("access_token")
        expires_in = data.get("expires_in")
        granted = data.get("scope")
        if not isinstance(access_token, str) or not access_token:
            raise FhirError("token")
        if str(data.get("token_type", "")).lower() != "bearer":
            raise FhirError("token")
        if not isinstance(expires_in, int) or expires_in <= 0:
            raise FhirError("token")
        # A narrower grant would make pages silently miss data; refuse it.
        if not isinstance(granted, str) or not granted_scope_covers(self.config.scope, granted):
            raise FhirError("scope")
        margin = min(self.config.refresh_margin, expires_in / 2)
        return access_token, now + expires_in - margin

    def _discover_token_endpoint(self) -> str:
        if self._token_endpoint is None:
            url = f"{self._base_url}/.well-known/smart-configuration"
            data = self._call("GET", url, reason="discovery")
            endpoint = data.get("token_endpoint")
            if not isinstance(endpoint, str) or not endpoint.startswith("https://"):
                raise FhirError("discovery")
            self._token_endpoint = endpoint
        return self._token_endpoint

    def _call(
        self, method: str, url: str, *, reason: str, data: dict[str, str] | None = None
    ) -> dict[str, Any]:
        # One attempt only: a failed token request is retried by the caller's
        # next sync, not hammered here.
        deadline = time.monotonic() + 2 * self._read_timeout
        headers = {"Accept": "application/json"}
        try:
            with self._http.stream(method, url, data=data, headers=headers) as response:
                if response.status_code != 200:
                    raise FhirError(reason, status=response.status_code)
                body = read_body(
                    response,
                    limit=MAX_AUTH_RESPONSE_BYTES,
                    deadline=deadline,
                    clock=time.monotonic,
                )
        except httpx.TimeoutException:
            raise FhirError("timeout") from None
        except httpx.TransportError:
            raise FhirError("connection") from None
        return parse_json(body)
