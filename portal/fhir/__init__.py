"""The FHIR R4 side of the portal: SMART backend-services auth and the client.

Everything the EHR sends is untrusted input; the client bounds time, size,
pages and retries, and raises one exception type, `FhirError`.
"""

from portal.fhir.auth import BackendServicesAuth, SmartConfig
from portal.fhir.client import FhirClient, FhirConfig
from portal.fhir.errors import FhirError, InvalidResource
from portal.fhir.validation import validate

__all__ = [
    "BackendServicesAuth",
    "FhirClient",
    "FhirConfig",
    "FhirError",
    "InvalidResource",
    "SmartConfig",
    "validate",
]
