"""The one exception type of the FHIR client.

Messages carry a short reason code (and an HTTP status at most), never a URL,
a query or a response body: those can name a patient, and errors end up in
logs and audit rows.
"""


class FhirError(Exception):
    def __init__(self, reason: str, *, status: int | None = None) -> None:
        self.reason = reason
        self.status = status
        super().__init__(reason if status is None else f"{reason} (HTTP {status})")


class InvalidResource(FhirError):
    """A resource that fails validation; the sync quarantines it and goes on."""
