"""SMART backend services: the fake EHR verifies our signed assertion for real."""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from joserfc import jwk, jwt
from joserfc.errors import JoseError

from portal.fhir import FhirError, SmartConfig
from portal.fhir.auth import ASSERTION_TYPE
from tests.fake_ehr import Clock, Reply, bundle, observation

CLIENT_ID = "carebridge-portal"
SCOPE = "system/Patient.rs system/Observation.rs"


@dataclass
class TokenServer:
    """The EHR's token endpoint: it holds only our public key."""

    public_key: jwk.Key
    algorithm: str
    token_url: str
    granted_scope: str = SCOPE
    expires_in: int = 300
    now: Callable[[], float] = time.time
    issued: list[str] = field(default_factory=list)
    assertions: list[dict] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    def token(self, body: bytes) -> Reply:
        form = {key: values[0] for key, values in parse_qs(body.decode()).items()}
        try:
            claims = self.verify(form)
        except (JoseError, ValueError, KeyError) as error:
            self.refusals.append(type(error).__name__)
            return Reply(400, body={"error": "invalid_client"})
        self.assertions.append(claims)
        access_token = f"token-{len(self.issued) + 1}"
        self.issued.append(access_token)
        return Reply(
            body={
                "access_token": access_token,
                "token_type": "bearer",
                "expires_in": self.expires_in,
                "scope": self.granted_scope,
            }
        )

    def verify(self, form: dict[str, str]) -> dict:
        if form["grant_type"] != "client_credentials":
            raise ValueError("grant_type")
        if form["client_assertion_type"] != ASSERTION_TYPE:
            raise ValueError("client_assertion_type")
        if form["scope"] != SCOPE:
            raise ValueError("scope")
        token = jwt.decode(form["client_assertion"], self.public_key, algorithms=[self.algorithm])
        if token.header.get("kid") != "portal-key-1":
            raise ValueError("kid")
        jwt.JWTClaimsRegistry(
            now=lambda: int(self.now()),
            iss={"essential": True, "value": CLIENT_ID},
            sub={"essential": True, "value": CLIENT_ID},
            aud={"essential": True, "value": self.token_url},
            exp={"essential": True},
            jti={"essential": True},
        ).validate(token.claims)
        if token.claims["exp"] > self.now() + 300:
            raise ValueError("exp too far")
        return token.claims


def write_key(tmp_path, algorithm: str) -> tuple:
    if algorithm == "ES384":
        private = ec.generate_private_key(ec.SECP384R1())
    else:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp_path.mkdir(parents=True, exist_ok=True)
    key_file = tmp_path / "portal-key.pem"
    key_file.write_bytes(pem)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public = jwk.import_key(public_pem, "EC" if algorithm == "ES384" else "RSA")
    return key_file, public


def smart_ehr(ehr, tmp_path, algorithm="ES384", **token_options):
    key_file, public = write_key(tmp_path, algorithm)
    tokens = TokenServer(public, algorithm, ehr.url("auth/token"), **token_options)
    accepted = set()

    def app(request):
        if request.path == "/fhir/.well-known/smart-configuration":
            return Reply(
                body={
                    "token_endpoint": tokens.token_url,
                    "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                }
            )
        if request.path == "/fhir/auth/token" and request.method == "POST":
            reply = tokens.token(request.body)
            accepted.update(tokens.issued[-1:])
            return reply
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in accepted:
            return Reply(401, body={"resourceType": "OperationOutcome"})
        return Reply(body=bundle([observation(1)]))

    ehr.app = app
    smart = SmartConfig(
        client_id=CLIENT_ID,
        private_key_file=key_file,
        key_id="portal-key-1",
        scope=SCOPE,
        algorithm=algorithm,
    )
    return smart, tokens, accepted


@pytest.mark.parametrize("algorithm", ["ES384", "RS384"])
def test_it_gets_a_token_with_a_signed_assertion(ehr, fhir_client_for, tmp_path, algorithm):
    smart, tokens, _ = smart_ehr(ehr, tmp_path, algorithm)

    found = list(fhir_client_for(ehr, smart=smart).search("Observation", {}))

    assert len(found) == 1
    assert tokens.refusals == []
    [claims] = tokens.assertions
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == tokens.token_url
    assert 0 < claims["exp"] - time.time() <= 300
    assert ehr.requests[-1].headers["authorization"] == "Bearer token-1"


def test_it_reuses_the_cached_token(ehr, fhir_client_for, tmp_path):
    smart, tokens, _ = smart_ehr(ehr, tmp_path)
    client = fhir_client_for(ehr, smart=smart)

    for _ in range(3):
        assert len(list(client.search("Observation", {}))) == 1

    assert tokens.issued == ["token-1"]
    assert ehr.paths().count("/fhir/.well-known/smart-configuration") == 1


def test_it_renews_the_token_a_minute_before_it_expires(ehr, fhir_client_for, tmp_path):
    clock = Clock(time.time())
    smart, tokens, _ = smart_ehr(ehr, tmp_path, expires_in=300, now=clock)
    client = fhir_client_for(ehr, smart=smart, wall_clock=clock)

    list(client.search("Observation", {}))
    clock.advance(239)
    list(client.search("Observation", {}))
    assert tokens.issued == ["token-1"]

    clock.advance(2)
    list(client.search("Observation", {}))
    assert tokens.issued == ["token-1", "token-2"]


def test_it_refreshes_the_token_once_on_401(ehr, fhir_client_for, tmp_path):
    smart, tokens, accepted = smart_ehr(ehr, tmp_path)
    client = fhir_client_for(ehr, smart=smart)
    list(client.search("Observation", {}))

    accepted.clear()  # the EHR revokes the token early
    assert len(list(client.search("Observation", {}))) == 1

    assert tokens.issued == ["token-1", "token-2"]


def test_it_gives_up_when_the_fresh_token_is_refused_too(ehr, fhir_client_for, tmp_path):
    smart, tokens, _ = smart_ehr(ehr, tmp_path)
    inner = ehr.app

    def never_accepting(request):
        if request.path == "/fhir/Observation":
            return Reply(401)
        return inner(request)

    ehr.app = never_accepting

    with pytest.raises(FhirError) as caught:
        list(fhir_client_for(ehr, smart=smart).search("Observation", {}))
    assert (caught.value.reason, caught.value.status) == ("unauthorized", 401)
    assert len(tokens.issued) == 2
    assert ehr.paths().count("/fhir/Observation") == 2


def test_it_refuses_a_narrower_granted_scope(ehr, fhir_client_for, tmp_path):
    smart, _, _ = smart_ehr(ehr, tmp_path, granted_scope="system/Patient.rs")

    with pytest.raises(FhirError, match="scope"):
        list(fhir_client_for(ehr, smart=smart).search("Observation", {}))
    assert "/fhir/Observation" not in ehr.paths()


def test_it_accepts_a_broader_granted_scope(ehr, fhir_client_for, tmp_path):
    smart, _, _ = smart_ehr(ehr, tmp_path, granted_scope=SCOPE + " system/Condition.rs")

    assert len(list(fhir_client_for(ehr, smart=smart).search("Observation", {}))) == 1


def test_it_is_refused_with_an_unknown_key(ehr, fhir_client_for, tmp_path):
    smart, tokens, _ = smart_ehr(ehr, tmp_path)
    tokens.public_key = write_key(tmp_path / "stranger", "ES384")[1]

    with pytest.raises(FhirError) as caught:
        list(fhir_client_for(ehr, smart=smart).search("Observation", {}))
    assert (caught.value.reason, caught.value.status) == ("token", 400)
    assert tokens.refusals == ["BadSignatureError"]


def test_it_refuses_a_key_of_the_wrong_type(tmp_path):
    from portal.fhir.auth import load_signing_key

    key_file, _ = write_key(tmp_path, "RS384")
    config = SmartConfig(
        client_id=CLIENT_ID, private_key_file=key_file, key_id="k", scope=SCOPE, algorithm="ES384"
    )
    with pytest.raises(FhirError, match="private_key"):
        load_signing_key(config)
