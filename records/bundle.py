"""The patient's record as a FHIR R4 Bundle (type collection) of the resources as sent.

Resources are written back exactly as stored: decimals keep their digits
(``Decimal("7.10")`` is written 7.10, see portal.crypto.fields), nothing is
re-mapped. A resource that cannot be decrypted is left out (it cannot be
read) and counted in the bundle's ``meta.tag`` so the omission is visible.
"""

import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import simplejson
from django.utils import timezone

from portal.crypto.values import Undecryptable


def bundle_chunks(resources: Iterable[tuple[str, str, Any]]) -> Iterator[str]:
    """The Bundle's JSON text, a resource at a time (the response streams it)."""
    now = timezone.now().isoformat(timespec="seconds")
    yield (
        '{"resourceType":"Bundle","id":"' + str(uuid.uuid4()) + '","type":"collection",'
        '"timestamp":"' + now + '","entry":['
    )
    first, omitted = True, 0
    for _type, _id, resource in resources:
        if isinstance(resource, Undecryptable):
            omitted += 1
            continue
        text = simplejson.dumps(
            {"resource": resource}, use_decimal=True, ensure_ascii=False, separators=(",", ":")
        )
        yield text if first else "," + text
        first = False
    meta = (
        ',"meta":{"tag":[{"system":"urn:carebridge:download","code":"omitted-unreadable",'
        f'"display":"{omitted} unreadable resources left out"}}]}}'
        if omitted
        else ""
    )
    yield "]" + meta + "}"
