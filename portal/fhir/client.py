"""A FHIR R4 client over HTTPS that a hostile or broken server cannot stall.

Every search ends within bounded time and memory: timeouts per request, a
size cap per response, a page cap per search, at most three retries, and a
circuit breaker across searches. Failures raise `FhirError` with a reason code.
"""

import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import httpx
import simplejson

from portal.fhir.auth import BackendServicesAuth, SmartConfig
from portal.fhir.breaker import CircuitBreaker
from portal.fhir.errors import FhirError
from portal.fhir.transport import make_http_client, parse_json, read_body
from portal.fhir.validation import validate

__all__ = ["FhirClient", "FhirConfig", "validate"]

_system_random = random.SystemRandom()
# Resource type names are also path segments and module names; nothing else passes.
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
_RESOURCE_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def full_jitter(ceiling: float) -> float:
    return _system_random.uniform(0, ceiling)


@dataclass(frozen=True)
class FhirConfig:
    base_url: str
    ca_bundle: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    # Whole request, body included; see transport.read_body.
    total_timeout: float = 60.0
    max_response_bytes: int = 10 * 1024 * 1024
    max_pages: int = 50
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_cap: float = 10.0
    retry_after_cap: float = 30.0
    breaker_threshold: int = 5
    breaker_cooldown: float = 60.0


class _Retryable(Exception):
    """One failed attempt that a later attempt may fix."""

    def __init__(self, reason: str, *, status: int | None = None, wait: float | None = None):
        self.error = FhirError(reason, status=status)
        self.wait = wait


class FhirClient:
    def __init__(
        self,
        config: FhirConfig,
        *,
        smart: SmartConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float], float] = full_jitter,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not config.base_url.startswith("https://"):
            raise FhirError("config")
        self.config = config
        self._base = httpx.URL(config.base_url.rstrip("/") + "/")
        self._clock = clock
        self._sleep = sleep
        self._jitter = jitter
        self._http = make_http_client(
            ca_bundle=config.ca_bundle,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
        )
        self.breaker = CircuitBreaker(
            threshold=config.breaker_threshold, cooldown=config.breaker_cooldown, clock=clock
        )
        self.auth = (
            BackendServicesAuth(
                smart,
                base_url=config.base_url,
                http=self._http,
                read_timeout=config.read_timeout,
                clock=wall_clock,
            )
            if smart
            else None
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def search(self, resource_type: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Yield each entry's resource, page after page, as plain JSON dicts."""
        if not _RESOURCE_TYPE.fullmatch(resource_type):
            raise FhirError("config")
        url: httpx.URL | None = self._base.join(resource_type).copy_merge_params(params)
        fetched: set[str] = set()
        while url is not None:
            if len(fetched) >= self.config.max_pages:
                raise FhirError("page_limit")
            fetched.add(str(url))
            bundle = self._get_bundle(url)
            yield from _entry_resources(bundle)
            url = self._next_url(bundle, fetched)

    def put(self, resource: dict[str, Any]) -> dict[str, Any]:
        """Create or update one resource at its own id (PUT): the server's stored copy.

        PUT, not POST: a write the job queue repeats after a lost answer lands on
        the same id instead of making a second resource. Validated (R4B) before it
        leaves; the same retries, breaker and token handling as reads.
        """
        resource_type, resource_id = resource.get("resourceType"), resource.get("id")
        if not isinstance(resource_type, str) or not _RESOURCE_TYPE.fullmatch(resource_type):
            raise FhirError("config")
        if not isinstance(resource_id, str) or not _RESOURCE_ID.fullmatch(resource_id):
            raise FhirError("config")
        validate(resource)
        url = self._base.join(f"{resource_type}/{resource_id}")
        body = self._send(url, "PUT", simplejson.dumps(resource, use_decimal=True).encode())
        try:
            data = parse_json(body) if body else {}
            if data and data.get("resourceType") != resource_type:
                raise FhirError("wrong_type")
        except FhirError:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return data

    def _next_url(self, bundle: dict[str, Any], fetched: set[str]) -> httpx.URL | None:
        links = bundle.get("link") or []
        hrefs = [
            link.get("url")
            for link in links
            if isinstance(link, dict) and link.get("relation") == "next"
        ]
        if not hrefs:
            return None
        if not isinstance(hrefs[0], str):
            raise FhirError("bad_next")
        url = self._base.join(hrefs[0])
        # The bearer token goes with every page; a next link elsewhere would
        # hand it (and the patient's query) to another host.
        if (url.scheme, url.host, url.port) != (
            self._base.scheme,
            self._base.host,
            self._base.port,
        ):
            raise FhirError("next_foreign_host")
        if str(url) in fetched:
            raise FhirError("next_loop")
        return url

    def _get_bundle(self, url: httpx.URL) -> dict[str, Any]:
        body = self._get(url)
        # A server that answers garbage is as sick as one that answers 500.
        try:
            data = parse_json(body)
            if data.get("resourceType") != "Bundle":
                raise FhirError("wrong_type")
        except FhirError:
            self.breaker.record_failure()
            raise
        self.breaker.record_success()
        return data

    def _get(self, url: httpx.URL) -> bytes:
        return self._send(url, "GET")

    def _send(self, url: httpx.URL, method: str, content: bytes | None = None) -> bytes:
        refreshed = False
        retries = 0
        while True:
            self.breaker.before_call()
            try:
                status, body = self._attempt(url, method, content)
            except _Retryable as failure:
                self.breaker.record_failure()
                if retries >= self.config.max_retries:
                    raise failure.error from None
                self._sleep(self._backoff(retries, failure.wait))
                retries += 1
                continue
            except FhirError:
                self.breaker.record_failure()
                raise
            if status == 200 or (method == "PUT" and status == 201):
                return body
            # A refusal still shows the server is up (and ends a half-open probe).
            self.breaker.record_success()
            if status == 401 and self.auth is not None and not refreshed:
                # The token may have been revoked early; one fresh token,
                # and no more, tells that apart from being refused.
                self.auth.invalidate()
                refreshed = True
                continue
            raise FhirError("unauthorized" if status == 401 else "http_status", status=status)
            return body

    def _attempt(
        self, url: httpx.URL, method: str = "GET", content: bytes | None = None
    ) -> tuple[int, bytes]:
        headers = {"Accept": "application/fhir+json"}
        if content is not None:
            headers["Content-Type"] = "application/fhir+json"
        if self.auth is not None:
            headers["Authorization"] = f"Bearer {self.auth.token()}"
        deadline = self._clock() + self.config.total_timeout
        try:
            with self._http.stream(method, url, headers=headers, content=content) as response:
                status = response.status_code
                if status == 429 or status >= 500:
                    reason = "rate_limited" if status == 429 else "server_error"
                    wait = _retry_after(response.headers.get("Retry-After"))
                    raise _Retryable(reason, status=status, wait=wait)
                if status not in (200, 201):
                    return status, b""
                body = read_body(
                    response,
                    limit=self.config.max_response_bytes,
                    deadline=deadline,
                    clock=self._clock,
                )
                return status, body
        except httpx.TimeoutException:
            raise _Retryable("timeout") from None
        except httpx.TransportError:
            raise _Retryable("connection") from None
        except httpx.HTTPError:
            raise FhirError("protocol") from None

    def _backoff(self, retries: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.config.retry_after_cap)
        ceiling = min(self.config.backoff_cap, self.config.backoff_base * 2**retries)
        return self._jitter(ceiling)


def _retry_after(value: str | None) -> float | None:
    # Only the delta-seconds form; an HTTP date falls back to our own backoff.
    if value is not None and value.strip().isdigit():
        return float(value.strip())
    return None


def _entry_resources(bundle: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The matches of one search page.

    Entries with ``search.mode = outcome`` are the server's remarks about the
    search (an OperationOutcome, e.g. "parameter ignored"), not results.
    """
    entries = bundle.get("entry") or []
    if not isinstance(entries, list):
        raise FhirError("bad_bundle")
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        search = entry.get("search")
        if isinstance(search, dict) and search.get("mode") == "outcome":
            continue
        resource = entry.get("resource")
        if isinstance(resource, dict):
            yield resource
