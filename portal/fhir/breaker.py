"""A circuit breaker, so that a sick EHR is not hammered by every sync job."""

from collections.abc import Callable

from portal.fhir.errors import FhirError


class CircuitBreaker:
    """Closed, then open after `threshold` consecutive failures.

    While open, calls fail fast for `cooldown` seconds; after that one probe
    call goes through (half-open): its success closes the breaker, its
    failure opens it for another cool-down.
    """

    def __init__(self, *, threshold: int, cooldown: float, clock: Callable[[], float]) -> None:
        self.threshold = threshold
        self.cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def is_open(self) -> bool:
        return self._opened_at is not None

    def before_call(self) -> None:
        if self._opened_at is None:
            return
        if self._probing or self._clock() - self._opened_at < self.cooldown:
            raise FhirError("circuit_open")
        self._probing = True

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self.threshold:
            self._opened_at = self._clock()
        self._probing = False
